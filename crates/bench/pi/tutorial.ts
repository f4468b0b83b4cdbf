// The baseline for the bench's pi-path figure: the design of the Vers tutorial's extension
// (docs.vers.sh/tutorials/pi-extensions) — vm_use, and bash routed to the active VM by
// fetching its key over the API, writing it 0600 and running `ssh` with an `openssl s_client`
// ProxyCommand on every call. The addresses come from the environment so it runs against
// `tether sim`: VERS_URL, VERS_API_KEY, TETHER_VM_DOMAIN and TETHER_SSH_GATEWAY.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";

export default function tutorialDesign(pi: ExtensionAPI) {
	const env = (name: string) => process.env[name] ?? "";
	let active: string | undefined;

	async function keyFile(vm: string): Promise<string> {
		const res = await fetch(`${env("VERS_URL")}/api/v1/vm/${vm}/ssh_key`, {
			headers: { Authorization: `Bearer ${env("VERS_API_KEY")}` },
		});
		if (!res.ok) throw new Error(`Vers API ${res.status}: ${await res.text()}`);
		const body = (await res.json()) as { ssh_private_key: string };
		const file = join(tmpdir(), `tether-bench-tutorial-${vm.slice(0, 12)}.pem`);
		await writeFile(file, body.ssh_private_key, { mode: 0o600 });
		return file;
	}

	function ssh(key: string, vm: string, command: string): Promise<string> {
		const proxy = `ProxyCommand=openssl s_client -connect ${env("TETHER_SSH_GATEWAY")} -servername %h -quiet 2>/dev/null`;
		const argv = ["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
		argv.push("-o", "LogLevel=ERROR", "-o", proxy, `root@${vm}.${env("TETHER_VM_DOMAIN")}`, command);
		return new Promise((resolve, reject) => {
			execFile("ssh", argv, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
		});
	}

	pi.registerTool({
		name: "vm_use",
		label: "Use VM",
		description: "Route all bash commands to this VM.",
		parameters: Type.Object({ vmId: Type.String({ description: "VM ID" }) }),
		async execute(_id, params: { vmId: string }) {
			active = params.vmId;
			return { content: [{ type: "text", text: `Routing to ${active}` }], details: {} };
		},
	});

	pi.registerTool({
		name: "bash",
		label: "bash",
		description: "Execute a bash command on the active VM.",
		parameters: Type.Object({ command: Type.String({ description: "Command to execute" }) }),
		async execute(_id, params: { command: string }) {
			if (!active) throw new Error("no VM in use: call vm_use first");
			const out = await ssh(await keyFile(active), active, params.command);
			return { content: [{ type: "text", text: out || "(no output)" }], details: {} };
		},
	});
}
