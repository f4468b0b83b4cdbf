//! The parts of glob and grep that every target shares: planning a walk from a glob pattern,
//! matching, and parsing `find` and `grep` output. Sharing them is what makes the results of
//! the local machine and a remote host the same.

use globset::{GlobBuilder, GlobMatcher};

use crate::{DirEntry, FileKind, GrepMatch, TargetError};

/// How to find the entries matching a glob pattern: where to start and how deep to go.
#[derive(Clone, Debug)]
pub(crate) struct GlobPlan {
    /// The literal leading directories of the pattern (`.` when there are none).
    pub(crate) base: String,
    /// How many levels below `base` can match; `None` when `**` or `{…}` allow any depth.
    pub(crate) max_depth: Option<usize>,
    matcher: GlobMatcher,
}

impl GlobPlan {
    /// Plans `pattern` (relative to the searched directory).
    pub(crate) fn new(pattern: &str) -> Result<GlobPlan, TargetError> {
        let pattern = pattern.trim_start_matches("./");
        let invalid = |reason: String| TargetError::InvalidPattern {
            pattern: pattern.into(),
            reason,
        };
        if pattern.is_empty() || pattern.starts_with('/') {
            return Err(invalid(
                "a glob pattern must be a non-empty path relative to the directory".into(),
            ));
        }
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| invalid(e.kind().to_string()))?
            .compile_matcher();
        let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
        let literal = components
            .iter()
            .take(components.len() - 1)
            .take_while(|c| !is_magic(c))
            .count();
        let base = if literal == 0 {
            ".".into()
        } else {
            components[..literal].join("/")
        };
        let unbounded = pattern.contains("**") || pattern.contains('{');
        let max_depth = (!unbounded).then_some(components.len() - literal);
        Ok(GlobPlan {
            base,
            max_depth,
            matcher,
        })
    }

    /// Whether the relative path `path` matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }

    /// The matching entries among `candidates`, sorted.
    pub(crate) fn select(&self, candidates: impl IntoIterator<Item = DirEntry>) -> Vec<DirEntry> {
        let mut found: Vec<DirEntry> = candidates
            .into_iter()
            .filter(|e| self.matches(&e.path))
            .collect();
        found.sort();
        found
    }
}

fn is_magic(component: &str) -> bool {
    component.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// The kind of a `find -printf %y` letter.
fn kind_of_letter(letter: u8) -> FileKind {
    match letter {
        b'f' => FileKind::File,
        b'd' => FileKind::Dir,
        b'l' => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// Parses NUL-terminated `<type letter> <path>` records; a leading `./` is dropped.
pub(crate) fn parse_find(output: &[u8]) -> Vec<DirEntry> {
    output
        .split(|b| *b == 0)
        .filter(|record| record.len() > 2)
        .map(|record| {
            let path = String::from_utf8_lossy(&record[2..]);
            let path = path.strip_prefix("./").unwrap_or(&path).to_owned();
            DirEntry {
                path,
                kind: kind_of_letter(record[0]),
            }
        })
        .collect()
}

/// Parses `grep -nHZ` output (`path NUL line:text NEWLINE`), sorted by path and line.
pub(crate) fn parse_grep(output: &[u8]) -> Vec<GrepMatch> {
    let mut matches = Vec::new();
    let mut rest = output;
    while let Some(nul) = rest.iter().position(|b| *b == 0) {
        let path = String::from_utf8_lossy(&rest[..nul]);
        let path = path.strip_prefix("./").unwrap_or(&path).to_owned();
        rest = &rest[nul + 1..];
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let record = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        let Some(colon) = record.iter().position(|b| *b == b':') else {
            continue;
        };
        let Ok(line) = String::from_utf8_lossy(&record[..colon]).parse() else {
            continue;
        };
        let text = String::from_utf8_lossy(&record[colon + 1..]).into_owned();
        matches.push(GrepMatch { path, line, text });
    }
    matches.sort();
    matches
}

/// Runs [`crate::script::grep`] on `target` and parses its matches.
pub(crate) async fn grep(
    target: &(impl crate::Target + ?Sized),
    dir: &str,
    query: &crate::GrepQuery,
) -> Result<Vec<GrepMatch>, TargetError> {
    let output = crate::script::grep(dir, query, crate::SEARCH_TIMEOUT)
        .output(target)
        .await?;
    Ok(parse_grep(&output))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_plan_starts_at_the_literal_prefix_and_bounds_the_depth() {
        let plan = GlobPlan::new("src/bin/*.rs").unwrap();
        assert_eq!((plan.base.as_str(), plan.max_depth), ("src/bin", Some(1)));
        let plan = GlobPlan::new("**/*.rs").unwrap();
        assert_eq!((plan.base.as_str(), plan.max_depth), (".", None));
        let plan = GlobPlan::new("./main.rs").unwrap();
        assert_eq!((plan.base.as_str(), plan.max_depth), (".", Some(1)));
        let plan = GlobPlan::new("a/*/c/*.txt").unwrap();
        assert_eq!((plan.base.as_str(), plan.max_depth), ("a", Some(3)));
    }

    #[test]
    fn star_stays_in_one_component_and_double_star_spans_many() {
        let plan = GlobPlan::new("*.rs").unwrap();
        assert!(plan.matches("a.rs") && !plan.matches("src/a.rs"));
        let plan = GlobPlan::new("**/*.rs").unwrap();
        assert!(plan.matches("a.rs") && plan.matches("src/x/a.rs") && !plan.matches("a.rsx"));
        let plan = GlobPlan::new("{a,b}/[xy]?.md").unwrap();
        assert!(plan.matches("b/x1.md") && !plan.matches("c/x1.md"));
    }

    #[test]
    fn bad_patterns_are_typed_errors() {
        assert!(matches!(
            GlobPlan::new("[a"),
            Err(TargetError::InvalidPattern { .. })
        ));
        assert!(matches!(
            GlobPlan::new("/etc/*"),
            Err(TargetError::InvalidPattern { .. })
        ));
        assert!(matches!(
            GlobPlan::new(""),
            Err(TargetError::InvalidPattern { .. })
        ));
    }

    #[test]
    fn find_records_parse_with_kinds_and_odd_names() {
        let out = b"f ./a b\0d ./dir\0l ./link\0p ./fifo\0f ./new\nline\0";
        let names: Vec<(String, FileKind)> = parse_find(out)
            .into_iter()
            .map(|e| (e.path, e.kind))
            .collect();
        let expected = [
            ("a b", FileKind::File),
            ("dir", FileKind::Dir),
            ("link", FileKind::Symlink),
            ("fifo", FileKind::Other),
            ("new\nline", FileKind::File),
        ];
        assert_eq!(names, expected.map(|(p, k)| (p.to_owned(), k)));
    }

    #[test]
    fn grep_records_parse_and_sort() {
        let out = b"./b.txt\x0012:x: y\n./a\nb.txt\x003:hit\n./a\nb.txt\x001:first\n";
        let found = parse_grep(out);
        let lines: Vec<(&str, u64, &str)> = found
            .iter()
            .map(|m| (m.path.as_str(), m.line, m.text.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("a\nb.txt", 1, "first"),
                ("a\nb.txt", 3, "hit"),
                ("b.txt", 12, "x: y")
            ]
        );
    }
}
