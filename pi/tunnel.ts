// The vm_tunnel tool for pi: a port of a VM on 127.0.0.1 here, for a preview URL. It runs in the
// sidecar (`vm/tunnel`, wire spec: crates/serve/README.md), which runs tether's own
// implementation (`tether_router::vm_tunnel`, as `tether mcp` does); tunnels live as long as the
// sidecar (this pi session). Its description and argument schema mirror VM_TUNNEL and
// VmTunnelArgs in crates/router/src/tunnel/tool.rs; the pi end-to-end tests check they match.
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";

type Json = any;

// ---- description: crates/router/src/tunnel/tool.rs (VM_TUNNEL) ------------------------------
const DESCRIPTION =
	"Forward a port of a VM to 127.0.0.1 on this machine, for a preview URL: start a server in the VM (e.g. with bg_start), then give the person the returned http://127.0.0.1:<port> to open in a browser here. Listens on 127.0.0.1 only; stays open until this session ends, vm_tunnel with close: true, or the VM is deleted. Opening the same VM, host and port again returns the existing tunnel.";

// ---- arguments: VmTunnelArgs in crates/router/src/tunnel/tool.rs, camelCase -----------------
const TunnelArgs = Type.Object({
	vmId: Type.Optional(Type.String({ description: "The VM: its full id, or a unique prefix of it (default: the active VM)." })),
	port: Type.Integer({ description: "The port the server listens on in the VM." }),
	host: Type.Optional(Type.String({ description: "The host as the VM sees it (default localhost, the VM itself)." })),
	localPort: Type.Optional(Type.Integer({ description: "The port on 127.0.0.1 here (default: a free one)." })),
	close: Type.Optional(Type.Boolean({ description: "Close this tunnel instead of opening it." })),
});

export function registerTunnelTool(pi: ExtensionAPI, call: (method: string, params?: Json) => Promise<Json>): void {
	pi.registerTool({
		name: "vm_tunnel",
		label: "Forward VM port",
		description: DESCRIPTION,
		promptSnippet: "Forward a VM port to a local URL (preview a dev server)",
		parameters: TunnelArgs,
		executionMode: "sequential",
		async execute(_id, p: Json) {
			const r = await call("vm/tunnel", p);
			return { content: [{ type: "text" as const, text: r.text as string }], details: r.details };
		},
	});
}
