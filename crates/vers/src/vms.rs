//! VM endpoints: list, create, restore, branch, status, metadata, SSH key, state, delete.

use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;

use tether_wire::{
    BranchQuery, LabelsRequest, NewRootQuery, NewRootRequest, NewVmResponse, RequestedState,
    ResizeDiskRequest, SshKeyResponse, StateRequest, Vm, VmConfig, VmMetadata,
};

use crate::client::{Call, LIFECYCLE_TIMEOUT};
use crate::reply::Subject;
use crate::{Named, TagRef, VersClient, VersError, shapes};

/// What to branch from: the five branch routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchSource {
    /// `POST /vm/{id}/branch`: the server decides whether `id` is a VM or a commit.
    Any(String),
    /// `POST /vm/branch/by_vm/{id}`.
    Vm(String),
    /// `POST /vm/branch/by_commit/{id}`.
    Commit(String),
    /// `POST /vm/branch/by_tag/{name}` for an account-wide tag, `POST
    /// /vm/branch/by_ref/{repo}/{tag}` for a repository's: the commit the tag points at now.
    Tag(TagRef),
}

impl BranchSource {
    fn call(&self) -> Call {
        match self {
            BranchSource::Any(id) => {
                let subject = Subject::Source(id.clone());
                Call::new(Method::POST, &["vm", id, "branch"], subject)
            }
            BranchSource::Vm(id) => {
                let subject = Subject::Vm(id.clone());
                Call::new(Method::POST, &["vm", "branch", "by_vm", id], subject)
            }
            BranchSource::Commit(id) => {
                let subject = Subject::Commit(id.clone());
                Call::new(Method::POST, &["vm", "branch", "by_commit", id], subject)
            }
            BranchSource::Tag(reference) => {
                let subject = Subject::Named(reference.named());
                match (reference, reference.repo_path()) {
                    (TagRef::Tag(name), _) => {
                        Call::new(Method::POST, &["vm", "branch", "by_tag", name], subject)
                    }
                    (TagRef::Repo { tag, .. }, repo) => {
                        let repo = repo.unwrap_or_default();
                        let segments = ["vm", "branch", "by_ref", &repo, tag];
                        Call::new(Method::POST, &segments, subject)
                    }
                }
            }
        }
    }
}

impl VersClient {
    /// `GET /vms`: every VM the key can see.
    pub async fn list_vms(&self) -> Result<Vec<Vm>, VersError> {
        let call = Call::new(Method::GET, &["vms"], Subject::Account);
        let value = self.value(call.clone()).await?;
        shapes::vms(value).map_err(|reason| call.bad_reply(reason))
    }

    /// `POST /vm/new_root`: a new VM with `config`; with `wait_boot` the reply comes once it
    /// has booted. Returns the new VM's id.
    pub async fn new_root(&self, config: VmConfig, wait_boot: bool) -> Result<String, VersError> {
        let body = NewRootRequest { vm_config: config };
        let query = NewRootQuery {
            wait_boot: wait_boot.then_some(true),
        };
        let call = Call::new(Method::POST, &["vm", "new_root"], Subject::Account)
            .query(&query)
            .body(&body)?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        Ok(self.json::<NewVmResponse>(call).await?.vm_id)
    }

    /// `POST /vm/from_commit`: a new VM restored from `commit_id`. Returns its id.
    pub async fn from_commit(&self, commit_id: &str) -> Result<String, VersError> {
        let subject = Subject::Commit(commit_id.to_owned());
        let call = Call::new(Method::POST, &["vm", "from_commit"], subject)
            .body(&json!({ "commit_id": commit_id }))?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        Ok(self.json::<NewVmResponse>(call).await?.vm_id)
    }

    /// `POST /vm/from_commit` with `tag_name` or `ref`: a new VM restored from the commit the
    /// tag points at now. Returns its id.
    pub async fn from_tag(&self, reference: &TagRef) -> Result<String, VersError> {
        let body = match reference.repo_path() {
            None => json!({ "tag_name": reference.tag_name() }),
            Some(repo) => json!({ "ref": format!("{repo}:{}", reference.tag_name()) }),
        };
        let subject = Subject::Named(reference.named());
        let call = Call::new(Method::POST, &["vm", "from_commit"], subject)
            .body(&body)?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        Ok(self.json::<NewVmResponse>(call).await?.vm_id)
    }

    /// Branches `source` (`count` VMs, `keep_paused` for the parent as `query` says).
    /// Returns the new VMs' ids, in the order the API gave them.
    pub async fn branch(
        &self,
        source: &BranchSource,
        query: BranchQuery,
    ) -> Result<Vec<String>, VersError> {
        let call = source
            .call()
            .query(&query)
            .body(&json!({}))?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        let value = self.value(call.clone()).await?;
        shapes::branch_ids(&value).map_err(|reason| call.bad_reply(reason))
    }

    /// `GET /vm/{id}/status`.
    pub async fn status(&self, vm_id: &str) -> Result<Vm, VersError> {
        let call = vm_call(Method::GET, vm_id, "status");
        let value = self.value(call.clone()).await?;
        shapes::vm(value).map_err(|reason| call.bad_reply(reason))
    }

    /// `GET /vm/{id}/metadata`: lineage and address.
    pub async fn metadata(&self, vm_id: &str) -> Result<VmMetadata, VersError> {
        let call = vm_call(Method::GET, vm_id, "metadata");
        let value = self.value(call.clone()).await?;
        shapes::metadata(value).map_err(|reason| call.bad_reply(reason))
    }

    /// `GET /vm/{id}/ssh_key`: the VM's private key (a secret: keep it in memory).
    pub async fn ssh_key(&self, vm_id: &str) -> Result<SshKeyResponse, VersError> {
        self.json(vm_call(Method::GET, vm_id, "ssh_key")).await
    }

    /// `PATCH /vm/{id}/state`: pause or resume.
    pub async fn set_state(&self, vm_id: &str, state: RequestedState) -> Result<(), VersError> {
        let call = vm_call(Method::PATCH, vm_id, "state")
            .body(&StateRequest { state })?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        self.value(call).await.map(drop)
    }

    /// `PATCH /vm/{id}/label`: sets `labels` on the VM, keeping its others.
    pub async fn set_labels(
        &self,
        vm_id: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), VersError> {
        let call = vm_call(Method::PATCH, vm_id, "label").body(&LabelsRequest { labels })?;
        self.value(call).await.map(drop)
    }

    /// `PUT /vm/{id}/labels`: makes `labels` the VM's only labels.
    pub async fn replace_labels(
        &self,
        vm_id: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), VersError> {
        let call = vm_call(Method::PUT, vm_id, "labels").body(&LabelsRequest { labels })?;
        self.value(call).await.map(drop)
    }

    /// `DELETE /vm/{id}/label/{name}`.
    pub async fn remove_label(&self, vm_id: &str, name: &str) -> Result<(), VersError> {
        let subject = Subject::Named(Named::Label {
            vm_id: vm_id.to_owned(),
            name: name.to_owned(),
        });
        let call = Call::new(Method::DELETE, &["vm", vm_id, "label", name], subject);
        self.value(call).await.map(drop)
    }

    /// `PATCH /vm/{id}/disk`: grows the VM's disk to `fs_size_mib` (a shrink is refused).
    pub async fn resize_disk(&self, vm_id: &str, fs_size_mib: u32) -> Result<(), VersError> {
        let call = vm_call(Method::PATCH, vm_id, "disk")
            .body(&ResizeDiskRequest { fs_size_mib })?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        self.value(call).await.map(drop)
    }

    /// `DELETE /vm/{id}`. Returns the ids the API says it deleted.
    pub async fn delete_vm(&self, vm_id: &str) -> Result<Vec<String>, VersError> {
        let call = Call::new(
            Method::DELETE,
            &["vm", vm_id],
            Subject::Vm(vm_id.to_owned()),
        )
        .timeout(Some(LIFECYCLE_TIMEOUT));
        let value = self.value(call.clone()).await?;
        shapes::deleted_ids(&value, vm_id).map_err(|reason| call.bad_reply(reason))
    }
}

/// A call to `/vm/{vm_id}/{action}` about that VM.
pub(crate) fn vm_call(method: Method, vm_id: &str, action: &str) -> Call {
    Call::new(
        method,
        &["vm", vm_id, action],
        Subject::Vm(vm_id.to_owned()),
    )
}
