//! `vm_tag`: list, show, create, move and delete commit tags.

use serde_json::json;
use tether_vers::{TagEntry, TagRef, VersError};
use tether_wire::UpdateTagRequest;

use super::args::{TagAction, VmTagArgs};
use super::errors::for_tools;
use super::{ToolReply, needed, repos, tag_ref};
use crate::{Router, RouterError};

/// `vm_tag`.
pub(super) async fn vm_tag(router: &Router, args: VmTagArgs) -> Result<ToolReply, RouterError> {
    let action = match args.action {
        TagAction::List => "list",
        TagAction::Show => "show",
        TagAction::Create => "create",
        TagAction::Move => "move",
        TagAction::Delete => "delete",
    };
    if args.action == TagAction::List {
        return match &args.tag {
            Some(repo) => repos::repo_tags(router, repo).await,
            None => list(router).await,
        };
    }
    let reference = tag_ref(needed(&args.tag, "vm_tag", action, "tag")?)?;
    if let (TagRef::Repo { org: Some(_), .. }, false) = (&reference, args.action == TagAction::Show)
    {
        return Err(for_tools(VersError::ForeignTag {
            reference: reference.to_string(),
        }));
    }
    let vers = router.vers();
    let commit = |what: &str| needed(&args.commit_id, "vm_tag", action, what).cloned();
    let (text, entry) = match args.action {
        TagAction::Show => (String::new(), vers.resolve_tag(&reference).await),
        TagAction::Create => {
            let commit_id = router.resolve_commit(&commit("commitId")?).await?;
            let entry = vers
                .create_tag_ref(&reference, &commit_id, args.description.clone())
                .await;
            ("Created ".to_owned(), entry)
        }
        TagAction::Move => {
            let commit_id = router.resolve_commit(&commit("commitId")?).await?;
            let old = vers.resolve_tag(&reference).await.map_err(for_tools)?;
            let update = UpdateTagRequest {
                commit_id: Some(commit_id),
                description: args.description.clone().map(Some),
            };
            vers.update_tag_ref(&reference, &update)
                .await
                .map_err(for_tools)?;
            let moved = format!("Moved (from commit {}) ", old.commit_id);
            (moved, vers.resolve_tag(&reference).await)
        }
        TagAction::Delete | TagAction::List => {
            let old = vers.resolve_tag(&reference).await.map_err(for_tools)?;
            vers.delete_tag_ref(&reference).await.map_err(for_tools)?;
            let text = format!(
                "Deleted tag {reference}; commit {} stays (vm_restore commitId still makes VMs from it).",
                old.commit_id
            );
            return Ok(ToolReply::new(
                text,
                json!({ "deleted": reference.to_string() }),
            ));
        }
    };
    let entry = entry.map_err(for_tools)?;
    let text = format!("{text}{}", line(&entry));
    Ok(ToolReply::new(text, entry_json(&entry)))
}

async fn list(router: &Router) -> Result<ToolReply, RouterError> {
    let tags: Vec<TagEntry> = router
        .vers()
        .list_tags()
        .await
        .map_err(for_tools)?
        .into_iter()
        .map(TagEntry::from)
        .collect();
    Ok(listing(
        &format!("{} account-wide tag(s)", tags.len()),
        &tags,
        "vm_repo action list shows the repositories, which hold more tags.",
    ))
}

/// A listing of tags under `title`, or `empty` when there are none.
pub(super) fn listing(title: &str, tags: &[TagEntry], empty: &str) -> ToolReply {
    let details = json!({ "tags": tags.iter().map(entry_json).collect::<Vec<_>>() });
    if tags.is_empty() {
        return ToolReply::new(format!("{title}. {empty}"), details);
    }
    let mut lines = vec![format!("{title}:")];
    lines.extend(tags.iter().map(line));
    ToolReply::new(lines.join("\n"), details)
}

/// `tag ref -> commit C (updated T): description`.
fn line(tag: &TagEntry) -> String {
    let description = match &tag.description {
        Some(text) if !text.is_empty() => format!(": {text}"),
        _ => String::new(),
    };
    format!(
        "tag {} -> commit {} (updated {}){description}",
        tag.reference, tag.commit_id, tag.updated_at
    )
}

fn entry_json(tag: &TagEntry) -> serde_json::Value {
    json!({
        "tag": tag.reference,
        "tagId": tag.tag_id,
        "commitId": tag.commit_id,
        "createdAt": tag.created_at,
        "updatedAt": tag.updated_at,
        "description": tag.description,
    })
}
