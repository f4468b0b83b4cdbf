//! `fs/…`: the file operations behind pi's read/edit/write/ls/find/grep on a VM. Paths are
//! resolved on the VM (`~` its home, relative paths from its working directory).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tether_target::{FileKind, GrepQuery, Target, TargetError};

use super::paths;
use crate::ServeError;
use crate::state::State;

/// Bytes looked at to recognise an image.
const SNIFF_BYTES: usize = 16;
/// Default most paths `fs/glob` returns.
const GLOB_LIMIT: usize = 1000;
/// Default most matches `fs/grep` returns.
const GREP_LIMIT: usize = 100;
/// Directories `fs/glob` leaves out (as pi's find does).
const GLOB_SKIPPED: [&str; 2] = ["node_modules", ".git"];

/// Params naming one path on a VM.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PathParams {
    vm_id: Option<String>,
    path: String,
}

/// A target and a resolved path on it.
async fn locate(
    state: &State,
    vm_id: Option<&str>,
    path: &str,
) -> Result<(Arc<dyn Target>, String), ServeError> {
    let vm_id = state.vm(vm_id).await?;
    let place = state.place(&vm_id).await?;
    let target = state.target(&vm_id).await?;
    Ok((target, paths::resolve(&place, path)))
}

pub(crate) async fn read_file(state: &State, params: PathParams) -> Result<Value, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let bytes = target.read_file(&path).await?;
    Ok(json!({ "path": path, "data": STANDARD.encode(&bytes), "size": bytes.len() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WriteParams {
    vm_id: Option<String>,
    path: String,
    /// The whole new content, base64.
    data: String,
}

pub(crate) async fn write_file(state: &State, params: WriteParams) -> Result<Value, ServeError> {
    let bytes =
        STANDARD
            .decode(params.data.as_bytes())
            .map_err(|source| ServeError::BadBase64 {
                method: "fs/writeFile".into(),
                source,
            })?;
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    target.write_file(&path, &bytes).await?;
    Ok(json!({ "path": path, "size": bytes.len() }))
}

/// What `fs/stat` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stat {
    path: String,
    kind: &'static str,
    size: u64,
    mode: u32,
    symlink: bool,
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::Other => "other",
    }
}

pub(crate) async fn stat(state: &State, params: PathParams) -> Result<Stat, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let meta = target.stat(&path).await?;
    Ok(Stat {
        path,
        kind: kind_name(meta.kind),
        size: meta.size,
        mode: meta.mode,
        symlink: meta.symlink,
    })
}

pub(crate) async fn mkdir(state: &State, params: PathParams) -> Result<Value, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    target.mkdir_all(&path).await?;
    Ok(json!({ "path": path }))
}

pub(crate) async fn read_dir(state: &State, params: PathParams) -> Result<Value, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let entries: Vec<Value> = target
        .read_dir(&path)
        .await?
        .into_iter()
        .map(|entry| json!({ "name": entry.path, "kind": kind_name(entry.kind) }))
        .collect();
    Ok(json!({ "path": path, "entries": entries }))
}

pub(crate) async fn image_type(state: &State, params: PathParams) -> Result<Value, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let quoted = shlex::try_quote(&path).map_err(|_| TargetError::InvalidPath {
        path: path.clone(),
        reason: "it contains a NUL byte",
    })?;
    let spec = tether_target::ExecSpec {
        timeout: Some(tether_target::META_TIMEOUT),
        ..tether_target::ExecSpec::shell(format!("head -c {SNIFF_BYTES} -- {quoted}"))
    };
    let mut head = Vec::new();
    let mut keep = |stream, bytes: &[u8]| {
        if stream == tether_target::Stream::Stdout {
            head.extend_from_slice(bytes);
        }
    };
    target.exec(spec, &mut keep, None).await?;
    Ok(json!({ "path": path, "mimeType": sniff_image(&head) }))
}

/// The image type pi's read shows as an image (jpeg, png, gif, webp), from the first bytes.
pub(crate) fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GlobParams {
    vm_id: Option<String>,
    /// The directory searched.
    path: String,
    /// fd-style: a pattern without `/` matches names at any depth.
    pattern: String,
    limit: Option<usize>,
}

pub(crate) async fn glob(state: &State, params: GlobParams) -> Result<Value, ServeError> {
    let (target, dir) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let limit = params.limit.unwrap_or(GLOB_LIMIT);
    let pattern = fd_pattern(&params.pattern);
    let mut found = Vec::new();
    for entry in target.glob(&dir, &pattern).await? {
        let skipped = entry
            .path
            .split('/')
            .any(|part| GLOB_SKIPPED.contains(&part));
        if !skipped {
            found.push(format!("{}/{}", dir.trim_end_matches('/'), entry.path));
        }
    }
    let truncated = found.len() > limit;
    found.truncate(limit);
    Ok(json!({ "path": dir, "paths": found, "truncated": truncated }))
}

/// fd's rule: a pattern without `/` matches a name at any depth; one with `/` the whole
/// relative path.
fn fd_pattern(pattern: &str) -> String {
    let pattern = pattern.trim_start_matches("./");
    if pattern.contains('/') || pattern.starts_with("**") {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GrepParams {
    vm_id: Option<String>,
    /// A directory or one file.
    path: String,
    pattern: String,
    #[serde(default)]
    literal: bool,
    #[serde(default)]
    ignore_case: bool,
    /// Only files whose name matches this glob.
    glob: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn grep(state: &State, params: GrepParams) -> Result<Value, ServeError> {
    let (target, path) = locate(state, params.vm_id.as_deref(), &params.path).await?;
    let meta = target.stat(&path).await?;
    let (dir, only) = match meta.kind {
        FileKind::Dir => (path.clone(), None),
        _ => split_file(&path),
    };
    let query = GrepQuery {
        pattern: params.pattern,
        literal: params.literal,
        ignore_case: params.ignore_case,
        include: only.clone().or(params.glob.map(|g| basename_glob(&g))),
    };
    let limit = params.limit.unwrap_or(GREP_LIMIT);
    let mut matches = Vec::new();
    for found in target.grep(&dir, &query).await? {
        if only.as_ref().is_some_and(|name| *name != found.path) {
            continue;
        }
        let file = format!("{}/{}", dir.trim_end_matches('/'), found.path);
        matches.push(json!({ "path": file, "line": found.line, "text": found.text }));
    }
    let truncated = matches.len() > limit;
    matches.truncate(limit);
    Ok(json!({ "path": path, "matches": matches, "truncated": truncated }))
}

/// A file path as its directory and its name.
fn split_file(path: &str) -> (String, Option<String>) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/".into(), Some(name.into())),
        Some((dir, name)) => (dir.into(), Some(name.into())),
        None => (".".into(), Some(path.into())),
    }
}

/// The name part of a glob like `**/*.ts` (grep filters on file names).
fn basename_glob(glob: &str) -> String {
    glob.rsplit('/').next().unwrap_or(glob).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_magic_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"hello world"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn fd_patterns_match_names_at_any_depth() {
        assert_eq!(fd_pattern("*.rs"), "**/*.rs");
        assert_eq!(fd_pattern("src/*.rs"), "src/*.rs");
        assert_eq!(fd_pattern("./a/b"), "a/b");
        assert_eq!(fd_pattern("**/x"), "**/x");
    }

    #[test]
    fn a_file_splits_into_its_directory_and_name() {
        assert_eq!(split_file("/a/b.txt"), ("/a".into(), Some("b.txt".into())));
        assert_eq!(split_file("/b.txt"), ("/".into(), Some("b.txt".into())));
        assert_eq!(basename_glob("**/*.ts"), "*.ts");
    }
}
