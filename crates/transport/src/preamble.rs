//! What a login script prints before tether's own output starts.
//!
//! sshd runs every command through the user's login shell, and bash reads `~/.bashrc` for a
//! command started by sshd: whatever it prints (a `pyenv rehash` warning, a banner) comes
//! before the command's own output. tether's wrapper and its agent print a marker first, and
//! everything before it is dropped, so commands give the same output whatever the dotfiles do.

/// The bytes before a marker on one stream, held until the marker shows up.
#[derive(Debug)]
pub(crate) struct Preamble {
    marker: &'static [u8],
    held: Vec<u8>,
    /// What followed the marker on its line (the wrapper's pid), once seen.
    line: Option<Vec<u8>>,
}

/// Most bytes held while waiting for a marker; beyond that, the oldest are dropped.
const HELD_MAX: usize = 64 * 1024;

impl Preamble {
    /// Waits for `marker` followed by the rest of its line.
    pub(crate) fn new(marker: &'static [u8]) -> Preamble {
        Preamble {
            marker,
            held: Vec::new(),
            line: None,
        }
    }

    /// Whether the marker's line has been seen.
    pub(crate) fn seen(&self) -> bool {
        self.line.is_some()
    }

    /// The rest of the marker's line, once seen.
    pub(crate) fn line(&self) -> Option<&[u8]> {
        self.line.as_deref()
    }

    /// Takes bytes from the stream; returns those that follow the marker's line.
    pub(crate) fn take<'a>(&mut self, data: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        if self.line.is_some() {
            return Some(data.into());
        }
        self.held.extend_from_slice(data);
        let start = find(&self.held, self.marker)?;
        let after = start + self.marker.len();
        let end = self.held[after..].iter().position(|b| *b == b'\n')? + after;
        if start > 0 {
            let junk = String::from_utf8_lossy(&self.held[..start]);
            tracing::debug!(%junk, "dropped what the login shell printed before the command");
        }
        self.line = Some(self.held[after..end].to_vec());
        let rest = self.held.split_off(end + 1);
        self.held.clear();
        (!rest.is_empty()).then(|| rest.into())
    }

    /// What was held when the stream ended without a marker (the command never started:
    /// the login shell's own words are the only explanation there is).
    pub(crate) fn leftover(&mut self) -> Vec<u8> {
        if self.held.len() > HELD_MAX {
            self.held.drain(..self.held.len() - HELD_MAX);
        }
        std::mem::take(&mut self.held)
    }
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn feed(preamble: &mut Preamble, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            if let Some(bytes) = preamble.take(part) {
                out.extend_from_slice(&bytes);
            }
        }
        out
    }

    #[test]
    fn noise_before_the_marker_is_dropped_wherever_the_packets_split() {
        let all: &[u8] = b"pyenv: cannot rehash\n\x1etether-pid 1234\nhello\n";
        for cut in 0..all.len() {
            let mut preamble = Preamble::new(b"\x1etether-pid ");
            let out = feed(&mut preamble, &[&all[..cut], &all[cut..]]);
            assert_eq!(out, b"hello\n", "cut at {cut}");
            assert_eq!(preamble.line(), Some(&b"1234"[..]));
        }
    }

    #[test]
    fn a_stream_without_its_marker_keeps_what_it_said() {
        let mut preamble = Preamble::new(b"\x1etether-err");
        assert_eq!(
            feed(&mut preamble, &[b"bash: .bashrc: line 3: oops\n"]),
            b""
        );
        assert!(!preamble.seen());
        assert_eq!(preamble.leftover(), b"bash: .bashrc: line 3: oops\n");
    }
}
