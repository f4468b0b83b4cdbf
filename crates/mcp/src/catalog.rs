//! The tools this server offers: names, descriptions, input schemas, hints.

use std::sync::Arc;

use rmcp::handler::server::tool::schema_for_input;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde_json::json;
use tether_router::{VM_TUNNEL, VmTunnelArgs};
use tether_swarm::tools as swarm;
use tether_tools::args::{
    BashArgs, BgListArgs, BgLogsArgs, BgStartArgs, BgStopArgs, EditArgs, FindArgs, GrepArgs,
    LsArgs, ReadArgs, WriteArgs,
};
use tether_tools::descriptions as tools;

use tether_router::vers_tools::args::{
    VmAttachArgs, VmBranchArgs, VmCommitArgs, VmDiskArgs, VmEnvArgs, VmLabelArgs, VmListArgs,
    VmLogsArgs, VmRepoArgs, VmRestoreArgs, VmTagArgs,
};
use tether_router::vers_tools::descriptions as vers;

use crate::vm_args::{CreateVmArgs, NoArgs, VmArgs, VmCopyArgs, VmExecArgs, VmStateArgs};

/// What a tool does to its world, for the client's hints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Only looks.
    Reads,
    /// Changes things, nothing irreversibly.
    Changes,
    /// May destroy something.
    Destroys,
}

/// One tool.
struct Entry {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    schema: fn() -> Arc<JsonObject>,
    effect: Effect,
}

/// The input schema of `T` (an object schema; an empty object if it cannot be made).
fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_input::<T>().unwrap_or_else(|reason| {
        tracing::error!("no input schema: {reason}");
        let mut empty = JsonObject::new();
        empty.insert("type".into(), json!("object"));
        Arc::new(empty)
    })
}

const fn entry(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    schema: fn() -> Arc<JsonObject>,
    effect: Effect,
) -> Entry {
    Entry {
        name,
        title,
        description,
        schema,
        effect,
    }
}

const ENTRIES: [Entry; 37] = [
    entry(
        "create_vm",
        "Create VM",
        "Create a new Vers VM and wait for it to boot; returns its full id. Then vm_use it to run bash and the file tools there.",
        schema::<CreateVmArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_list",
        "List VMs",
        vers::VM_LIST,
        schema::<VmListArgs>,
        Effect::Reads,
    ),
    entry(
        "vm_use",
        "Use VM",
        "Route bash, read, edit, write, ls, find, grep and bg_* to this VM (full id or unique prefix). Use vm_local to switch back.",
        schema::<VmArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_local",
        "Use local",
        "Stop routing to a VM: bash and the file tools run on this machine again.",
        schema::<NoArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_exec",
        "Run on VM",
        "Run one bash command on a VM without switching to it (same output rules as bash). With detach: true it starts the command and returns its exec id at once; it keeps running, and vm_attach reads its output and exit code.",
        schema::<VmExecArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_branch",
        "Branch VM",
        vers::VM_BRANCH,
        schema::<VmBranchArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_commit",
        "Commit VM",
        vers::VM_COMMIT,
        schema::<VmCommitArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_restore",
        "Restore commit",
        vers::VM_RESTORE,
        schema::<VmRestoreArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_delete",
        "Delete VM",
        "Delete a VM. If it was the active VM, the tools run locally again.",
        schema::<VmArgs>,
        Effect::Destroys,
    ),
    entry(
        "vm_state",
        "Pause or resume VM",
        "Pause a VM (every process frozen) or resume it. A paused VM is also resumed when a tool uses it.",
        schema::<VmStateArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_copy",
        "Copy files",
        "Copy a file or directory tree between this machine and VMs, or VM to VM. VM paths are vm:<vmId>:<path> (vm::<path> for the active VM); other paths are on this machine.",
        schema::<VmCopyArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_tunnel",
        "Forward VM port",
        VM_TUNNEL,
        schema::<VmTunnelArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_tag",
        "Commit tags",
        vers::VM_TAG,
        schema::<VmTagArgs>,
        Effect::Destroys,
    ),
    entry(
        "vm_repo",
        "Repositories",
        vers::VM_REPO,
        schema::<VmRepoArgs>,
        Effect::Destroys,
    ),
    entry(
        "vm_label",
        "Label VM",
        vers::VM_LABEL,
        schema::<VmLabelArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_logs",
        "VM exec log",
        vers::VM_LOGS,
        schema::<VmLogsArgs>,
        Effect::Reads,
    ),
    entry(
        "vm_attach",
        "Rejoin exec",
        vers::VM_ATTACH,
        schema::<VmAttachArgs>,
        Effect::Reads,
    ),
    entry(
        "vm_disk",
        "Grow VM disk",
        vers::VM_DISK,
        schema::<VmDiskArgs>,
        Effect::Changes,
    ),
    entry(
        "vm_env",
        "Environment variables",
        vers::VM_ENV,
        schema::<VmEnvArgs>,
        Effect::Destroys,
    ),
    entry(
        "bash",
        "bash",
        tools::BASH,
        schema::<BashArgs>,
        Effect::Destroys,
    ),
    entry(
        "read",
        "read",
        tools::READ,
        schema::<ReadArgs>,
        Effect::Reads,
    ),
    entry(
        "edit",
        "edit",
        tools::EDIT,
        schema::<EditArgs>,
        Effect::Changes,
    ),
    entry(
        "write",
        "write",
        tools::WRITE,
        schema::<WriteArgs>,
        Effect::Destroys,
    ),
    entry("ls", "ls", tools::LS, schema::<LsArgs>, Effect::Reads),
    entry(
        "find",
        "find",
        tools::FIND,
        schema::<FindArgs>,
        Effect::Reads,
    ),
    entry(
        "grep",
        "grep",
        tools::GREP,
        schema::<GrepArgs>,
        Effect::Reads,
    ),
    entry(
        "bg_start",
        "Start background process",
        tools::BG_START,
        schema::<BgStartArgs>,
        Effect::Changes,
    ),
    entry(
        "bg_list",
        "List background processes",
        tools::BG_LIST,
        schema::<BgListArgs>,
        Effect::Reads,
    ),
    entry(
        "bg_logs",
        "Background process output",
        tools::BG_LOGS,
        schema::<BgLogsArgs>,
        Effect::Reads,
    ),
    entry(
        "bg_stop",
        "Stop background process",
        tools::BG_STOP,
        schema::<BgStopArgs>,
        Effect::Destroys,
    ),
    entry(
        "swarm_start",
        "Start swarm",
        swarm::START,
        schema::<swarm::StartArgs>,
        Effect::Changes,
    ),
    entry(
        "swarm_status",
        "Swarm status",
        swarm::STATUS,
        schema::<swarm::StatusArgs>,
        Effect::Reads,
    ),
    entry(
        "swarm_wait",
        "Wait for swarm",
        swarm::WAIT,
        schema::<swarm::WaitArgs>,
        Effect::Reads,
    ),
    entry(
        "swarm_read",
        "Read swarm worker output",
        swarm::READ,
        schema::<swarm::ReadArgs>,
        Effect::Reads,
    ),
    entry(
        "swarm_send",
        "Send swarm agents a message",
        swarm::SEND,
        schema::<swarm::SendArgs>,
        Effect::Changes,
    ),
    entry(
        "swarm_keep",
        "Keep swarm workers",
        swarm::KEEP,
        schema::<swarm::KeepArgs>,
        Effect::Destroys,
    ),
    entry(
        "swarm_stop",
        "Stop swarm",
        swarm::STOP,
        schema::<swarm::StopArgs>,
        Effect::Destroys,
    ),
];

/// Every tool, as `tools/list` gives them.
pub(crate) fn tools() -> Vec<Tool> {
    ENTRIES
        .iter()
        .map(|e| {
            let hints = ToolAnnotations::new()
                .read_only(e.effect == Effect::Reads)
                .destructive(e.effect == Effect::Destroys);
            Tool::new(e.name, e.description, (e.schema)())
                .with_title(e.title)
                .annotate(hints)
        })
        .collect()
}

/// The names of every tool.
pub(crate) fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}
