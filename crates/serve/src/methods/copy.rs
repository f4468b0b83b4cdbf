//! `vm/copy`: files and directory trees between this machine and VMs, or VM to VM, streamed.
//! A place is a local path or `vm:<vm_id>:<path>` (`vm::<path>`: the active VM).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tether_target::{FileKind, LocalTarget, Target, TargetError};

use super::paths;
use crate::ServeError;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CopyParams {
    src: String,
    dst: String,
    /// Where relative local paths start (pi's working directory).
    local_cwd: Option<String>,
}

/// One side of a copy as written.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Local(String),
    Vm { vm: Option<String>, path: String },
}

fn parse(text: &str) -> Result<Place, ServeError> {
    let bad = |reason| ServeError::BadPlace {
        text: text.to_owned(),
        reason,
    };
    let Some(rest) = text.strip_prefix("vm:") else {
        return Ok(Place::Local(text.to_owned()));
    };
    let (vm, path) = rest
        .split_once(':')
        .ok_or_else(|| bad("no ':' between the VM id and the path"))?;
    if path.is_empty() {
        return Err(bad("no path after the VM id"));
    }
    let vm = (!vm.is_empty()).then(|| vm.to_owned());
    Ok(Place::Vm {
        vm,
        path: path.to_owned(),
    })
}

/// A side of a copy, located.
struct Located {
    target: Arc<dyn Target>,
    label: String,
    path: String,
}

async fn locate(
    state: &State,
    place: Place,
    local_cwd: Option<&str>,
) -> Result<Located, ServeError> {
    match place {
        Place::Local(path) => {
            let path = match (path.starts_with('/'), local_cwd) {
                (false, Some(cwd)) => format!("{}/{path}", cwd.trim_end_matches('/')),
                _ => path,
            };
            Ok(Located {
                target: Arc::new(LocalTarget),
                label: path.clone(),
                path,
            })
        }
        Place::Vm { vm, path } => {
            let vm_id = state.vm(vm.as_deref()).await?;
            let place = state.place(&vm_id).await?;
            let path = paths::resolve(&place, &path);
            Ok(Located {
                target: state.target(&vm_id).await?,
                label: format!("vm:{vm_id}:{path}"),
                path,
            })
        }
    }
}

pub(crate) async fn copy(state: &State, params: CopyParams) -> Result<Value, ServeError> {
    let (src, dst) = (parse(&params.src)?, parse(&params.dst)?);
    if matches!((&src, &dst), (Place::Local(_), Place::Local(_))) {
        return Err(ServeError::LocalCopy {
            from: params.src,
            to: params.dst,
        });
    }
    let cwd = params.local_cwd.as_deref();
    let from = locate(state, src, cwd).await?;
    let mut to = locate(state, dst, cwd).await?;
    let kind = from.target.stat(&from.path).await?.kind;
    if kind == FileKind::Dir {
        tether_target::copy_tree(
            from.target.as_ref(),
            &from.path,
            to.target.as_ref(),
            &to.path,
        )
        .await?;
        let files = count_files(to.target.as_ref(), &to.path).await?;
        return Ok(json!({ "from": from.label, "to": to.label, "kind": "dir", "files": files }));
    }
    if is_dir(to.target.as_ref(), &to.path).await? {
        let name = from.path.rsplit('/').next().unwrap_or(&from.path);
        to.path = format!("{}/{name}", to.path.trim_end_matches('/'));
        to.label = format!("{}/{name}", to.label.trim_end_matches('/'));
    }
    let bytes = tether_target::copy_file(
        from.target.as_ref(),
        &from.path,
        to.target.as_ref(),
        &to.path,
    )
    .await?;
    Ok(json!({ "from": from.label, "to": to.label, "kind": "file", "bytes": bytes }))
}

async fn is_dir(target: &dyn Target, path: &str) -> Result<bool, ServeError> {
    match target.stat(path).await {
        Ok(meta) => Ok(meta.kind == FileKind::Dir),
        Err(TargetError::NotFound { .. }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The regular files in the tree at `dir`, after a copy.
async fn count_files(target: &dyn Target, dir: &str) -> Result<usize, ServeError> {
    let entries = target.glob(dir, "**").await?;
    Ok(entries.iter().filter(|e| e.kind == FileKind::File).count())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn places_are_local_paths_or_vm_id_and_path() {
        assert_eq!(parse("./a.txt").unwrap(), Place::Local("./a.txt".into()));
        assert_eq!(
            parse("vm:4c1e:/root/a").unwrap(),
            Place::Vm {
                vm: Some("4c1e".into()),
                path: "/root/a".into()
            }
        );
        assert_eq!(
            parse("vm::notes").unwrap(),
            Place::Vm {
                vm: None,
                path: "notes".into()
            }
        );
        assert!(matches!(parse("vm:abc"), Err(ServeError::BadPlace { .. })));
        assert!(matches!(parse("vm:abc:"), Err(ServeError::BadPlace { .. })));
    }
}
