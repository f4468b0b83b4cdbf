//! `ls`: a directory's entries, pi's way: sorted case-insensitively, `/` after directories,
//! dotfiles included, at most `limit` entries and 50 KB.

use serde_json::{Map, Value, json};
use tether_target::{FileKind, TargetError};

use crate::args::LsArgs;
use crate::truncate::{self, Limits, MAX_BYTES, format_size};
use crate::{ToolError, ToolOutput, Workspace};

/// Entries listed when no limit is given.
pub const LS_DEFAULT_LIMIT: u64 = 500;

/// Lists `args.path` (default: the working directory).
pub async fn ls(ws: &Workspace, args: LsArgs) -> Result<ToolOutput, ToolError> {
    let dir = ws.resolve(args.path.as_deref().unwrap_or("."));
    require_dir(ws, &dir).await?;
    let mut entries = ws.target().read_dir(&dir).await?;
    entries.sort_by(|a, b| (a.path.to_lowercase(), &a.path).cmp(&(b.path.to_lowercase(), &b.path)));
    let limit = args.limit.unwrap_or(LS_DEFAULT_LIMIT) as usize;
    let mut shown = Vec::new();
    for entry in &entries {
        if shown.len() >= limit {
            break;
        }
        let is_dir = match entry.kind {
            FileKind::Dir => true,
            FileKind::Symlink => match ws.target().stat(&format!("{dir}/{}", entry.path)).await {
                Ok(meta) => meta.kind == FileKind::Dir,
                Err(_) => false,
            },
            _ => false,
        };
        shown.push(format!("{}{}", entry.path, if is_dir { "/" } else { "" }));
    }
    if shown.is_empty() {
        return Ok(ToolOutput::text("(empty directory)"));
    }
    let limit_reached = entries.len() > limit;
    let notice = (limit_reached).then(|| {
        format!(
            "{limit} entries limit reached. Use limit={} for more",
            limit * 2
        )
    });
    let mut details = Map::new();
    if limit_reached {
        details.insert("entryLimitReached".into(), json!(limit));
    }
    Ok(listing(&shown.join("\n"), notice, details))
}

/// Fails with pi's messages unless `path` is a directory.
pub(crate) async fn require_dir(ws: &Workspace, path: &str) -> Result<(), ToolError> {
    match ws.target().stat(path).await {
        Ok(meta) if meta.kind == FileKind::Dir => Ok(()),
        Ok(_) => Err(ToolError::NotADirectory { path: path.into() }),
        Err(TargetError::NotFound { .. }) => Err(ToolError::PathNotFound { path: path.into() }),
        Err(e) => Err(e.into()),
    }
}

/// A listing cut to 50 KB, with pi's notices (`[a. b]`) and details.
pub(crate) fn listing(
    raw: &str,
    first_notice: Option<String>,
    mut details: Map<String, Value>,
) -> ToolOutput {
    let truncation = truncate::truncate_head(raw, Limits::bytes_only());
    let mut notices: Vec<String> = first_notice.into_iter().collect();
    let mut text = truncation.content.clone();
    if truncation.truncated {
        notices.push(format!("{} limit reached", format_size(MAX_BYTES)));
        details.insert("truncation".into(), json!(truncation));
    }
    notices_into(&mut text, &notices);
    let out = ToolOutput::text(text);
    if details.is_empty() {
        out
    } else {
        out.with_details(Value::Object(details))
    }
}

/// Appends `\n\n[notice. notice]` when there are notices.
pub(crate) fn notices_into(text: &mut String, notices: &[String]) {
    if !notices.is_empty() {
        text.push_str(&format!("\n\n[{}]", notices.join(". ")));
    }
}
