// Test helper loaded beside the tether package: `/test-reload` does what `/reload` does in
// pi's terminal UI (RPC mode has no /reload).
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";

export default function helper(pi: ExtensionAPI) {
	pi.registerCommand("test-reload", {
		description: "reload extensions (test helper)",
		handler: async (_args, ctx) => {
			await ctx.reload();
		},
	});
}
