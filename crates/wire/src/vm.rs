//! VMs: creation, listing, status, lineage, state changes, SSH access.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A VM as `GET /vms` and `GET /vm/{id}/status` return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vm {
    /// The VM's id (a UUID).
    pub vm_id: String,
    /// The owning account's id (a UUID).
    pub owner_id: String,
    /// When the VM was created (RFC 3339).
    pub created_at: String,
    /// Its current state.
    pub state: VmState,
    /// User labels (present in Vers's replies although the spec omits them).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The state of a VM, as read (lowercase on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VmState {
    /// Starting up; not yet usable.
    Booting,
    /// Running.
    Running,
    /// Every process frozen.
    Paused,
    /// Put to sleep by the provider (Vers only).
    Sleeping,
    /// Failed or gone.
    Dead,
}

/// `PATCH /vm/{id}/state` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRequest {
    /// The state wanted.
    pub state: RequestedState,
}

/// A state that can be requested (capitalised on the wire, unlike [`VmState`]).
///
/// The spec names `Paused` and `Running`; Vers's current SDK names `Sleeping` and `Running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestedState {
    /// Freeze every process.
    Paused,
    /// Put the VM to sleep (the simulator freezes it as for `Paused`, and reports `sleeping`).
    Sleeping,
    /// Thaw it, or wake it.
    Running,
}

/// Resources and image of a new VM (`vm_config`); every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmConfig {
    /// vCPUs for this VM and its children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_count: Option<u32>,
    /// RAM in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_size_mib: Option<u32>,
    /// Disk size in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_size_mib: Option<u32>,
    /// Base image; Vers accepts only `"default"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Kernel; Vers accepts only `"default.bin"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_name: Option<String>,
    /// User labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `POST /vm/new_root` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRootRequest {
    /// The new VM's configuration.
    pub vm_config: VmConfig,
}

/// `POST /vm/new_root` query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRootQuery {
    /// Reply only once the VM has booted (default: reply at once, state `booting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_boot: Option<bool>,
}

/// `POST /vm/from_commit` body: exactly one of the three sources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "FromCommitFields")]
pub enum FromCommitRequest {
    /// `{"commit_id": ...}`.
    CommitId {
        /// The commit to restore.
        commit_id: String,
    },
    /// `{"tag_name": ...}` (legacy org-scoped tag).
    TagName {
        /// The tag to restore.
        tag_name: String,
    },
    /// `{"ref": "repo:tag"}`.
    Ref {
        /// A repository reference `repo_name:tag_name`.
        #[serde(rename = "ref")]
        reference: String,
    },
}

/// The three optional fields a `from_commit` body may carry, checked into the enum.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FromCommitFields {
    commit_id: Option<String>,
    tag_name: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
}

impl TryFrom<FromCommitFields> for FromCommitRequest {
    type Error = String;

    fn try_from(fields: FromCommitFields) -> Result<Self, Self::Error> {
        match (fields.commit_id, fields.tag_name, fields.reference) {
            (Some(commit_id), None, None) => Ok(FromCommitRequest::CommitId { commit_id }),
            (None, Some(tag_name), None) => Ok(FromCommitRequest::TagName { tag_name }),
            (None, None, Some(reference)) => Ok(FromCommitRequest::Ref { reference }),
            _ => Err("give exactly one of `commit_id`, `tag_name` or `ref`".to_owned()),
        }
    }
}

/// The reply to a request that makes one VM (`new_root`, `from_commit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVmResponse {
    /// The new VM's id.
    pub vm_id: String,
}

/// The reply to a branch request: `{"vms": [{"vm_id": ...}, ...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchResponse {
    /// The new VMs.
    pub vms: Vec<NewVmResponse>,
}

/// Query of every branch form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchQuery {
    /// How many VMs to make (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Leave the parent VM paused afterwards (VM sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_paused: Option<bool>,
    /// Fail instead of waiting while the parent VM is booting (VM sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_wait_boot: Option<bool>,
}

/// `DELETE /vm/{id}` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteVmResponse {
    /// The deleted VM's id.
    pub vm_id: String,
}

/// `GET /vm/{id}/metadata` reply: the only place with lineage and address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMetadata {
    /// The VM's id.
    pub vm_id: String,
    /// The owning account's id.
    pub owner_id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was deleted, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// Its current state.
    pub state: VmState,
    /// Its IP address.
    pub ip: String,
    /// The commit it was started from, if any.
    #[serde(default)]
    pub parent_commit_id: Option<String>,
    /// The VM that commit was taken of, if any.
    #[serde(default)]
    pub grandparent_vm_id: Option<String>,
    /// vCPUs allocated at creation (in Vers's current replies; absent from older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_count: Option<u32>,
    /// RAM in MiB allocated at creation (in Vers's current replies; absent from older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_size_mib: Option<u32>,
    /// The VM's labels (the simulator adds them here as in listings; Vers's spec leaves them
    /// out of metadata, so a client must not rely on them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Body of `PATCH /vm/{id}/label` (labels upserted) and `PUT /vm/{id}/labels` (replaced).
///
/// `labels` is required on both: `{"labels": {}}` is a no-op for PATCH and clears every label
/// for PUT.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsRequest {
    /// The labels to set (PATCH: added or overwritten; PUT: all of them).
    pub labels: BTreeMap<String, String>,
}

/// Body of `PATCH /vm/{id}/disk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeDiskRequest {
    /// The new disk size in MiB; must be larger than the current one (disks only grow).
    pub fs_size_mib: u32,
}

/// Query of `PATCH /vm/{id}/state`, `/disk` and `DELETE /vm/{id}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitQuery {
    /// Fail instead of waiting while the VM is booting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_wait_boot: Option<bool>,
}

/// `GET /vm/{id}/ssh_key` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKeyResponse {
    /// A port for SSH. On Vers this is a legacy DNAT port (dial 443 on the VM's name instead);
    /// from the simulator it is the TLS gateway's port.
    pub ssh_port: u16,
    /// The VM's private key, OpenSSH format.
    pub ssh_private_key: String,
}
