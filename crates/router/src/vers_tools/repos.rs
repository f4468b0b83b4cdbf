//! `vm_repo`: repositories, private and public, their tags, and forks.

use serde_json::json;
use tether_vers::{TagEntry, TagRef};
use tether_wire::{CreateRepositoryRequest, ForkRequest};

use super::args::{RepoAction, VmRepoArgs};
use super::errors::{for_tools, usage};
use super::{ToolReply, needed, tag_ref, tags};
use crate::{Router, RouterError};

/// `vm_repo`.
pub(super) async fn vm_repo(router: &Router, args: VmRepoArgs) -> Result<ToolReply, RouterError> {
    let vers = router.vers();
    let name = |action: &str| needed(&args.name, "vm_repo", action, "name").cloned();
    let (text, details) = match args.action {
        RepoAction::List => return list(router).await,
        RepoAction::Public => return public(router).await,
        RepoAction::Tags => return repo_tags(router, &name("tags")?).await,
        RepoAction::Fork => return fork(router, &args, &name("fork")?).await,
        RepoAction::Create => {
            let name = name("create")?;
            let request = CreateRepositoryRequest {
                name: name.clone(),
                description: args.description.clone(),
            };
            let created = vers.create_repo(&request).await.map_err(for_tools)?;
            let text = format!(
                "Created private repository {name}. Tag commits into it as {name}:TAG (vm_commit tag, vm_tag create); vm_repo publish makes it public."
            );
            (text, json!({ "repo": name, "repoId": created.repo_id }))
        }
        RepoAction::Delete => {
            let name = name("delete")?;
            vers.delete_repo(&name).await.map_err(for_tools)?;
            let text = format!("Deleted repository {name} and its tags; their commits stay.");
            (text, json!({ "deleted": name }))
        }
        RepoAction::Publish | RepoAction::Unpublish => {
            let public = args.action == RepoAction::Publish;
            let name = name(if public { "publish" } else { "unpublish" })?;
            vers.set_repo_visibility(&name, public)
                .await
                .map_err(for_tools)?;
            let text = if public {
                format!(
                    "Repository {name} is public: every account can list it and branch from its tags (as ORG/{name}:TAG)."
                )
            } else {
                format!("Repository {name} is private: only this account sees it.")
            };
            (text, json!({ "repo": name, "isPublic": public }))
        }
    };
    Ok(ToolReply::new(text, details))
}

async fn list(router: &Router) -> Result<ToolReply, RouterError> {
    let repos = router.vers().list_repos().await.map_err(for_tools)?;
    let mut lines = vec![format!("{} repositor(ies) of this account", repos.len())];
    if repos.is_empty() {
        lines[0].push_str(". vm_repo action create makes one.");
    } else {
        lines[0].push(':');
    }
    for repo in &repos {
        let visibility = if repo.is_public { "public" } else { "private" };
        let description = repo.description.as_deref().map(|d| format!(": {d}"));
        lines.push(format!(
            "{} [{visibility}] created {}{}",
            repo.name,
            repo.created_at,
            description.unwrap_or_default()
        ));
    }
    let details = json!({ "repositories": repos.iter().map(|r| json!({
        "name": r.name, "repoId": r.repo_id, "isPublic": r.is_public,
        "createdAt": r.created_at, "description": r.description,
    })).collect::<Vec<_>>() });
    Ok(ToolReply::new(lines.join("\n"), details))
}

async fn public(router: &Router) -> Result<ToolReply, RouterError> {
    let repos = router.vers().list_public_repos().await.map_err(for_tools)?;
    let mut lines = vec![format!("{} public repositor(ies)", repos.len())];
    lines[0].push(if repos.is_empty() { '.' } else { ':' });
    for repo in &repos {
        let description = repo.description.as_deref().map(|d| format!(": {d}"));
        lines.push(format!(
            "{} created {}{}",
            repo.full_name,
            repo.created_at,
            description.unwrap_or_default()
        ));
    }
    let details = json!({ "repositories": repos.iter().map(|r| json!({
        "fullName": r.full_name, "org": r.org_name, "name": r.name,
        "createdAt": r.created_at, "description": r.description,
    })).collect::<Vec<_>>() });
    Ok(ToolReply::new(lines.join("\n"), details))
}

/// The tags of `repo` (`repo`, or `org/repo` for a public one).
pub(super) async fn repo_tags(router: &Router, repo: &str) -> Result<ToolReply, RouterError> {
    let vers = router.vers();
    let list = match repo.split_once('/') {
        Some((org, name)) => vers.list_public_repo_tags(org, name).await,
        None => vers.list_repo_tags(repo).await,
    }
    .map_err(for_tools)?;
    let entries: Vec<TagEntry> = list.tags.into_iter().map(TagEntry::from).collect();
    let title = format!("{} tag(s) in repository {}", entries.len(), list.repository);
    Ok(tags::listing(
        &title,
        &entries,
        "vm_commit with tag REPO:TAG or vm_tag create adds one.",
    ))
}

async fn fork(router: &Router, args: &VmRepoArgs, source: &str) -> Result<ToolReply, RouterError> {
    let TagRef::Repo {
        org: Some(org),
        repo,
        tag,
    } = tag_ref(source)?
    else {
        return Err(usage(format!(
            "vm_repo fork copies a public tag: write name as org/repo:tag, not {source:?} (vm_repo action public lists the public repositories)"
        )));
    };
    let request = ForkRequest {
        source_org: org,
        source_repo: repo,
        source_tag: tag,
        repo_name: args.repo_name.clone(),
        tag_name: args.tag_name.clone(),
    };
    let fork = router.vers().fork_repo(&request).await.map_err(for_tools)?;
    let text = format!(
        "Forked {source} into your tag {} (commit {}). VM {} was restored from it and is running; vm_branch or vm_restore with tag {} makes more.",
        fork.reference, fork.commit_id, fork.vm_id, fork.reference
    );
    let details = json!({
        "source": source, "tag": fork.reference, "repo": fork.repo_name,
        "commitId": fork.commit_id, "vmId": fork.vm_id,
    });
    Ok(ToolReply::new(text, details))
}
