//! Commit endpoints: snapshot a VM, list commits, delete one.

use reqwest::Method;
use tether_wire::{
    CommitEntity, CommitInfo, CommitList, CommitQuery, CommitRequest, CommitResponse,
    ListCommitsQuery, UpdateCommitRequest,
};

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

    /// `GET /commits/public`: one page of every account's public commits.
    pub async fn list_public_commits(
        &self,
        query: ListCommitsQuery,
    ) -> Result<CommitList, VersError> {
        let call = Call::new(Method::GET, &["commits", "public"], Subject::Account).query(&query);
        let value = self.value(call.clone()).await?;
        shapes::commit_list(value, query).map_err(|reason| call.bad_reply(reason))
    }

    /// `PATCH /commits/{id}`: sets whether the commit is public, and renames or re-describes
    /// it. Returns the commit as it now is.
    pub async fn update_commit(
        &self,
        commit_id: &str,
        update: &UpdateCommitRequest,
    ) -> Result<CommitInfo, VersError> {
        let subject = Subject::Commit(commit_id.to_owned());
        let call = Call::new(Method::PATCH, &["commits", commit_id], subject).body(update)?;
        self.json(call).await
    }

    /// `GET /vm/commits/{id}/parents`: the commit and its ancestors, newest first, following
    /// the lineage (commit → the VM it was taken of → the commit that VM came from → …).
    pub async fn commit_parents(&self, commit_id: &str) -> Result<Vec<CommitEntity>, VersError> {
        let subject = Subject::Commit(commit_id.to_owned());
        let call = Call::new(
            Method::GET,
            &["vm", "commits", commit_id, "parents"],
            subject,
        );
        self.json(call).await
    }
}
