//! `grep`: lines matching a pattern, as pi prints them: `path:line: text` for a match,
//! `path-line- text` for context, long lines cut, at most `limit` matches and 50 KB.

use std::collections::HashMap;

use serde_json::{Map, json};
use tether_target::{FileKind, GrepMatch, GrepQuery, TargetError};

use crate::args::GrepArgs;
use crate::ls::listing;
use crate::truncate::{GREP_MAX_LINE_CHARS, truncate_line};
use crate::{ToolError, ToolOutput, Workspace};

/// Matches returned when no limit is given.
pub const GREP_DEFAULT_LIMIT: u64 = 100;
/// Directories never searched.
const SKIPPED: [&str; 2] = [".git", "node_modules"];

/// Searches `args.path` (a directory or one file; default: the working directory).
pub async fn grep(ws: &Workspace, args: GrepArgs) -> Result<ToolOutput, ToolError> {
    let path = ws.resolve(args.path.as_deref().unwrap_or("."));
    let meta = match ws.target().stat(&path).await {
        Err(TargetError::NotFound { .. }) => return Err(ToolError::PathNotFound { path }),
        other => other?,
    };
    let (dir, file) = match (meta.kind, path.rsplit_once('/')) {
        (FileKind::Dir, _) | (_, None) => (path.clone(), None),
        (_, Some((parent, name))) => (parent_or_root(parent), Some(name.to_owned())),
    };
    let query = GrepQuery {
        pattern: args.pattern.clone(),
        literal: args.literal.unwrap_or(false),
        ignore_case: args.ignore_case.unwrap_or(false),
        include: file.clone().or(args.glob.clone()),
    };
    let matches: Vec<GrepMatch> = ws
        .target()
        .grep(&dir, &query)
        .await?
        .into_iter()
        .filter(|m| file.as_ref().is_none_or(|f| &m.path == f))
        .filter(|m| !m.path.split('/').any(|part| SKIPPED.contains(&part)))
        .collect();
    if matches.is_empty() {
        return Ok(ToolOutput::text("No matches found"));
    }
    let limit = args.limit.unwrap_or(GREP_DEFAULT_LIMIT) as usize;
    let shown = &matches[..matches.len().min(limit)];
    let context = args.context.unwrap_or(0) as usize;
    let (lines, cut) = render(ws, &dir, shown, context).await;
    let mut details = Map::new();
    let mut notices = Vec::new();
    if matches.len() > limit {
        details.insert("matchLimitReached".into(), json!(limit));
        notices.push(format!(
            "{limit} matches limit reached. Use limit={} for more, or refine pattern",
            limit * 2
        ));
    }
    if cut {
        details.insert("linesTruncated".into(), json!(true));
    }
    let mut out = listing(&lines.join("\n"), notices.first().cloned(), details);
    if cut {
        append_notice(
            &mut out,
            &format!(
                "Some lines truncated to {GREP_MAX_LINE_CHARS} chars. Use read tool to see full lines"
            ),
        );
    }
    Ok(out)
}

fn parent_or_root(parent: &str) -> String {
    if parent.is_empty() {
        "/".into()
    } else {
        parent.into()
    }
}

/// Adds a notice to the text's `[…]` block, or starts one.
fn append_notice(out: &mut ToolOutput, notice: &str) {
    if let Some(crate::Content::Text { text }) = out.content.first_mut() {
        if text.ends_with(']') && text.contains("\n\n[") {
            text.pop();
            text.push_str(&format!(". {notice}]"));
        } else {
            text.push_str(&format!("\n\n[{notice}]"));
        }
    }
}

/// The output lines for `matches` with `context` lines around each; whether any line was cut.
async fn render(
    ws: &Workspace,
    dir: &str,
    matches: &[GrepMatch],
    context: usize,
) -> (Vec<String>, bool) {
    let mut files: HashMap<&str, Vec<String>> = HashMap::new();
    let mut lines = Vec::new();
    let mut cut = false;
    for m in matches {
        let mut show = |sep: char, number: usize, text: &str| {
            let (text, was_cut) = truncate_line(&text.replace('\r', ""), GREP_MAX_LINE_CHARS);
            cut |= was_cut;
            lines.push(format!("{}{sep}{number}{sep} {text}", m.path));
        };
        let number = m.line as usize;
        if context == 0 {
            show(':', number, &m.text);
            continue;
        }
        if !files.contains_key(m.path.as_str()) {
            let content = ws
                .target()
                .read_file(&format!("{dir}/{}", m.path))
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&content);
            files.insert(&m.path, text.split('\n').map(str::to_owned).collect());
        }
        let file = files
            .get(m.path.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let first = number.saturating_sub(context).max(1);
        let last = (number + context).min(file.len().max(number));
        for current in first..=last {
            let text = file.get(current - 1).map_or("", String::as_str);
            let text = if current == number {
                m.text.as_str()
            } else {
                text
            };
            show(if current == number { ':' } else { '-' }, current, text);
        }
    }
    (lines, cut)
}
