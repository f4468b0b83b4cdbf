//! `tether env …`, `tether domain …`, `tether whoami`: what belongs to the account.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tether_router::{Backend, Router};
use tether_vers::VersError;
use tether_wire::Domain;

use super::Ctx;
use crate::cli::{DomainCommand, EnvCommand};
use crate::output::table;

/// Runs a `tether env` subcommand.
pub(crate) async fn env(ctx: &Ctx, command: EnvCommand) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vers = router.vers();
    let vars = match command {
        EnvCommand::Ls => vers.env_vars().await?,
        EnvCommand::Set(args) => {
            let vars: BTreeMap<String, String> = args.vars.into_iter().collect();
            vers.set_env_vars(vars, args.replace).await?
        }
        EnvCommand::Rm(args) => {
            vers.delete_env_var(&args.name).await?;
            vers.env_vars().await?
        }
    };
    let human: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    ctx.out.print(&human.join("\n"), &json!({ "vars": vars }))
}

/// Runs a `tether domain` subcommand.
pub(crate) async fn domain(ctx: &Ctx, command: DomainCommand) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vers = router.vers();
    match command {
        DomainCommand::Ls(args) => {
            let vm_id = match args.vm {
                Some(query) => Some(router.resolve_vm(&query).await?),
                None => None,
            };
            let domains = vers.list_domains(vm_id.as_deref()).await?;
            if domains.is_empty() && !ctx.out.json {
                eprintln!("tether: no domains; route one with `tether domain add DOMAIN VM`");
                return Ok(());
            }
            ctx.out
                .print(&domains_table(&domains), &serde_json::to_value(&domains)?)
        }
        DomainCommand::Add(args) => {
            let vm_id = router.resolve_vm(&args.vm).await?;
            let domain = match vers.create_domain(&args.domain, &vm_id).await {
                Err(err @ VersError::Conflict { .. }) => {
                    return Err(anyhow::Error::new(err).context(format!(
                        "domain {} is routed to a VM already: find its mapping with `tether \
                         domain ls` and remove it with `tether domain rm ID` first",
                        args.domain
                    )));
                }
                other => other?,
            };
            ctx.out
                .print(&domain.domain_id, &serde_json::to_value(&domain)?)
        }
        DomainCommand::Show(args) => {
            let domain = vers.get_domain(&args.id).await?;
            let rows = vec![
                vec!["domain_id".into(), domain.domain_id.clone()],
                vec!["domain".into(), domain.domain.clone()],
                vec!["vm_id".into(), domain.vm_id.clone()],
                vec!["created_at".into(), domain.created_at.clone()],
            ];
            ctx.out
                .print(&table(&rows), &serde_json::to_value(&domain)?)
        }
        DomainCommand::Rm(args) => {
            let deleted = vers.delete_domain(&args.id).await?;
            ctx.out.print(&deleted, &json!({ "deleted": deleted }))
        }
    }
}

fn domains_table(domains: &[Domain]) -> String {
    let mut rows = vec![
        ["ID", "DOMAIN", "VM", "CREATED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for domain in domains {
        rows.push(vec![
            domain.domain_id.clone(),
            domain.domain.clone(),
            domain.vm_id.clone(),
            domain.created_at.clone(),
        ]);
    }
    table(&rows)
}

/// `tether whoami`: the organisation and key behind the configured API key, and the API.
pub(crate) async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vers = router.vers();
    let (who, version) = tokio::try_join!(vers.whoami(), vers.system_version())?;
    let api_url = vers.settings()?.api_url.to_string();
    let backend = backend_name(&router);
    let rows = vec![
        vec!["org".into(), format!("{} ({})", who.org.name, who.org.id)],
        vec!["user".into(), who.user.user_name.clone()],
        vec![
            "key".into(),
            format!("{} ({})", who.api_key.label, who.api_key.id),
        ],
        vec!["api".into(), format!("{api_url} ({backend})")],
        vec![
            "version".into(),
            format!("{} {}", version.executable_name, version.workspace_version),
        ],
    ];
    let mut json = serde_json::to_value(&who)?;
    json["api_url"] = Value::String(api_url);
    json["backend"] = Value::String(backend.into());
    json["version"] = serde_json::to_value(&version)?;
    ctx.out.print(&table(&rows), &json)
}

fn backend_name(router: &Router) -> &'static str {
    match router.backend() {
        Backend::Vers => "vers",
        Backend::Simulator(_) => "simulator",
    }
}
