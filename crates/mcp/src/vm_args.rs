//! The VM tools' arguments (camelCase, `vmId` as in the tutorial), with JSON schemas.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

/// `create_vm`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVmArgs {
    /// vCPUs (default: the API's).
    #[serde(default)]
    pub vcpu_count: Option<u32>,
    /// Memory in MiB (default: the API's).
    #[serde(default)]
    pub mem_size_mib: Option<u32>,
    /// Disk size in MiB (default: the API's).
    #[serde(default)]
    pub fs_size_mib: Option<u32>,
    /// Labels to attach, e.g. {"task": "build"}.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Tools without arguments (`vm_local`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A VM.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmArgs {
    /// The VM: its full id, or a unique prefix of it.
    pub vm_id: String,
}

/// `vm_exec`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmExecArgs {
    /// The VM: its full id, or a unique prefix of it.
    pub vm_id: String,
    /// The bash command to run there (in its login directory).
    pub command: String,
    /// Timeout in seconds (no timeout when left out).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Start the command through the Vers API and return its exec id at once; it keeps
    /// running, and vm_attach (or vm_logs) reads its output and exit code.
    #[serde(default)]
    pub detach: Option<bool>,
}

/// A state `vm_state` can set (any letter case is accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum WantedState {
    /// Freeze every process of the VM.
    Paused,
    /// Let it run again.
    Running,
}

impl JsonSchema for WantedState {
    fn schema_name() -> Cow<'static, str> {
        "WantedState".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "enum": ["paused", "running"] })
    }
}

impl TryFrom<String> for WantedState {
    type Error = String;

    fn try_from(state: String) -> Result<WantedState, String> {
        match state.to_ascii_lowercase().as_str() {
            "paused" => Ok(WantedState::Paused),
            "running" => Ok(WantedState::Running),
            _ => Err(format!(
                "unknown state `{state}`, expected `paused` or `running`"
            )),
        }
    }
}

/// `vm_state`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmStateArgs {
    /// The VM: its full id, or a unique prefix of it.
    pub vm_id: String,
    /// `paused` or `running`.
    pub state: WantedState,
}

/// `vm_copy`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmCopyArgs {
    /// What to copy (a file or a directory): `vm:<vmId>:<path>` on a VM, `vm::<path>` on the
    /// active VM, anything else on this machine.
    pub src: String,
    /// Where to put it, written the same way; an existing directory receives it inside.
    pub dst: String,
}
