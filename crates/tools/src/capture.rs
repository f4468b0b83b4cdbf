//! Capturing a command's output with bounded memory: the last [`WINDOW`] bytes in memory, line
//! and byte counts of the whole, and, once it outgrows [`MAX_BYTES`], every byte in a local
//! spill file, so the full output can be saved where the command ran.

use std::io::Write;

use crate::ToolError;
use crate::truncate::{self, Limits, MAX_BYTES, Truncation};

/// Bytes of the output's end kept in memory: enough for tail truncation to see every line it
/// could keep, and a partial first line that can never fit.
const WINDOW: usize = 2 * MAX_BYTES;

/// A command's output so far.
#[derive(Default)]
pub(crate) struct Capture {
    tail: Vec<u8>,
    total_bytes: usize,
    newlines: usize,
    /// Bytes since the last newline.
    last_line: usize,
    spill: Option<tempfile::NamedTempFile>,
    spill_error: Option<std::io::Error>,
}

impl Capture {
    /// Adds a chunk (stdout and stderr interleaved as they arrive).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.total_bytes += bytes.len();
        self.newlines += bytes.iter().filter(|b| **b == b'\n').count();
        match bytes.iter().rposition(|b| *b == b'\n') {
            Some(i) => self.last_line = bytes.len() - i - 1,
            None => self.last_line += bytes.len(),
        }
        if self.total_bytes > MAX_BYTES && self.spill.is_none() && self.spill_error.is_none() {
            match tempfile::Builder::new().prefix("tether-bash-").tempfile() {
                Ok(mut file) => match file.write_all(&self.tail) {
                    Ok(()) => self.spill = Some(file),
                    Err(e) => self.spill_error = Some(e),
                },
                Err(e) => self.spill_error = Some(e),
            }
        }
        if let Some(file) = &mut self.spill
            && let Err(e) = file.write_all(bytes)
        {
            self.spill = None;
            self.spill_error = Some(e);
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * WINDOW {
            self.tail.drain(..self.tail.len() - WINDOW);
        }
    }

    /// pi's tail truncation of the whole output (counts are of the whole, not the window).
    pub(crate) fn truncation(&self) -> Truncation {
        let text = String::from_utf8_lossy(&self.tail);
        let mut result = truncate::truncate_tail(&text, Limits::default());
        let total_lines = self.newlines + 1;
        if total_lines > result.total_lines || self.total_bytes > result.total_bytes {
            result.truncated = true;
        }
        result.total_lines = total_lines;
        result.total_bytes = self.total_bytes;
        result
    }

    /// The size of the last line of the whole output, in bytes.
    pub(crate) fn last_line_bytes(&self) -> usize {
        self.last_line
    }

    /// The whole output: the spill file, or the bytes in memory when it never spilled.
    pub(crate) fn into_full(self) -> Result<Full, ToolError> {
        if let Some(source) = self.spill_error {
            return Err(ToolError::Io {
                context: "saving a long command output to a temporary file",
                source,
            });
        }
        Ok(match self.spill {
            Some(file) => Full::Spilled(file, self.total_bytes),
            None => Full::Memory(self.tail),
        })
    }
}

/// A command's whole output.
pub(crate) enum Full {
    /// In a local temporary file, with its length.
    Spilled(tempfile::NamedTempFile, usize),
    /// In memory.
    Memory(Vec<u8>),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_long_output_is_counted_whole_and_spilled() {
        let mut capture = Capture::default();
        let line = "0123456789\n";
        for _ in 0..30_000 {
            capture.push(line.as_bytes());
        }
        let t = capture.truncation();
        assert_eq!((t.total_lines, t.total_bytes), (30_001, 330_000));
        assert_eq!(t.output_lines, 2000);
        assert!(t.content.starts_with("0123456789\n") && t.content.ends_with("0123456789\n"));
        match capture.into_full().unwrap() {
            Full::Spilled(file, len) => {
                assert_eq!(len, 330_000);
                assert_eq!(std::fs::read(file.path()).unwrap().len(), 330_000);
            }
            Full::Memory(_) => panic!("a 330 KB output spills"),
        }
    }

    #[test]
    fn a_huge_last_line_is_measured_whole() {
        let mut capture = Capture::default();
        capture.push(b"start\n");
        for _ in 0..100 {
            capture.push(&[b'x'; 4096]);
        }
        assert_eq!(capture.last_line_bytes(), 409_600);
        assert!(capture.truncation().last_line_partial);
    }
}
