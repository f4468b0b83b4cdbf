//! `tether repo …`: the account's repositories, every organisation's public ones, forks.

use serde_json::json;
use tether_router::Progress;
use tether_vers::{TagRef, VersClient};
use tether_wire::{CreateRepositoryRequest, ForkRequest};

use super::Ctx;
use super::tags::{parse_tag, repo_tags, tags_table, tags_value};
use crate::cli::{RepoCommand, RepoForkArgs};
use crate::output::{table, yes_no};
use crate::report::CliError;

/// Runs a `tether repo` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: RepoCommand) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vers = router.vers();
    match command {
        RepoCommand::Ls => list(ctx, vers).await,
        RepoCommand::Create(args) => {
            let request = CreateRepositoryRequest {
                name: args.name,
                description: args.description,
            };
            let created = vers.create_repo(&request).await?;
            ctx.out
                .print(&created.name, &serde_json::to_value(&created)?)
        }
        RepoCommand::Show(args) => show(ctx, vers, &args.repo).await,
        RepoCommand::Rm(args) => {
            vers.delete_repo(&args.repo).await?;
            ctx.out.print(&args.repo, &json!({ "deleted": args.repo }))
        }
        RepoCommand::Publish(args) => visibility(ctx, vers, &args.repo, true).await,
        RepoCommand::Unpublish(args) => visibility(ctx, vers, &args.repo, false).await,
        RepoCommand::Tags(args) => {
            let tags = repo_tags(vers, &args.repo).await?;
            ctx.out.print(&tags_table(&tags), &tags_value(&tags))
        }
        RepoCommand::Public(args) => match args.repo {
            Some(repo) => show_public(ctx, vers, &repo).await,
            None => list_public(ctx, vers).await,
        },
        RepoCommand::Fork(args) => fork(ctx, vers, args).await,
    }
}

async fn list(ctx: &Ctx, vers: &VersClient) -> anyhow::Result<()> {
    let repos = vers.list_repos().await?;
    if repos.is_empty() && !ctx.out.json {
        eprintln!("tether: no repositories; make one with `tether repo create NAME`");
        return Ok(());
    }
    let mut rows = vec![
        ["REPOSITORY", "PUBLIC", "CREATED", "DESCRIPTION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for repo in &repos {
        rows.push(vec![
            repo.name.clone(),
            yes_no(repo.is_public),
            repo.created_at.clone(),
            repo.description.clone().unwrap_or_default(),
        ]);
    }
    ctx.out.print(&table(&rows), &serde_json::to_value(&repos)?)
}

async fn show(ctx: &Ctx, vers: &VersClient, name: &str) -> anyhow::Result<()> {
    let (repo, tags) = tokio::try_join!(
        async { Ok(vers.get_repo(name).await?) },
        repo_tags(vers, name)
    )?;
    let rows = vec![
        vec!["repository".into(), repo.name.clone()],
        vec!["repo_id".into(), repo.repo_id.clone()],
        vec!["public".into(), yes_no(repo.is_public)],
        vec!["created_at".into(), repo.created_at.clone()],
        vec![
            "description".into(),
            repo.description.clone().unwrap_or_else(|| "-".into()),
        ],
    ];
    let human = format!("{}\n{}", table(&rows), tags_table(&tags));
    let json = json!({ "repository": repo, "tags": tags_value(&tags) });
    ctx.out.print(&human, &json)
}

async fn visibility(
    ctx: &Ctx,
    vers: &VersClient,
    name: &str,
    is_public: bool,
) -> anyhow::Result<()> {
    vers.set_repo_visibility(name, is_public).await?;
    let repo = vers.get_repo(name).await?;
    ctx.out.print(&repo.name, &serde_json::to_value(&repo)?)
}

async fn list_public(ctx: &Ctx, vers: &VersClient) -> anyhow::Result<()> {
    let repos = vers.list_public_repos().await?;
    if repos.is_empty() && !ctx.out.json {
        eprintln!("tether: no public repositories");
        return Ok(());
    }
    let mut rows = vec![
        ["REPOSITORY", "CREATED", "DESCRIPTION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for repo in &repos {
        rows.push(vec![
            repo.full_name.clone(),
            repo.created_at.clone(),
            repo.description.clone().unwrap_or_default(),
        ]);
    }
    ctx.out.print(&table(&rows), &serde_json::to_value(&repos)?)
}

async fn show_public(ctx: &Ctx, vers: &VersClient, full_name: &str) -> anyhow::Result<()> {
    let Some((org, name)) = full_name.split_once('/') else {
        return Err(CliError::usage(format!(
            "{full_name:?} is not org/repo; list public repositories with `tether repo public`"
        )));
    };
    let (repo, tags) = tokio::try_join!(
        vers.get_public_repo(org, name),
        vers.list_public_repo_tags(org, name)
    )?;
    let tags: Vec<_> = tags.tags.into_iter().map(Into::into).collect();
    let rows = vec![
        vec!["repository".into(), repo.full_name.clone()],
        vec!["created_at".into(), repo.created_at.clone()],
        vec![
            "description".into(),
            repo.description.clone().unwrap_or_else(|| "-".into()),
        ],
    ];
    let human = format!("{}\n{}", table(&rows), tags_table(&tags));
    let json = json!({ "repository": repo, "tags": tags_value(&tags) });
    ctx.out.print(&human, &json)
}

async fn fork(ctx: &Ctx, vers: &VersClient, args: RepoForkArgs) -> anyhow::Result<()> {
    let TagRef::Repo {
        org: Some(org),
        repo,
        tag,
    } = parse_tag(&args.source)?
    else {
        return Err(CliError::usage(format!(
            "fork takes a public tag as org/repo:tag, not {:?}; list public repositories with \
             `tether repo public`",
            args.source
        )));
    };
    let (repo_name, tag_name) = match args.target.as_deref().map(str::trim) {
        None => (None, None),
        Some(target) => match target.split_once(':') {
            Some((name, new_tag)) if !name.is_empty() && !new_tag.is_empty() => {
                (Some(name.to_owned()), Some(new_tag.to_owned()))
            }
            None if !target.is_empty() && !target.contains('/') => (Some(target.to_owned()), None),
            _ => {
                return Err(CliError::usage(format!(
                    "--as takes REPO or REPO:TAG (a repository of yours), not {target:?}"
                )));
            }
        },
    };
    let request = ForkRequest {
        source_org: org,
        source_repo: repo,
        source_tag: tag,
        repo_name,
        tag_name,
    };
    let wait = ctx.progress.begin("forking…");
    let fork = vers.fork_repo(&request).await?;
    drop(wait);
    let rows = vec![
        vec!["tag".into(), fork.reference.clone()],
        vec!["commit_id".into(), fork.commit_id.clone()],
        vec!["vm_id".into(), fork.vm_id.clone()],
    ];
    ctx.out.print(&table(&rows), &serde_json::to_value(&fork)?)
}
