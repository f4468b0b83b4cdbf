//! `tether cp`: files and directory trees between this machine and VMs, or VM to VM, streamed.

use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::json;
use tether_router::Router;
use tether_target::{FileKind, LocalTarget, Target};

use super::Ctx;
use crate::cli::CpArgs;

/// One side of a copy as typed: a local path, or `vm:<id>:<path>` (empty id: the default VM).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Local(String),
    Vm { vm: Option<String>, path: String },
}

impl Place {
    fn parse(text: &str) -> anyhow::Result<Place> {
        let Some(rest) = text.strip_prefix("vm:") else {
            return Ok(Place::Local(text.to_owned()));
        };
        let Some((vm, path)) = rest.split_once(':') else {
            bail!(
                "{text:?} is not vm:<id>:<path>; write vm:<id>:/path (or vm::/path for the default VM)"
            );
        };
        if path.is_empty() {
            bail!("{text:?} has no path after the VM id; write vm:<id>:/path");
        }
        let vm = (!vm.is_empty()).then(|| vm.to_owned());
        Ok(Place::Vm {
            vm,
            path: path.to_owned(),
        })
    }
}

/// A side of a copy, located: where, and which path there.
struct Located {
    target: Arc<dyn Target>,
    /// `vm:<id>:` for a VM, empty for this machine (for messages).
    prefix: String,
    path: String,
}

impl Located {
    /// Finds `place`; `router` is needed for a VM place.
    async fn new(ctx: &Ctx, router: Option<&Router>, place: Place) -> anyhow::Result<Located> {
        match (place, router) {
            (Place::Local(path), _) => Ok(Located {
                target: Arc::new(LocalTarget),
                prefix: String::new(),
                path,
            }),
            (Place::Vm { vm, path }, Some(router)) => {
                let vm_id = router.vm_or_default(vm.as_deref(), &ctx.cwd).await?;
                Ok(Located {
                    target: router.target(&vm_id).await?,
                    prefix: format!("vm:{vm_id}:"),
                    path,
                })
            }
            (Place::Vm { .. }, None) => bail!("internal error: a VM path without the API"),
        }
    }

    /// How the user would write this place.
    fn label(&self) -> String {
        format!("{}{}", self.prefix, self.path)
    }

    /// The same target with `name` appended to the path.
    fn join(&self, name: &str) -> Located {
        Located {
            target: self.target.clone(),
            prefix: self.prefix.clone(),
            path: format!("{}/{name}", self.path.trim_end_matches('/')),
        }
    }
}

/// Runs `tether cp`.
pub(crate) async fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<()> {
    let (src, dst) = (Place::parse(&args.src)?, Place::parse(&args.dst)?);
    let needs_api = [&src, &dst].iter().any(|p| matches!(p, Place::Vm { .. }));
    let router = match needs_api {
        true => Some(ctx.router().await?),
        false => None,
    };
    let from = Located::new(ctx, router.as_ref(), src).await?;
    let to = Located::new(ctx, router.as_ref(), dst).await?;
    copy(ctx, &from, &to, args.recursive).await
}

async fn copy(ctx: &Ctx, from: &Located, to: &Located, recursive: bool) -> anyhow::Result<()> {
    let meta = match from.target.stat(&from.path).await {
        Ok(meta) => meta,
        // A local path is named by the error itself; a VM path needs its VM.
        Err(err) if from.prefix.is_empty() => return Err(err.into()),
        Err(err) => return Err(anyhow::Error::new(err).context(from.label())),
    };
    let tree = meta.kind == FileKind::Dir;
    if tree && !recursive {
        bail!(
            "{} is a directory; copy it with `tether cp -r`",
            from.label()
        );
    }
    let into_dir = matches!(to.target.stat(&to.path).await, Ok(m) if m.kind == FileKind::Dir);
    let joined;
    let to = match into_dir {
        true => {
            joined = to.join(base_name(&from.path));
            &joined
        }
        false => to,
    };
    let (source, sink) = (from.target.as_ref(), to.target.as_ref());
    let what = || format!("copying {} to {}", from.label(), to.label());
    let bytes = match tree {
        true => {
            tether_target::copy_tree(source, &from.path, sink, &to.path)
                .await
                .with_context(what)?;
            None
        }
        false => Some(
            tether_target::copy_file(source, &from.path, sink, &to.path)
                .await
                .with_context(what)?,
        ),
    };
    let json = json!({
        "source": from.label(),
        "destination": to.label(),
        "recursive": tree,
        "bytes": bytes,
    });
    ctx.out.print("", &json)
}

/// The last component of `path` (`.` for a path that has none, like `/`).
fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or(".")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn places_parse() {
        assert_eq!(Place::parse("a/b").unwrap(), Place::Local("a/b".into()));
        assert_eq!(
            Place::parse("vm:4c1e:/root/x:y").unwrap(),
            Place::Vm {
                vm: Some("4c1e".into()),
                path: "/root/x:y".into()
            }
        );
        assert_eq!(
            Place::parse("vm::/tmp").unwrap(),
            Place::Vm {
                vm: None,
                path: "/tmp".into()
            }
        );
        assert!(Place::parse("vm:4c1e").is_err());
        assert!(Place::parse("vm:4c1e:").is_err());
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("b"), "b");
        assert_eq!(base_name("/"), ".");
    }
}
