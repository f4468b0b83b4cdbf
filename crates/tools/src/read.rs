//! `read`: a text file with pi's head truncation and continuation hints, or an image as
//! image content.

use base64::Engine;
use serde_json::json;

use crate::args::ReadArgs;
use crate::truncate::{self, Limits, MAX_BYTES, TruncatedBy, format_size};
use crate::{Content, ToolError, ToolOutput, Workspace};

/// The largest file `read` loads.
pub const MAX_READ_BYTES: u64 = 256 * 1024 * 1024;
/// The largest image `read` attaches (pi shrinks bigger ones; tether does not resize).
pub const MAX_IMAGE_BYTES: usize = 4_500_000;

/// Reads `args.path`: an image (png, jpeg, gif, webp) as image content, anything else as
/// UTF-8 text from line `offset`, at most `limit` lines, cut to 2000 lines / 50 KB with pi's
/// hint on how to continue.
pub async fn read(ws: &Workspace, args: ReadArgs) -> Result<ToolOutput, ToolError> {
    let path = ws.resolve(&args.path);
    let (meta, bytes) = ws.target().read_file_within(&path, MAX_READ_BYTES).await?;
    let Some(bytes) = bytes else {
        return Err(ToolError::TooLarge {
            path: args.path,
            size: meta.size,
            max: MAX_READ_BYTES,
        });
    };
    match image_type(&bytes) {
        Some(mime) => Ok(image(&bytes, mime)),
        None => text(&String::from_utf8_lossy(&bytes), &args),
    }
}

/// The image type of `bytes`, by their magic numbers.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn image(bytes: &[u8], mime: &str) -> ToolOutput {
    let label = format!("Read image file [{mime}]");
    if bytes.len() > MAX_IMAGE_BYTES {
        return ToolOutput::text(format!(
            "{label}\n[The image is {}, over the {} that can be attached; make a smaller copy (e.g. with ImageMagick's convert -resize) and read that]",
            format_size(bytes.len()),
            format_size(MAX_IMAGE_BYTES)
        ));
    }
    ToolOutput {
        content: vec![
            Content::Text { text: label },
            Content::Image {
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
                mime_type: mime.to_owned(),
            },
        ],
        details: None,
    }
}

/// pi's text read.
fn text(content: &str, args: &ReadArgs) -> Result<ToolOutput, ToolError> {
    let lines: Vec<&str> = content.split('\n').collect();
    let start = args.offset.map_or(0, |o| o.saturating_sub(1)) as usize;
    if start >= lines.len() {
        return Err(ToolError::OffsetBeyondEnd {
            offset: args.offset.unwrap_or(0),
            total: lines.len(),
        });
    }
    let end = args.limit.map_or(lines.len(), |l| {
        start.saturating_add(l as usize).min(lines.len())
    });
    let truncation = truncate::truncate_head(&lines[start..end].join("\n"), Limits::default());
    let first = start + 1;
    if truncation.first_line_exceeds_limit {
        let text = format!(
            "[Line {first} is {}, exceeds {} limit. Use bash: sed -n '{first}p' {} | head -c {MAX_BYTES}]",
            format_size(lines[start].len()),
            format_size(MAX_BYTES),
            args.path
        );
        return Ok(ToolOutput::text(text).with_details(json!({ "truncation": truncation })));
    }
    if truncation.truncated {
        let last = first + truncation.output_lines - 1;
        let limit = match truncation.truncated_by {
            Some(TruncatedBy::Bytes) => format!(" ({} limit)", format_size(MAX_BYTES)),
            _ => String::new(),
        };
        let text = format!(
            "{}\n\n[Showing lines {first}-{last} of {}{limit}. Use offset={} to continue.]",
            truncation.content,
            lines.len(),
            last + 1
        );
        return Ok(ToolOutput::text(text).with_details(json!({ "truncation": truncation })));
    }
    if args.limit.is_some() && end < lines.len() {
        let text = format!(
            "{}\n\n[{} more lines in file. Use offset={} to continue.]",
            truncation.content,
            lines.len() - end,
            end + 1
        );
        return Ok(ToolOutput::text(text));
    }
    Ok(ToolOutput::text(truncation.content))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn read_text(content: &str, offset: Option<u64>, limit: Option<u64>) -> String {
        let args = ReadArgs {
            path: "f.txt".into(),
            offset,
            limit,
        };
        match text(content, &args) {
            Ok(out) => out.joined_text(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn offset_and_limit_give_pi_hints() {
        let content = "a\nb\nc\nd\n";
        assert_eq!(read_text(content, None, None), content);
        assert_eq!(
            read_text(content, Some(2), Some(2)),
            "b\nc\n\n[2 more lines in file. Use offset=4 to continue.]"
        );
        assert_eq!(
            read_text(content, Some(9), None),
            "error: Offset 9 is beyond end of file (5 lines total)"
        );
    }

    #[test]
    fn long_files_stop_at_2000_lines_with_a_continuation_hint() {
        let content: String = (1..=2500).map(|i| format!("{i}\n")).collect();
        let out = read_text(&content, None, None);
        assert!(
            out.ends_with("2000\n\n[Showing lines 1-2000 of 2501. Use offset=2001 to continue.]")
        );
        let long_line = "x".repeat(MAX_BYTES + 1);
        assert_eq!(
            read_text(&long_line, None, None),
            format!(
                "[Line 1 is 50.0KB, exceeds 50.0KB limit. Use bash: sed -n '1p' f.txt | head -c {MAX_BYTES}]"
            )
        );
    }

    #[test]
    fn images_are_recognised_by_magic_numbers() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(image_type(b"plain text"), None);
    }
}
