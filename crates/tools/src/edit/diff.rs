//! What an edit changed: pi's numbered diff (what pi shows and keeps in `details.diff`), the
//! first changed line, and a standard unified diff.

use serde::Serialize;
use similar::{DiffOp, TextDiff};

/// Unchanged lines shown around a change in pi's diff.
const CONTEXT_LINES: usize = 4;
/// Unchanged lines shown around a change in the unified diff.
const PATCH_CONTEXT: usize = 3;

/// An edit's diff, in both forms (camelCase in JSON, as pi's `details`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    /// pi's format: ` 12 context`, `-13 old`, `+13 new`, ` .. ...` for skipped lines.
    pub diff: String,
    /// The first changed line, numbered in the new text.
    pub first_changed_line: Option<usize>,
    /// A unified diff (`---`/`+++` headers naming `path`, `@@` hunks).
    pub patch: String,
}

/// One run of lines that are equal, removed or added.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Equal,
    Removed,
    Added,
}

/// The diff of `old` and `new` (both with LF line endings).
pub(crate) fn diff(old: &str, new: &str, path: &str) -> Diff {
    let text_diff = TextDiff::from_lines(old, new);
    let parts = parts(&text_diff);
    let width = old
        .split('\n')
        .count()
        .max(new.split('\n').count())
        .to_string()
        .len();
    let (diff, first_changed_line) = render(&parts, width);
    let patch = text_diff
        .unified_diff()
        .context_radius(PATCH_CONTEXT)
        .header(path, path)
        .to_string();
    Diff {
        diff,
        first_changed_line,
        patch,
    }
}

/// The diff as runs of lines (without their newlines), removals before additions, adjacent
/// runs of one kind merged.
fn parts<'a>(text_diff: &TextDiff<'a, 'a, 'a, str>) -> Vec<(Kind, Vec<&'a str>)> {
    let (old, new) = (text_diff.old_slices(), text_diff.new_slices());
    let mut parts: Vec<(Kind, Vec<&str>)> = Vec::new();
    let mut push = |kind: Kind, lines: &[&'a str]| {
        let lines = lines.iter().map(|l| l.strip_suffix('\n').unwrap_or(l));
        match parts.last_mut() {
            Some((last, run)) if *last == kind => run.extend(lines),
            _ => parts.push((kind, lines.collect())),
        }
    };
    for op in text_diff.ops() {
        match *op {
            DiffOp::Equal { old_index, len, .. } => {
                push(Kind::Equal, &old[old_index..old_index + len]);
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => push(Kind::Removed, &old[old_index..old_index + old_len]),
            DiffOp::Insert {
                new_index, new_len, ..
            } => push(Kind::Added, &new[new_index..new_index + new_len]),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                push(Kind::Removed, &old[old_index..old_index + old_len]);
                push(Kind::Added, &new[new_index..new_index + new_len]);
            }
        }
    }
    parts
}

/// Line counters while rendering.
struct Cursor {
    old: usize,
    new: usize,
    width: usize,
    out: Vec<String>,
}

impl Cursor {
    fn line(&mut self, sign: char, number: usize, text: &str) {
        self.out
            .push(format!("{sign}{number:>width$} {text}", width = self.width));
    }

    fn skip(&mut self, lines: usize) {
        self.out
            .push(format!(" {:>width$} ...", "", width = self.width));
        self.old += lines;
        self.new += lines;
    }
}

/// pi's rendering: changed lines numbered, at most [`CONTEXT_LINES`] unchanged lines around
/// each change, `...` where lines are skipped.
fn render(parts: &[(Kind, Vec<&str>)], width: usize) -> (String, Option<usize>) {
    let mut at = Cursor {
        old: 1,
        new: 1,
        width,
        out: Vec::new(),
    };
    let mut first_changed = None;
    let mut last_was_change = false;
    for (i, (kind, lines)) in parts.iter().enumerate() {
        match kind {
            Kind::Removed | Kind::Added => {
                first_changed.get_or_insert(at.new);
                for line in lines {
                    if *kind == Kind::Added {
                        at.line('+', at.new, line);
                        at.new += 1;
                    } else {
                        at.line('-', at.old, line);
                        at.old += 1;
                    }
                }
                last_was_change = true;
            }
            Kind::Equal => {
                let next_is_change = parts.get(i + 1).is_some_and(|(k, _)| *k != Kind::Equal);
                context(&mut at, lines, last_was_change, next_is_change);
                last_was_change = false;
            }
        }
    }
    (at.out.join("\n"), first_changed)
}

/// An unchanged run: its end before a change, its start after one, nothing elsewhere.
fn context(at: &mut Cursor, lines: &[&str], after_change: bool, before_change: bool) {
    if !after_change && !before_change {
        at.old += lines.len();
        at.new += lines.len();
        return;
    }
    let mut shown = lines;
    let skip_start = if after_change {
        0
    } else {
        lines.len().saturating_sub(CONTEXT_LINES)
    };
    shown = &shown[skip_start..];
    let mut skip_end = 0;
    if !before_change && shown.len() > CONTEXT_LINES {
        skip_end = shown.len() - CONTEXT_LINES;
        shown = &shown[..CONTEXT_LINES];
    }
    if skip_start > 0 {
        at.skip(skip_start);
    }
    for line in shown {
        at.line(' ', at.old, line);
        at.old += 1;
        at.new += 1;
    }
    if skip_end > 0 {
        at.skip(skip_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_change_renders_like_pi() {
        let d = diff("line one\nline two\n", "line one\nline 2\n", "f.txt");
        assert_eq!(d.diff, " 1 line one\n-2 line two\n+2 line 2");
        assert_eq!(d.first_changed_line, Some(2));
        assert_eq!(
            d.patch,
            "--- f.txt\n+++ f.txt\n@@ -1,2 +1,2 @@\n line one\n-line two\n+line 2\n"
        );
    }

    #[test]
    fn long_unchanged_runs_are_elided() {
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l10\n", "ten\n");
        let d = diff(&old, &new, "f");
        let expected = [
            "    ...", "  6 l6", "  7 l7", "  8 l8", "  9 l9", "-10 l10", "+10 ten", " 11 l11",
            " 12 l12", " 13 l13", " 14 l14", "    ...",
        ];
        assert_eq!(d.diff, expected.join("\n"));
    }
}
