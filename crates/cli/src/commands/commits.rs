//! `tether vm commit | restore | commits | parents | publish | unpublish | commit-rm`: commits,
//! by id or by the tag that names them.

use serde_json::json;
use tether_router::{Progress, Router};
use tether_vers::{TagEntry, TagRef, VersError};
use tether_wire::{
    CommitEntity, CommitInfo, CommitQuery, CommitRequest, ListCommitsQuery, UpdateCommitRequest,
};

use super::Ctx;
use super::tags::{changeable, parse_tag, tag_json};
use crate::cli::{CommitArgs, PublishArgs, RestoreArgs, VmCommand};
use crate::output::{table, yes_no};
use crate::report::CliError;

/// Page size when listing commits.
const COMMIT_PAGE: u64 = 100;

/// Runs the commit subcommands of `tether vm`.
pub(crate) async fn run(ctx: &Ctx, router: &Router, command: VmCommand) -> anyhow::Result<()> {
    match command {
        VmCommand::Commit(args) => commit(ctx, router, args).await,
        VmCommand::Restore(args) => restore(ctx, router, args).await,
        VmCommand::Commits(args) => commits(ctx, router, args.public).await,
        VmCommand::Parents(args) => parents(ctx, router, &args.commit).await,
        VmCommand::Publish(args) => publish(ctx, router, args).await,
        VmCommand::Unpublish(args) => {
            let args = PublishArgs {
                commit: args.commit,
                name: None,
                description: None,
            };
            set_public(ctx, router, args, false).await
        }
        VmCommand::CommitRm(args) => {
            let commit_id = router.resolve_commit(&args.commit).await?;
            let wait = ctx.progress.begin("deleting commit…");
            router.vers().delete_commit(&commit_id).await?;
            drop(wait);
            ctx.out.print(&commit_id, &json!({ "deleted": commit_id }))
        }
        other => Err(CliError::usage(format!("not a commit command: {other:?}"))),
    }
}

async fn commit(ctx: &Ctx, router: &Router, args: CommitArgs) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(&args.vm).await?;
    let tag = match args.tag.as_deref() {
        Some(text) => Some(changeable(parse_tag(text)?)?),
        None => None,
    };
    if let (Some(tag), false) = (&tag, args.move_tag) {
        refuse_taken(router, tag).await?;
    }
    let query = CommitQuery {
        keep_paused: args.keep_paused.then_some(true),
        skip_wait_boot: None,
    };
    let request = CommitRequest {
        commit_id: None,
        name: args.name,
        description: args.description,
    };
    let wait = ctx.progress.begin("committing VM…");
    let commit_id = router.vers().commit(&vm_id, query, &request).await?;
    drop(wait);
    let mut json = json!({ "vm_id": vm_id, "commit_id": commit_id, "tag": null });
    if let Some(tag) = &tag {
        json["tag"] = tag_json(&tag_commit(router, tag, &commit_id).await?);
    }
    ctx.out.print(&commit_id, &json)
}

/// Fails, before anything is committed, if `tag` exists already.
async fn refuse_taken(router: &Router, tag: &TagRef) -> anyhow::Result<()> {
    match router.vers().resolve_tag(tag).await {
        Ok(existing) => Err(CliError::usage(format!(
            "tag {tag} exists already (it points at commit {}); add --move to move it to the \
             new commit, or pick another name (`tether tag ls` lists them)",
            existing.commit_id
        ))),
        Err(VersError::NotFound { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Points `tag` at `commit_id`: creates it, or moves it if it exists.
async fn tag_commit(router: &Router, tag: &TagRef, commit_id: &str) -> anyhow::Result<TagEntry> {
    let vers = router.vers();
    match vers.create_tag_ref(tag, commit_id, None).await {
        Err(VersError::Taken { .. }) => super::tags::move_to(router, tag, commit_id).await,
        created => Ok(created.map_err(|err| {
            anyhow::Error::new(err).context(format!(
                "commit {commit_id} was made but not tagged; tag it with `tether tag create \
                 {tag} {commit_id}`"
            ))
        })?),
    }
}

async fn restore(ctx: &Ctx, router: &Router, args: RestoreArgs) -> anyhow::Result<()> {
    let wait = ctx.progress.begin("restoring commit…");
    let json = match (args.tag, args.commit) {
        (Some(tag), _) => {
            let reference = parse_tag(&tag)?;
            let vm_id = router.vers().from_tag(&reference).await?;
            json!({ "tag": reference.to_string(), "vm_id": vm_id })
        }
        (None, Some(query)) => {
            let commit_id = router.resolve_commit(&query).await?;
            let vm_id = router.vers().from_commit(&commit_id).await?;
            json!({ "commit_id": commit_id, "vm_id": vm_id })
        }
        (None, None) => return Err(CliError::usage("give a COMMIT to restore, or --tag NAME")),
    };
    drop(wait);
    ctx.out
        .print(json["vm_id"].as_str().unwrap_or_default(), &json)
}

async fn commits(ctx: &Ctx, router: &Router, public: bool) -> anyhow::Result<()> {
    let mut all: Vec<CommitInfo> = Vec::new();
    loop {
        let query = ListCommitsQuery {
            limit: Some(COMMIT_PAGE),
            offset: Some(all.len() as u64),
        };
        let page = match public {
            true => router.vers().list_public_commits(query).await?,
            false => router.vers().list_commits(query).await?,
        };
        let got = page.commits.len() as u64;
        all.extend(page.commits);
        if got < COMMIT_PAGE || all.len() as u64 >= page.total {
            break;
        }
    }
    if all.is_empty() && !ctx.out.json {
        match public {
            true => eprintln!("tether: no public commits"),
            false => eprintln!("tether: no commits; make one with `tether vm commit VM`"),
        }
        return Ok(());
    }
    let mut rows = vec![
        ["COMMIT ID", "NAME", "VM", "PUBLIC", "CREATED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for commit in &all {
        rows.push(vec![
            commit.commit_id.clone(),
            commit.name.clone(),
            commit.parent_vm_id.clone().unwrap_or_else(|| "-".into()),
            yes_no(commit.is_public),
            commit.created_at.clone(),
        ]);
    }
    ctx.out.print(&table(&rows), &serde_json::to_value(&all)?)
}

async fn parents(ctx: &Ctx, router: &Router, query: &str) -> anyhow::Result<()> {
    let commit_id = router.resolve_commit(query).await?;
    let chain: Vec<CommitEntity> = router.vers().commit_parents(&commit_id).await?;
    let mut rows = vec![
        ["COMMIT ID", "NAME", "FROM VM", "CREATED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for commit in &chain {
        rows.push(vec![
            commit.id.clone(),
            commit.name.clone(),
            commit.parent_vm_id.clone().unwrap_or_else(|| "-".into()),
            commit.created_at.clone(),
        ]);
    }
    ctx.out.print(&table(&rows), &serde_json::to_value(&chain)?)
}

async fn publish(ctx: &Ctx, router: &Router, args: PublishArgs) -> anyhow::Result<()> {
    set_public(ctx, router, args, true).await
}

async fn set_public(
    ctx: &Ctx,
    router: &Router,
    args: PublishArgs,
    is_public: bool,
) -> anyhow::Result<()> {
    let commit_id = router.resolve_commit(&args.commit).await?;
    let update = UpdateCommitRequest {
        is_public,
        name: args.name,
        description: args.description,
    };
    let commit = router.vers().update_commit(&commit_id, &update).await?;
    ctx.out
        .print(&commit.commit_id, &serde_json::to_value(&commit)?)
}
