//! Applying edits to a file's text, pi's way: a BOM and the line-ending style are kept, each
//! `oldText` is looked up exactly and then fuzzily, must occur exactly once, and no two edits
//! may overlap. Every edit is matched against the original text, not against the result of
//! the edits before it.

use crate::EditError;
use crate::args::EditPair;
use crate::edit::diff::{self, Diff};
use crate::edit::fuzzy;

/// The UTF-8 byte order mark.
const BOM: char = '\u{FEFF}';

/// A file's text after its edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edited {
    /// The new file content, with the original BOM and line endings.
    pub content: String,
    /// What changed, for the model and the user.
    pub diff: Diff,
}

/// Applies `edits` to `original` (the whole file), naming the file `path` in errors.
pub fn edit_text(original: &str, edits: &[EditPair], path: &str) -> Result<Edited, EditError> {
    let (bom, text) = match original.strip_prefix(BOM) {
        Some(rest) => (Some(BOM), rest),
        None => (None, original),
    };
    let crlf = uses_crlf(text);
    let normalized = to_lf(text);
    let (base, new) = apply(&normalized, edits, path)?;
    let diff = diff::diff(&base, &new, path);
    let body = if crlf { new.replace('\n', "\r\n") } else { new };
    let content = bom.map(String::from).unwrap_or_default() + &body;
    Ok(Edited { content, diff })
}

/// Whether the file's first line ending is CRLF.
fn uses_crlf(text: &str) -> bool {
    match (text.find("\r\n"), text.find('\n')) {
        (Some(crlf), Some(lf)) => crlf < lf,
        _ => false,
    }
}

/// Every CRLF and lone CR made LF.
fn to_lf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Where an edit matched.
struct Matched {
    edit: usize,
    start: usize,
    len: usize,
    new_text: String,
}

/// Returns the text the edits were matched in (fuzzy-normalised when any edit needed it) and
/// the result.
fn apply(content: &str, edits: &[EditPair], path: &str) -> Result<(String, String), EditError> {
    if edits.is_empty() {
        return Err(EditError::NoEdits { path: path.into() });
    }
    let several = edits.len() > 1;
    let index = |i: usize| several.then_some(i);
    let pairs: Vec<(String, String)> = edits
        .iter()
        .map(|e| (to_lf(&e.old_text), to_lf(&e.new_text)))
        .collect();
    if let Some(i) = pairs.iter().position(|(old, _)| old.is_empty()) {
        return Err(EditError::EmptyOldText {
            path: path.into(),
            index: index(i),
        });
    }
    let fuzzy = pairs
        .iter()
        .any(|(old, _)| find(content, old).is_some_and(|(_, _, fuzzy)| fuzzy));
    let base = if fuzzy {
        fuzzy::normalize(content)
    } else {
        content.to_owned()
    };
    let mut matched = Vec::new();
    for (i, (old, new)) in pairs.into_iter().enumerate() {
        let Some((start, len, _)) = find(&base, &old) else {
            return Err(EditError::NotFound {
                path: path.into(),
                index: index(i),
            });
        };
        let count = occurrences(&base, &old);
        if count > 1 {
            return Err(EditError::NotUnique {
                path: path.into(),
                index: index(i),
                count,
            });
        }
        matched.push(Matched {
            edit: i,
            start,
            len,
            new_text: new,
        });
    }
    let new = splice(&base, matched, path)?;
    if new == base {
        return Err(EditError::NoChange {
            path: path.into(),
            several,
        });
    }
    Ok((base, new))
}

/// Replaces every match (sorted by position; overlapping ones are an error).
fn splice(base: &str, mut matched: Vec<Matched>, path: &str) -> Result<String, EditError> {
    matched.sort_by_key(|m| m.start);
    for pair in matched.windows(2) {
        if pair[0].start + pair[0].len > pair[1].start {
            return Err(EditError::Overlap {
                path: path.into(),
                first: pair[0].edit,
                second: pair[1].edit,
            });
        }
    }
    let mut out = String::with_capacity(base.len());
    let mut at = 0;
    for m in &matched {
        out.push_str(&base[at..m.start]);
        out.push_str(&m.new_text);
        at = m.start + m.len;
    }
    out.push_str(&base[at..]);
    Ok(out)
}

/// Where `old` is in `content`: exactly, or else in fuzzy-normalised `content` (whose byte
/// offsets the result then refers to). `(start, length, fuzzy)`.
fn find(content: &str, old: &str) -> Option<(usize, usize, bool)> {
    if let Some(start) = content.find(old) {
        return Some((start, old.len(), false));
    }
    let fuzzy_old = fuzzy::normalize(old);
    if fuzzy_old.is_empty() {
        return None;
    }
    fuzzy::normalize(content)
        .find(&fuzzy_old)
        .map(|start| (start, fuzzy_old.len(), true))
}

/// How often `old` occurs in `content`, both fuzzy-normalised (non-overlapping).
fn occurrences(content: &str, old: &str) -> usize {
    let old = fuzzy::normalize(old);
    if old.is_empty() {
        return 0;
    }
    fuzzy::normalize(content).matches(&old).count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair(old: &str, new: &str) -> EditPair {
        EditPair {
            old_text: old.into(),
            new_text: new.into(),
        }
    }

    #[test]
    fn line_endings_are_detected_from_the_first_newline() {
        assert!(uses_crlf("a\r\nb\n"));
        assert!(!uses_crlf("a\nb\r\n"));
        assert!(!uses_crlf("no newline"));
        assert_eq!(to_lf("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn edits_match_the_original_not_each_other() {
        let out = edit_text("a b c\n", &[pair("a", "b"), pair("b", "a")], "f").unwrap();
        assert_eq!(out.content, "b a c\n");
    }
}
