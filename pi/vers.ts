// The VM tools that need only the Vers API, for pi: vm_list, vm_commit, vm_branch, vm_restore,
// vm_tag, vm_repo, vm_label, vm_logs, vm_attach, vm_disk and vm_env run in the sidecar
// (`vers/call`, wire spec: crates/serve/README.md), which runs tether's own implementation
// (`tether_router::vers_tools`, as `tether mcp` does), with the active VM as the default VM.
// Descriptions and argument schemas mirror crates/router/src/vers_tools/descriptions.rs and
// args.rs; the pi end-to-end tests check they match.
import type { ExtensionAPI } from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";

type Json = any;

// ---- descriptions: crates/router/src/vers_tools/descriptions.rs ------------------------------
const DESCRIPTIONS: Record<string, string> = {
	vm_list: "List the VMs: full id, state, creation time and labels; marks the active one. With labels, only the VMs that carry all of them.",
	vm_commit: "Snapshot a VM's disk as a commit; returns the commit id. With tag, the commit is also tagged: a new tag is created, an existing one of that name is moved to this commit (a repo:tag in a missing repository creates the repository). vm_restore or vm_branch with the tag makes VMs from it.",
	vm_branch: "Branch a VM: new VMs that are copies of it. With tag instead of vmId, new VMs from the commit the tag points at now (name, repo:tag, or org/repo:tag of a public repository). Returns their full ids.",
	vm_restore: "Create a new VM from a commit (commitId), or from the commit a tag points at now (tag: name, repo:tag or org/repo:tag); returns its full id.",
	vm_tag: "Commit tags, names that point at a commit and can be moved. action list (the account's tags, or a repository's with tag: repo or org/repo), show, create (tag and commitId), move (point tag at commitId), delete (the commit stays). Tags are written name, repo:tag, or org/repo:tag (another organisation's public repository: show and branch only).",
	vm_repo: "Repositories group tags and are private or public (every account can list a public one and branch from its tags). action list (yours), public (everyone's public ones), create, delete, publish, unpublish, tags (a repository's tags; name repo or org/repo), fork (copy the public tag name org/repo:tag into your account, with a VM restored from it).",
	vm_label: "Label a VM to find it later (vm_list with labels filters by them). action set (add or change labels, keep the others), remove (one label by name), replace (these become the only labels).",
	vm_logs: "Read a VM's exec log: the output of the commands run through the Vers API (vm_exec with detach: true), by exec id and stream, in order, from a byte offset (the result says which offset continues).",
	vm_attach: "Rejoin a command started with vm_exec detach: true, by its exec id: returns its output from the start (or after cursor) and its exit code once it has finished, waiting up to wait seconds. If it is still running, the result gives the cursor to continue from.",
	vm_disk: "Grow a VM's disk to sizeMib MiB (disks only grow; a smaller size is refused).",
	vm_env: "The account's environment variables, put into every VM created from now on; running VMs keep what they started with. action list, set (vars; replace: true drops the others), delete (key).",
};

// ---- arguments: crates/router/src/vers_tools/args.rs, camelCase ------------------------------
const ARGS: Record<string, Json> = {
	vm_attach: Type.Object({
		cursor: Type.Optional(Type.Integer({ minimum: 0, description: "Continue after this cursor (the `cursor` the previous vm_attach returned); default: the run's output from its start." })),
		execId: Type.String({ description: "The run's id, as `vm_exec` with `detach: true` returned it." }),
		vmId: Type.Optional(Type.String({ description: "The VM the command runs on: its full id, or a unique prefix of it (default: the active VM)." })),
		wait: Type.Optional(Type.Number({ description: "Wait up to this many seconds (default 10, at most 300) for the command to finish; what arrived by then is returned with a cursor to continue from." })),
	}),
	vm_branch: Type.Object({
		count: Type.Optional(Type.Integer({ minimum: 0, description: "How many copies to make (default 1)." })),
		tag: Type.Optional(Type.String({ description: "Branch from the commit a tag points at now instead of a VM: `name`, `repo:tag` or `org/repo:tag` (another organisation's public repository)." })),
		vmId: Type.Optional(Type.String({ description: "The VM to copy: its full id, or a unique prefix of it (default: the active VM, unless a tag is given)." })),
	}),
	vm_commit: Type.Object({
		description: Type.Optional(Type.String({ description: "A description of the commit." })),
		keepPaused: Type.Optional(Type.Boolean({ description: "Leave the VM paused afterwards." })),
		name: Type.Optional(Type.String({ description: "A name for the commit." })),
		tag: Type.Optional(Type.String({ description: "Tag the commit: `name` (account-wide) or `repo:tag` (the repository is made if missing). An existing tag of that name is moved to the new commit." })),
		vmId: Type.Optional(Type.String({ description: "The VM to snapshot: its full id, or a unique prefix of it (default: the active VM)." })),
	}),
	vm_disk: Type.Object({
		sizeMib: Type.Integer({ minimum: 0, description: "The new disk size in MiB; it must be larger than the current size (disks only grow)." }),
		vmId: Type.Optional(Type.String({ description: "The VM: its full id, or a unique prefix of it (default: the active VM)." })),
	}),
	vm_env: Type.Object({
		action: Type.Union([Type.Literal("list"), Type.Literal("set"), Type.Literal("delete")], { description: "`list`, `set` or `delete`." }),
		key: Type.Optional(Type.String({ description: "The variable to remove (delete)." })),
		replace: Type.Optional(Type.Boolean({ description: "With set: make these the only variables, removing the others." })),
		vars: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "The variables to set (set), e.g. {\"RUST_LOG\": \"debug\"}." })),
	}),
	vm_label: Type.Object({
		action: Type.Union([Type.Literal("set"), Type.Literal("remove"), Type.Literal("replace")], { description: "`set`, `remove` or `replace`." }),
		labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "The labels (set, replace), e.g. {\"task\": \"build\"}." })),
		name: Type.Optional(Type.String({ description: "The label to remove (remove)." })),
		vmId: Type.Optional(Type.String({ description: "The VM: its full id, or a unique prefix of it (default: the active VM)." })),
	}),
	vm_list: Type.Object({
		labels: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Only VMs that carry every one of these labels, e.g. {\"task\": \"build\"}." })),
	}),
	vm_logs: Type.Object({
		maxEntries: Type.Optional(Type.Integer({ minimum: 0, description: "At most this many chunks (default 100)." })),
		offset: Type.Optional(Type.Integer({ minimum: 0, description: "Byte offset into the VM's exec log to read from (the `next offset` of the previous vm_logs call; default 0, the start)." })),
		vmId: Type.Optional(Type.String({ description: "The VM: its full id, or a unique prefix of it (default: the active VM)." })),
	}),
	vm_repo: Type.Object({
		action: Type.Union([Type.Literal("list"), Type.Literal("public"), Type.Literal("create"), Type.Literal("delete"), Type.Literal("publish"), Type.Literal("unpublish"), Type.Literal("fork"), Type.Literal("tags")], { description: "`list`, `public`, `create`, `delete`, `publish`, `unpublish`, `fork` or `tags`." }),
		description: Type.Optional(Type.String({ description: "A description of the new repository (create)." })),
		name: Type.Optional(Type.String({ description: "The repository: `repo` (yours) or `org/repo` (a public one, for tags); for fork, the public tag to copy as `org/repo:tag`." })),
		repoName: Type.Optional(Type.String({ description: "The repository to fork into (default: the source's name; made if missing)." })),
		tagName: Type.Optional(Type.String({ description: "The tag's name in the fork (default: the source tag's)." })),
	}),
	vm_restore: Type.Object({
		commitId: Type.Optional(Type.String({ description: "The commit: its full id, or a unique prefix of it." })),
		tag: Type.Optional(Type.String({ description: "Restore the commit a tag points at now instead: `name`, `repo:tag` or `org/repo:tag`." })),
	}),
	vm_tag: Type.Object({
		action: Type.Union([Type.Literal("list"), Type.Literal("show"), Type.Literal("create"), Type.Literal("move"), Type.Literal("delete")], { description: "`list`, `show`, `create`, `move` or `delete`." }),
		commitId: Type.Optional(Type.String({ description: "The commit to point at (create, move): its full id, or a unique prefix of it." })),
		description: Type.Optional(Type.String({ description: "A description of the tag (create, move)." })),
		tag: Type.Optional(Type.String({ description: "The tag: `name`, `repo:tag` or `org/repo:tag` (show only); for list, a repository (`repo` or `org/repo`) whose tags to list instead of the account's." })),
	}),
};

// ---- labels and prompt snippets ------------------------------------------------------------
const LABELS: Record<string, [string, string]> = {
	vm_list: ["List VMs", "List Vers VMs (filter by labels)"],
	vm_commit: ["Commit VM", "Commit (snapshot) a Vers VM, optionally tagged"],
	vm_branch: ["Branch VM", "Branch a Vers VM, or a tag, into new VMs"],
	vm_restore: ["Restore VM", "Restore a Vers commit or tag into a new VM"],
	vm_tag: ["Commit tags", "List, create, move or delete commit tags"],
	vm_repo: ["Repositories", "Manage repositories of tags (private, public, fork)"],
	vm_label: ["Label VM", "Set or remove a VM's labels"],
	vm_logs: ["VM exec log", "Read a VM's exec log"],
	vm_attach: ["Rejoin exec", "Rejoin a detached vm_exec run for its output and exit code"],
	vm_disk: ["Grow VM disk", "Grow a VM's disk"],
	vm_env: ["Environment variables", "Environment variables for new VMs"],
};

/** Runs a shared VM tool in the sidecar: `{text, details}`. */
export type VersCall = (tool: string, args: Json) => Promise<{ text: string; details: Json }>;

export function registerVersTools(pi: ExtensionAPI, call: (method: string, params?: Json) => Promise<Json>): VersCall {
	const vers: VersCall = (tool, args) => call("vers/call", { tool, args });
	for (const name of Object.keys(DESCRIPTIONS)) {
		const [label, promptSnippet] = LABELS[name];
		pi.registerTool({
			name,
			label,
			description: DESCRIPTIONS[name],
			promptSnippet,
			parameters: ARGS[name],
			async execute(_id, p: Json) {
				const r = await vers(name, p);
				return { content: [{ type: "text" as const, text: r.text }], details: r.details ?? undefined };
			},
		});
	}
	return vers;
}
