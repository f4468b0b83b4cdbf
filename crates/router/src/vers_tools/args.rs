//! The arguments of the shared VM tools (camelCase, as the model sends them), with JSON
//! schemas. Both front ends advertise exactly these.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// `vm_list`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmListArgs {
    /// Only VMs that carry every one of these labels, e.g. {"task": "build"}.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `vm_commit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmCommitArgs {
    /// The VM to snapshot: its full id, or a unique prefix of it (default: the active VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// A name for the commit.
    #[serde(default)]
    pub name: Option<String>,
    /// A description of the commit.
    #[serde(default)]
    pub description: Option<String>,
    /// Tag the commit: `name` (account-wide) or `repo:tag` (the repository is made if
    /// missing). An existing tag of that name is moved to the new commit.
    #[serde(default)]
    pub tag: Option<String>,
    /// Leave the VM paused afterwards.
    #[serde(default)]
    pub keep_paused: Option<bool>,
}

/// `vm_branch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmBranchArgs {
    /// The VM to copy: its full id, or a unique prefix of it (default: the active VM, unless a
    /// tag is given).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// Branch from the commit a tag points at now instead of a VM: `name`, `repo:tag` or
    /// `org/repo:tag` (another organisation's public repository).
    #[serde(default)]
    pub tag: Option<String>,
    /// How many copies to make (default 1).
    #[serde(default)]
    pub count: Option<u32>,
}

/// `vm_restore`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmRestoreArgs {
    /// The commit: its full id, or a unique prefix of it.
    #[serde(default)]
    pub commit_id: Option<String>,
    /// Restore the commit a tag points at now instead: `name`, `repo:tag` or `org/repo:tag`.
    #[serde(default)]
    pub tag: Option<String>,
}

/// What `vm_tag` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum TagAction {
    /// The account's tags, or one repository's.
    List,
    /// One tag and the commit it points at.
    Show,
    /// A new tag.
    Create,
    /// Point an existing tag at another commit.
    Move,
    /// Remove a tag (the commit stays).
    Delete,
}

/// `vm_tag`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmTagArgs {
    /// `list`, `show`, `create`, `move` or `delete`.
    pub action: TagAction,
    /// The tag: `name`, `repo:tag` or `org/repo:tag` (show only); for list, a repository
    /// (`repo` or `org/repo`) whose tags to list instead of the account's.
    #[serde(default)]
    pub tag: Option<String>,
    /// The commit to point at (create, move): its full id, or a unique prefix of it.
    #[serde(default)]
    pub commit_id: Option<String>,
    /// A description of the tag (create, move).
    #[serde(default)]
    pub description: Option<String>,
}

/// What `vm_repo` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum RepoAction {
    /// The account's repositories.
    List,
    /// Every organisation's public repositories.
    Public,
    /// A new private repository.
    Create,
    /// Remove a repository and its tags (their commits stay).
    Delete,
    /// Make a repository public: every account can list it and branch from its tags.
    Publish,
    /// Make a repository private again.
    Unpublish,
    /// Copy a public repository's tag into this account.
    Fork,
    /// A repository's tags.
    Tags,
}

/// `vm_repo`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmRepoArgs {
    /// `list`, `public`, `create`, `delete`, `publish`, `unpublish`, `fork` or `tags`.
    pub action: RepoAction,
    /// The repository: `repo` (yours) or `org/repo` (a public one, for tags); for fork, the
    /// public tag to copy as `org/repo:tag`.
    #[serde(default)]
    pub name: Option<String>,
    /// A description of the new repository (create).
    #[serde(default)]
    pub description: Option<String>,
    /// The repository to fork into (default: the source's name; made if missing).
    #[serde(default)]
    pub repo_name: Option<String>,
    /// The tag's name in the fork (default: the source tag's).
    #[serde(default)]
    pub tag_name: Option<String>,
}

/// What `vm_label` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum LabelAction {
    /// Add or change these labels, keeping the others.
    Set,
    /// Remove one label.
    Remove,
    /// Make these the VM's only labels.
    Replace,
}

/// `vm_label`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmLabelArgs {
    /// `set`, `remove` or `replace`.
    pub action: LabelAction,
    /// The VM: its full id, or a unique prefix of it (default: the active VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// The labels (set, replace), e.g. {"task": "build"}.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The label to remove (remove).
    #[serde(default)]
    pub name: Option<String>,
}

/// `vm_logs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmLogsArgs {
    /// The VM: its full id, or a unique prefix of it (default: the active VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// Byte offset into the VM's exec log to read from (the `next offset` of the previous
    /// vm_logs call; default 0, the start).
    #[serde(default)]
    pub offset: Option<u64>,
    /// At most this many chunks (default 100).
    #[serde(default)]
    pub max_entries: Option<u32>,
}

/// `vm_attach`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmAttachArgs {
    /// The VM the command runs on: its full id, or a unique prefix of it (default: the active
    /// VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// The run's id, as `vm_exec` with `detach: true` returned it.
    pub exec_id: String,
    /// Continue after this cursor (the `cursor` the previous vm_attach returned); default:
    /// the run's output from its start.
    #[serde(default)]
    pub cursor: Option<u64>,
    /// Wait up to this many seconds (default 10, at most 300) for the command to finish;
    /// what arrived by then is returned with a cursor to continue from.
    #[serde(default)]
    pub wait: Option<f64>,
}

/// `vm_disk`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmDiskArgs {
    /// The VM: its full id, or a unique prefix of it (default: the active VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// The new disk size in MiB; it must be larger than the current size (disks only grow).
    pub size_mib: u32,
}

/// What `vm_env` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum EnvAction {
    /// The account's variables.
    List,
    /// Add or change variables.
    Set,
    /// Remove one variable.
    Delete,
}

/// `vm_env`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmEnvArgs {
    /// `list`, `set` or `delete`.
    pub action: EnvAction,
    /// The variables to set (set), e.g. {"RUST_LOG": "debug"}.
    #[serde(default)]
    pub vars: Option<BTreeMap<String, String>>,
    /// With set: make these the only variables, removing the others.
    #[serde(default)]
    pub replace: Option<bool>,
    /// The variable to remove (delete).
    #[serde(default)]
    pub key: Option<String>,
}

/// `vm_exec` with `detach: true`: what the shared part of it needs.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmExecDetachArgs {
    /// The VM: its full id, or a unique prefix of it.
    pub vm_id: String,
    /// The bash command to run there (in its login directory).
    pub command: String,
    /// Timeout in seconds (no timeout when left out).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Must be true: start the command and return its exec id at once.
    pub detach: bool,
}
