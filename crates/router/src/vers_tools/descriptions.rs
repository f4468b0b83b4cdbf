//! What the model reads about each shared VM tool (both front ends advertise these words).

/// `vm_list`.
pub const VM_LIST: &str = "List the VMs: full id, state, creation time and labels; marks the active one. With labels, only the VMs that carry all of them.";
/// `vm_commit`.
pub const VM_COMMIT: &str = "Snapshot a VM's disk as a commit; returns the commit id. With tag, the commit is also tagged: a new tag is created, an existing one of that name is moved to this commit (a repo:tag in a missing repository creates the repository). vm_restore or vm_branch with the tag makes VMs from it.";
/// `vm_branch`.
pub const VM_BRANCH: &str = "Branch a VM: new VMs that are copies of it. With tag instead of vmId, new VMs from the commit the tag points at now (name, repo:tag, or org/repo:tag of a public repository). Returns their full ids.";
/// `vm_restore`.
pub const VM_RESTORE: &str = "Create a new VM from a commit (commitId), or from the commit a tag points at now (tag: name, repo:tag or org/repo:tag); returns its full id.";
/// `vm_tag`.
pub const VM_TAG: &str = "Commit tags, names that point at a commit and can be moved. action list (the account's tags, or a repository's with tag: repo or org/repo), show, create (tag and commitId), move (point tag at commitId), delete (the commit stays). Tags are written name, repo:tag, or org/repo:tag (another organisation's public repository: show and branch only).";
/// `vm_repo`.
pub const VM_REPO: &str = "Repositories group tags and are private or public (every account can list a public one and branch from its tags). action list (yours), public (everyone's public ones), create, delete, publish, unpublish, tags (a repository's tags; name repo or org/repo), fork (copy the public tag name org/repo:tag into your account, with a VM restored from it).";
/// `vm_label`.
pub const VM_LABEL: &str = "Label a VM to find it later (vm_list with labels filters by them). action set (add or change labels, keep the others), remove (one label by name), replace (these become the only labels).";
/// `vm_logs`.
pub const VM_LOGS: &str = "Read a VM's exec log: the output of the commands run through the Vers API (vm_exec with detach: true), by exec id and stream, in order, from a byte offset (the result says which offset continues).";
/// `vm_attach`.
pub const VM_ATTACH: &str = "Rejoin a command started with vm_exec detach: true, by its exec id: returns its output from the start (or after cursor) and its exit code once it has finished, waiting up to wait seconds. If it is still running, the result gives the cursor to continue from.";
/// `vm_disk`.
pub const VM_DISK: &str =
    "Grow a VM's disk to sizeMib MiB (disks only grow; a smaller size is refused).";
/// `vm_env`.
pub const VM_ENV: &str = "The account's environment variables, put into every VM created from now on; running VMs keep what they started with. action list, set (vars; replace: true drops the others), delete (key).";
