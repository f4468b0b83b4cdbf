//! Commit endpoints: snapshot a VM, list commits, delete one.

use reqwest::Method;
use tether_wire::{CommitList, CommitQuery, CommitRequest, CommitResponse, ListCommitsQuery};

use crate::client::{Call, LIFECYCLE_TIMEOUT};
use crate::reply::Subject;
use crate::vms::vm_call;
use crate::{VersClient, VersError, shapes};

impl VersClient {
    /// `POST /vm/{id}/commit`: a durable snapshot of the VM's disk, named as `request` says;
    /// the VM stays paused afterwards if `query.keep_paused`. Returns the commit's id.
    pub async fn commit(
        &self,
        vm_id: &str,
        query: CommitQuery,
        request: &CommitRequest,
    ) -> Result<String, VersError> {
        let call = vm_call(Method::POST, vm_id, "commit")
            .query(&query)
            .body(request)?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        Ok(self.json::<CommitResponse>(call).await?.commit_id)
    }

    /// `GET /commits`: one page of the account's commits.
    pub async fn list_commits(&self, query: ListCommitsQuery) -> Result<CommitList, VersError> {
        let call = Call::new(Method::GET, &["commits"], Subject::Account).query(&query);
        let value = self.value(call.clone()).await?;
        shapes::commit_list(value, query).map_err(|reason| call.bad_reply(reason))
    }

    /// `DELETE /commits/{id}` (refused while VMs still descend from it).
    pub async fn delete_commit(&self, commit_id: &str) -> Result<(), VersError> {
        let subject = Subject::Commit(commit_id.to_owned());
        let call = Call::new(Method::DELETE, &["commits", commit_id], subject)
            .timeout(Some(LIFECYCLE_TIMEOUT));
        self.value(call).await.map(drop)
    }
}
