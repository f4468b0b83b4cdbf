//! `tether tag …`: list, create, show, move and delete tags, account-wide or of a repository.

use serde_json::{Value, json};
use tether_router::Router;
use tether_vers::{TagEntry, TagRef, VersClient, VersError};
use tether_wire::UpdateTagRequest;

use super::Ctx;
use crate::cli::{TagCommand, TagCreateArgs, TagLsArgs};
use crate::output::table;
use crate::report::CliError;

/// Runs a `tether tag` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: TagCommand) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vers = router.vers();
    match command {
        TagCommand::Ls(args) => list(ctx, vers, args).await,
        TagCommand::Create(args) => create(ctx, &router, args).await,
        TagCommand::Show(args) => {
            let tag = vers.resolve_tag(&parse_tag(&args.tag)?).await?;
            ctx.out.print(&entry_text(&tag), &tag_json(&tag))
        }
        TagCommand::Move(args) => {
            let reference = changeable(parse_tag(&args.tag)?)?;
            let tag = move_to(&router, &reference, &args.commit).await?;
            ctx.out.print(&tag.commit_id, &tag_json(&tag))
        }
        TagCommand::Rm(args) => {
            let reference = changeable(parse_tag(&args.tag)?)?;
            vers.delete_tag_ref(&reference).await?;
            let name = reference.to_string();
            ctx.out.print(&name, &json!({ "deleted": name }))
        }
    }
}

/// `reference`, if the account may change it: not a tag of another organisation's repository.
pub(crate) fn changeable(reference: TagRef) -> anyhow::Result<TagRef> {
    match reference {
        TagRef::Repo { org: Some(_), .. } => Err(VersError::ForeignTag {
            reference: reference.to_string(),
        }
        .into()),
        own => Ok(own),
    }
}

/// `name`, `repo:tag` or `org/repo:tag`, or a usage error that says how to write it.
pub(crate) fn parse_tag(text: &str) -> anyhow::Result<TagRef> {
    text.parse::<TagRef>()
        .map_err(|err| CliError::usage(err.to_string()))
}

async fn list(ctx: &Ctx, vers: &VersClient, args: TagLsArgs) -> anyhow::Result<()> {
    let tags = match (args.repo, args.all) {
        (Some(repo), _) => repo_tags(vers, &repo).await?,
        (None, all) => {
            let mut tags: Vec<TagEntry> = vers
                .list_tags()
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            if all {
                for repo in vers.list_repos().await? {
                    tags.extend(repo_tags(vers, &repo.name).await?);
                }
            }
            tags
        }
    };
    if tags.is_empty() && !ctx.out.json {
        eprintln!("tether: no tags; make one with `tether tag create NAME COMMIT`");
        return Ok(());
    }
    ctx.out.print(&tags_table(&tags), &tags_value(&tags))
}

/// The tags of `repo` (`repo`, or `org/repo` for a public repository).
pub(crate) async fn repo_tags(vers: &VersClient, repo: &str) -> anyhow::Result<Vec<TagEntry>> {
    let list = match repo.split_once('/') {
        Some((org, name)) => vers.list_public_repo_tags(org, name).await?,
        None => vers.list_repo_tags(repo).await?,
    };
    Ok(list.tags.into_iter().map(Into::into).collect())
}

async fn create(ctx: &Ctx, router: &Router, args: TagCreateArgs) -> anyhow::Result<()> {
    let reference = changeable(parse_tag(&args.tag)?)?;
    let commit_id = router.resolve_commit(&args.commit).await?;
    let tag = router
        .vers()
        .create_tag_ref(&reference, &commit_id, args.description)
        .await?;
    ctx.out.print(&tag.reference, &tag_json(&tag))
}

/// Points `reference` at the commit `commit` names; returns the tag as it now is.
pub(crate) async fn move_to(
    router: &Router,
    reference: &TagRef,
    commit: &str,
) -> anyhow::Result<TagEntry> {
    let commit_id = router.resolve_commit(commit).await?;
    let update = UpdateTagRequest {
        commit_id: Some(commit_id),
        description: None,
    };
    router.vers().update_tag_ref(reference, &update).await?;
    Ok(router.vers().resolve_tag(reference).await?)
}

/// A tag as JSON.
pub(crate) fn tag_json(tag: &TagEntry) -> Value {
    json!({
        "reference": tag.reference,
        "tag_id": tag.tag_id,
        "commit_id": tag.commit_id,
        "created_at": tag.created_at,
        "updated_at": tag.updated_at,
        "description": tag.description,
    })
}

/// Tags as a JSON array.
pub(crate) fn tags_value(tags: &[TagEntry]) -> Value {
    Value::Array(tags.iter().map(tag_json).collect())
}

/// Tags as a table: name, commit, when last moved, description.
pub(crate) fn tags_table(tags: &[TagEntry]) -> String {
    let mut rows = vec![
        ["TAG", "COMMIT", "UPDATED", "DESCRIPTION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for tag in tags {
        rows.push(vec![
            tag.reference.clone(),
            tag.commit_id.clone(),
            tag.updated_at.clone(),
            tag.description.clone().unwrap_or_default(),
        ]);
    }
    table(&rows)
}

fn entry_text(tag: &TagEntry) -> String {
    let rows = vec![
        vec!["tag".into(), tag.reference.clone()],
        vec!["commit_id".into(), tag.commit_id.clone()],
        vec!["tag_id".into(), tag.tag_id.clone()],
        vec!["created_at".into(), tag.created_at.clone()],
        vec!["updated_at".into(), tag.updated_at.clone()],
        vec![
            "description".into(),
            tag.description.clone().unwrap_or_else(|| "-".into()),
        ],
    ];
    table(&rows)
}
