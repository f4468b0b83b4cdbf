//! `vm_commit` (with a tag made or moved), `vm_branch` and `vm_restore` (from a VM or commit,
//! or from what a tag points at now).

use serde_json::json;
use tether_vers::{BranchSource, TagRef, VersError};
use tether_wire::{
    BranchQuery, CommitQuery, CommitRequest, CreateRepositoryRequest, UpdateTagRequest,
};

use super::args::{VmBranchArgs, VmCommitArgs, VmRestoreArgs};
use super::errors::{for_tools, usage};
use super::{ToolReply, tag_ref, vm_or_active};
use crate::{Router, RouterError};

/// `vm_commit`: a snapshot of a VM's disk, tagged if asked.
pub(super) async fn vm_commit(
    router: &Router,
    args: VmCommitArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let reference = args.tag.as_deref().map(tag_ref).transpose()?;
    if let Some(TagRef::Repo { org: Some(_), .. }) = &reference {
        return Err(for_tools(VersError::ForeignTag {
            reference: reference.map(|r| r.to_string()).unwrap_or_default(),
        }));
    }
    let vm_id = vm_or_active(router, args.vm_id.as_deref(), active).await?;
    let query = CommitQuery {
        keep_paused: args.keep_paused.filter(|keep| *keep),
        skip_wait_boot: None,
    };
    let request = CommitRequest {
        commit_id: None,
        name: args.name,
        description: args.description.clone(),
    };
    let commit_id = router
        .vers()
        .commit(&vm_id, query, &request)
        .await
        .map_err(for_tools)?;
    if args.keep_paused == Some(true) {
        router.forget(&vm_id).await;
    }
    let mut text = format!("VM {vm_id} committed: {commit_id}");
    let mut details = json!({ "vmId": vm_id, "commitId": commit_id });
    if let Some(reference) = &reference {
        let moved_from = point_tag(router, reference, &commit_id).await?;
        text.push_str(&match &moved_from {
            Some(old) => format!("\nMoved tag {reference} to it (it pointed at {old})."),
            None => format!("\nTagged it {reference} (a new tag)."),
        });
        details["tag"] = json!(reference.to_string());
        details["previousCommitId"] = json!(moved_from);
    }
    text.push_str("\nvm_restore or vm_branch with the commit id");
    text.push_str(if reference.is_some() {
        " or the tag"
    } else {
        ""
    });
    text.push_str(" makes new VMs from it.");
    Ok(ToolReply::new(text, details))
}

/// Points the tag `reference` at `commit_id`: moves it if it exists (returning the commit it
/// pointed at), creates it otherwise (with its repository, if that is missing too).
async fn point_tag(
    router: &Router,
    reference: &TagRef,
    commit_id: &str,
) -> Result<Option<String>, RouterError> {
    let vers = router.vers();
    match vers.resolve_tag(reference).await {
        Ok(existing) => {
            let update = UpdateTagRequest {
                commit_id: Some(commit_id.to_owned()),
                description: None,
            };
            vers.update_tag_ref(reference, &update)
                .await
                .map_err(for_tools)?;
            return Ok(Some(existing.commit_id));
        }
        Err(VersError::NotFound { .. }) => {}
        Err(err) => return Err(for_tools(err)),
    }
    match vers.create_tag_ref(reference, commit_id, None).await {
        Ok(_) => Ok(None),
        Err(VersError::NotFound { .. }) if reference.repo_path().is_some() => {
            let repo = reference.repo_path().unwrap_or_default();
            let request = CreateRepositoryRequest {
                name: repo,
                description: None,
            };
            vers.create_repo(&request).await.map_err(for_tools)?;
            vers.create_tag_ref(reference, commit_id, None)
                .await
                .map_err(for_tools)?;
            Ok(None)
        }
        Err(err) => Err(for_tools(err)),
    }
}

/// `vm_branch`: copies of a VM, or VMs from what a tag points at.
pub(super) async fn vm_branch(
    router: &Router,
    args: VmBranchArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let query = BranchQuery {
        count: Some(args.count.unwrap_or(1)),
        keep_paused: None,
        skip_wait_boot: None,
    };
    let (source, from, mut details) = match (&args.vm_id, &args.tag) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "vm_branch takes vmId or tag, not both; pass one of them",
            ));
        }
        (None, Some(tag)) => {
            let reference = tag_ref(tag)?;
            let from = format!("tag {reference}");
            let details = json!({ "tag": reference.to_string() });
            (BranchSource::Tag(reference), from, details)
        }
        (vm, None) => {
            let vm_id = vm_or_active(router, vm.as_deref(), active).await?;
            let details = json!({ "sourceVmId": vm_id });
            (
                BranchSource::Vm(vm_id.clone()),
                format!("VM {vm_id}"),
                details,
            )
        }
    };
    let ids = router
        .vers()
        .branch(&source, query)
        .await
        .map_err(for_tools)?;
    let text = format!(
        "Branched {from} into {} new VM(s):\n{}",
        ids.len(),
        ids.join("\n")
    );
    details["vmIds"] = json!(ids);
    Ok(ToolReply::new(text, details))
}

/// `vm_restore`: a new VM from a commit, or from what a tag points at.
pub(super) async fn vm_restore(
    router: &Router,
    args: VmRestoreArgs,
) -> Result<ToolReply, RouterError> {
    match (&args.commit_id, &args.tag) {
        (Some(query), None) => {
            let commit_id = router.resolve_commit(query).await?;
            let vm_id = router
                .vers()
                .from_commit(&commit_id)
                .await
                .map_err(for_tools)?;
            let text = format!("Restored commit {commit_id} into new VM {vm_id}");
            Ok(ToolReply::new(
                text,
                json!({ "commitId": commit_id, "vmId": vm_id }),
            ))
        }
        (None, Some(tag)) => {
            let reference = tag_ref(tag)?;
            let vm_id = router
                .vers()
                .from_tag(&reference)
                .await
                .map_err(for_tools)?;
            let text = format!("Restored tag {reference} into new VM {vm_id}");
            let details = json!({ "tag": reference.to_string(), "vmId": vm_id });
            Ok(ToolReply::new(text, details))
        }
        (Some(_), Some(_)) => Err(usage(
            "vm_restore takes commitId or tag, not both; pass one of them",
        )),
        (None, None) => Err(usage(
            "vm_restore needs commitId (what vm_commit returned) or tag (vm_tag action list shows the tags)",
        )),
    }
}
