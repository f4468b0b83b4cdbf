//! `find`: files and directories matching a glob, relative to the searched directory, like
//! pi's find (a pattern without `/` matches names at any depth; `.git` and `node_modules` are
//! skipped).

use serde_json::{Map, json};
use tether_target::FileKind;

use crate::args::FindArgs;
use crate::ls::{listing, require_dir};
use crate::{ToolError, ToolOutput, Workspace};

/// Results returned when no limit is given.
pub const FIND_DEFAULT_LIMIT: u64 = 1000;
/// Directories whose contents are never listed.
const SKIPPED: [&str; 2] = [".git", "node_modules"];

/// Finds `args.pattern` under `args.path` (default: the working directory).
pub async fn find(ws: &Workspace, args: FindArgs) -> Result<ToolOutput, ToolError> {
    let dir = ws.resolve(args.path.as_deref().unwrap_or("."));
    require_dir(ws, &dir).await?;
    let pattern = args.pattern.trim_start_matches("./");
    let pattern = if pattern.contains('/') {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    };
    let found: Vec<String> = ws
        .target()
        .glob(&dir, &pattern)
        .await?
        .into_iter()
        .filter(|e| !e.path.split('/').any(|part| SKIPPED.contains(&part)))
        .map(|e| match e.kind {
            FileKind::Dir => format!("{}/", e.path),
            _ => e.path,
        })
        .collect();
    if found.is_empty() {
        return Ok(ToolOutput::text("No files found matching pattern"));
    }
    let limit = args.limit.unwrap_or(FIND_DEFAULT_LIMIT) as usize;
    let mut details = Map::new();
    let notice = (found.len() > limit).then(|| {
        details.insert("resultLimitReached".into(), json!(limit));
        format!(
            "{limit} results limit reached. Use limit={} for more, or refine pattern",
            limit * 2
        )
    });
    let shown = &found[..found.len().min(limit)];
    Ok(listing(&shown.join("\n"), notice, details))
}
