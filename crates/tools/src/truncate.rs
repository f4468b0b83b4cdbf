//! Output truncation exactly as pi does it: at most [`MAX_LINES`] lines or [`MAX_BYTES`] bytes,
//! whichever comes first, keeping the head (file reads, listings) or the tail (command output).
//!
//! Lines are what splitting on `\n` gives, so a text ending in a newline has an empty last line
//! (`"a\n"` is two lines), and byte counts are UTF-8 bytes.

use serde::Serialize;

/// The most lines a tool returns.
pub const MAX_LINES: usize = 2000;
/// The most bytes a tool returns (50 KB).
pub const MAX_BYTES: usize = 50 * 1024;
/// The longest line grep shows, in characters.
pub const GREP_MAX_LINE_CHARS: usize = 500;

/// Which limit cut the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TruncatedBy {
    /// The line limit.
    Lines,
    /// The byte limit.
    Bytes,
}

/// What truncation kept, pi's `TruncationResult` (camelCase in JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Truncation {
    /// The text kept.
    pub content: String,
    /// Whether anything was cut.
    pub truncated: bool,
    /// Which limit cut it, if one did.
    pub truncated_by: Option<TruncatedBy>,
    /// Lines in the whole text.
    pub total_lines: usize,
    /// Bytes in the whole text.
    pub total_bytes: usize,
    /// Lines kept.
    pub output_lines: usize,
    /// Bytes kept.
    pub output_bytes: usize,
    /// Tail truncation kept only the end of the last line (it alone is over the byte limit).
    pub last_line_partial: bool,
    /// Head truncation kept nothing: the first line alone is over the byte limit.
    pub first_line_exceeds_limit: bool,
    /// The line limit used.
    pub max_lines: usize,
    /// The byte limit used.
    pub max_bytes: usize,
}

/// The limits to truncate to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// At most this many lines.
    pub max_lines: usize,
    /// At most this many bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_lines: MAX_LINES,
            max_bytes: MAX_BYTES,
        }
    }
}

impl Limits {
    /// Only the byte limit (listings, search results).
    pub fn bytes_only() -> Limits {
        Limits {
            max_lines: usize::MAX,
            ..Limits::default()
        }
    }

    fn untouched(self, text: &str, total_lines: usize) -> Truncation {
        Truncation {
            content: text.to_owned(),
            truncated: false,
            truncated_by: None,
            total_lines,
            total_bytes: text.len(),
            output_lines: total_lines,
            output_bytes: text.len(),
            last_line_partial: false,
            first_line_exceeds_limit: false,
            max_lines: self.max_lines,
            max_bytes: self.max_bytes,
        }
    }
}

/// Keeps the first lines of `text` that fit `limits` (whole lines only).
pub fn truncate_head(text: &str, limits: Limits) -> Truncation {
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() <= limits.max_lines && text.len() <= limits.max_bytes {
        return limits.untouched(text, lines.len());
    }
    let mut result = limits.untouched("", lines.len());
    result.total_bytes = text.len();
    result.truncated = true;
    if lines[0].len() > limits.max_bytes {
        result.truncated_by = Some(TruncatedBy::Bytes);
        result.output_lines = 0;
        result.first_line_exceeds_limit = true;
        return result;
    }
    let mut bytes = 0;
    let mut kept = 0;
    let mut by = TruncatedBy::Lines;
    for (i, line) in lines.iter().enumerate().take(limits.max_lines) {
        let cost = line.len() + usize::from(i > 0);
        if bytes + cost > limits.max_bytes {
            by = TruncatedBy::Bytes;
            break;
        }
        bytes += cost;
        kept += 1;
    }
    if kept >= limits.max_lines {
        by = TruncatedBy::Lines;
    }
    result.content = lines[..kept].join("\n");
    result.truncated_by = Some(by);
    result.output_lines = kept;
    result.output_bytes = result.content.len();
    result
}

/// Keeps the last lines of `text` that fit `limits`; when the last line alone is too long,
/// keeps its end.
pub fn truncate_tail(text: &str, limits: Limits) -> Truncation {
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() <= limits.max_lines && text.len() <= limits.max_bytes {
        return limits.untouched(text, lines.len());
    }
    let mut result = limits.untouched("", lines.len());
    result.total_bytes = text.len();
    result.truncated = true;
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes = 0;
    let mut by = TruncatedBy::Lines;
    for line in lines.iter().rev() {
        if kept.len() >= limits.max_lines {
            break;
        }
        let cost = line.len() + usize::from(!kept.is_empty());
        if bytes + cost > limits.max_bytes {
            by = TruncatedBy::Bytes;
            if kept.is_empty() {
                let end = tail_bytes(line, limits.max_bytes);
                bytes = end.len();
                kept.push(end);
                result.last_line_partial = true;
            }
            break;
        }
        kept.push(line);
        bytes += cost;
    }
    if kept.len() >= limits.max_lines && bytes <= limits.max_bytes {
        by = TruncatedBy::Lines;
    }
    kept.reverse();
    result.content = kept.join("\n");
    result.truncated_by = Some(by);
    result.output_lines = kept.len();
    result.output_bytes = result.content.len();
    result
}

/// The longest end of `line` of at most `max` bytes that starts on a character boundary.
fn tail_bytes(line: &str, max: usize) -> &str {
    let mut start = line.len().saturating_sub(max);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    &line[start..]
}

/// `line` cut to `max` characters with `... [truncated]` appended, and whether it was cut.
pub fn truncate_line(line: &str, max: usize) -> (String, bool) {
    match line.char_indices().nth(max) {
        None => (line.to_owned(), false),
        Some((cut, _)) => (format!("{}... [truncated]", &line[..cut]), true),
    }
}

/// A size as pi prints it: `512B`, `50.0KB`, `1.5MB`.
pub fn format_size(bytes: usize) -> String {
    const KB: usize = 1024;
    if bytes < KB {
        format!("{bytes}B")
    } else if bytes < KB * KB {
        format!("{:.1}KB", bytes as f64 / KB as f64)
    } else {
        format!("{:.1}MB", bytes as f64 / (KB * KB) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(max_lines: usize, max_bytes: usize) -> Limits {
        Limits {
            max_lines,
            max_bytes,
        }
    }

    #[test]
    fn text_within_limits_is_untouched() {
        let t = truncate_head("a\nb\n", Limits::default());
        assert!(!t.truncated);
        assert_eq!(
            (t.total_lines, t.output_lines, t.content.as_str()),
            (3, 3, "a\nb\n")
        );
    }

    #[test]
    fn head_keeps_whole_lines_up_to_either_limit() {
        let t = truncate_head("1\n2\n3\n4", small(2, 100));
        assert_eq!(t.content, "1\n2");
        assert_eq!(t.truncated_by, Some(TruncatedBy::Lines));
        let t = truncate_head("aaa\nbbb\nccc", small(10, 8));
        assert_eq!(
            (t.content.as_str(), t.truncated_by),
            ("aaa\nbbb", Some(TruncatedBy::Bytes))
        );
        let t = truncate_head("toolong\nx", small(10, 5));
        assert!(t.first_line_exceeds_limit);
        assert_eq!((t.content.as_str(), t.output_lines), ("", 0));
    }

    #[test]
    fn tail_keeps_the_end_and_a_partial_last_line() {
        let t = truncate_tail("1\n2\n3\n4\n", small(2, 100));
        assert_eq!((t.content.as_str(), t.total_lines), ("4\n", 5));
        let t = truncate_tail("x\nabcdefgh", small(10, 4));
        assert!(t.last_line_partial);
        assert_eq!(
            (t.content.as_str(), t.truncated_by),
            ("efgh", Some(TruncatedBy::Bytes))
        );
        // Never splits a character: "é" is two bytes.
        let t = truncate_tail("éééé", small(10, 3));
        assert_eq!(t.content, "é");
    }

    #[test]
    fn sizes_and_lines_print_like_pi() {
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(MAX_BYTES), "50.0KB");
        assert_eq!(format_size(3 * 1024 * 1024 / 2), "1.5MB");
        assert_eq!(
            truncate_line("abcdef", 3),
            ("abc... [truncated]".into(), true)
        );
        assert_eq!(truncate_line("abc", 3), ("abc".into(), false));
    }
}
