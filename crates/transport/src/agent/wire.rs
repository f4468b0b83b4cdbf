//! The agent's wire format: frames on its SSH channel, no I/O.
//!
//! After a line `TETHER-AGENT-1 <nonce>` (anything before it, such as a login script's
//! output, is skipped), both directions carry frames: a u32 body length, a u8 type, a u32
//! request id, the body (integers big-endian). Requests (tether → agent):
//!
//! | type | body | what |
//! |---|---|---|
//! | `x` | u8 flags (1: no stdin), u32 output credit, string command, u32 n, n strings (name, value, …) | run `bash -c command` |
//! | `i` | bytes | stdin of a command, or data of a file being written |
//! | `c` | — | end of that input |
//! | `g` | u32 bytes | more output credit |
//! | `k` | u8 flags (1: drop its output), u32 grace ms | stop: TERM, grace, KILL to the command's group; a file operation is abandoned |
//! | `r` | u32 output credit, u64 most bytes, path | read a file |
//! | `w` | u8 flags (1: create the directory), u64 length, path NUL directory [NUL ancestors…] | write a file atomically |
//! | `t` | path | stat |
//! | `m` | path [NUL ancestors…] | `mkdir -p` |
//!
//! Replies (agent → tether): `h` hello (id 0: `1 <pid> <exec window> <write window> <shell>`),
//! `o`/`e` stdout/stderr or file data (within the credit given), `a` u32 input bytes consumed
//! (more may be sent), `s` a stat line (`<L|-> <mode hex> <size>`), and `z` the end: u8 kind (0
//! exited with the code, 1 killed by the signal, 2 could not start, 3 a write failed creating
//! its directory), u32 code, u32 pid, then a message. A string is a u32 length and its bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The line that starts the frames; the nonce follows it.
pub(crate) const MARKER: &str = "TETHER-AGENT-1 ";
/// The size of a frame's header.
const HEADER: usize = 9;

/// A frame as read: type, request id, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) id: u32,
    pub(crate) body: Bytes,
}

/// Encodes one frame.
pub(crate) fn frame(kind: u8, id: u32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER + body.len());
    header(&mut out, kind, id, body.len());
    out.put_slice(body);
    out.freeze()
}

fn header(out: &mut BytesMut, kind: u8, id: u32, len: usize) {
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    out.put_u8(kind);
    out.put_u32(id);
}

/// Appends a length-prefixed string.
fn string(out: &mut BytesMut, text: &[u8]) {
    out.put_u32(u32::try_from(text.len()).unwrap_or(u32::MAX));
    out.put_slice(text);
}

/// `x`: run `command` with `env` added, `stdin` false when it gets none.
pub(crate) fn exec(
    id: u32,
    command: &str,
    env: &[(String, String)],
    stdin: bool,
    credit: u32,
) -> Bytes {
    let mut body = BytesMut::new();
    body.put_u8(u8::from(!stdin));
    body.put_u32(credit);
    string(&mut body, command.as_bytes());
    body.put_u32(u32::try_from(env.len() * 2).unwrap_or(0));
    for (name, value) in env {
        string(&mut body, name.as_bytes());
        string(&mut body, value.as_bytes());
    }
    frame(b'x', id, &body)
}

/// `g`, `a`: a count of bytes.
pub(crate) fn count(kind: u8, id: u32, bytes: u32) -> Bytes {
    frame(kind, id, &bytes.to_be_bytes())
}

/// `k`: stop request `id`; `drop_output` when nobody waits for its end.
pub(crate) fn stop(id: u32, grace_ms: u32, drop_output: bool) -> Bytes {
    let mut body = BytesMut::new();
    body.put_u8(u8::from(drop_output));
    body.put_u32(grace_ms);
    frame(b'k', id, &body)
}

/// `r`: read `path`, if it has at most `max` bytes.
pub(crate) fn read(id: u32, path: &str, max: u64, credit: u32) -> Bytes {
    let mut body = BytesMut::new();
    body.put_u32(credit);
    body.put_u64(max);
    body.put_slice(path.as_bytes());
    frame(b'r', id, &body)
}

/// `w`: write `len` bytes to `path` in `dir`, first creating `dir` (its ancestors given) when
/// `create` is `Some`.
pub(crate) fn write(id: u32, path: &str, dir: &str, create: Option<&[String]>, len: u64) -> Bytes {
    let mut body = BytesMut::new();
    body.put_u8(u8::from(create.is_some()));
    body.put_u64(len);
    let mut names = vec![path, dir];
    names.extend(create.unwrap_or_default().iter().map(String::as_str));
    body.put_slice(names.join("\0").as_bytes());
    frame(b'w', id, &body)
}

/// `m`: `mkdir -p path`, its ancestors nearest first.
pub(crate) fn mkdir(id: u32, path: &str, ancestors: &[String]) -> Bytes {
    let mut names = vec![path];
    names.extend(ancestors.iter().map(String::as_str));
    frame(b'm', id, names.join("\0").as_bytes())
}

/// Splits complete frames off the front of `buffer`.
#[derive(Default)]
pub(crate) struct Decoder {
    buffer: BytesMut,
}

impl Decoder {
    /// Adds bytes read from the channel.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, if there is one.
    pub(crate) fn next(&mut self) -> Option<Frame> {
        let mut head = &self.buffer[..self.buffer.len().min(HEADER)];
        if head.len() < HEADER {
            return None;
        }
        let len = head.get_u32() as usize;
        let kind = head.get_u8();
        let id = head.get_u32();
        if self.buffer.len() < HEADER + len {
            return None;
        }
        self.buffer.advance(HEADER);
        let body = self.buffer.split_to(len).freeze();
        Some(Frame { kind, id, body })
    }
}

/// How a request ended, from its `z` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct End {
    /// 0 exited, 1 killed by a signal, 2 could not start, 3 failed creating a directory.
    pub(crate) kind: u8,
    /// The exit code or signal number.
    pub(crate) code: u32,
    /// The command's pid (0 for file operations).
    pub(crate) pid: u32,
    /// Why it failed, when it says.
    pub(crate) message: String,
}

impl End {
    /// Parses a `z` body.
    pub(crate) fn parse(mut body: &[u8]) -> Option<End> {
        if body.len() < 9 {
            return None;
        }
        let kind = body.get_u8();
        let code = body.get_u32();
        let pid = body.get_u32();
        Some(End {
            kind,
            code,
            pid,
            message: String::from_utf8_lossy(body).into_owned(),
        })
    }
}

/// What the agent says about itself in its hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hello {
    /// Its pid.
    pub(crate) pid: u32,
    /// Stdin bytes a command may have in flight towards it.
    pub(crate) exec_window: u32,
    /// Data bytes a file write may have in flight towards it.
    pub(crate) write_window: u32,
    /// The shell commands run in.
    pub(crate) shell: String,
}

impl Hello {
    /// Parses `1 <pid> <exec window> <write window> <shell>`.
    pub(crate) fn parse(body: &[u8]) -> Option<Hello> {
        let text = std::str::from_utf8(body).ok()?;
        let mut fields = text.splitn(5, ' ');
        if fields.next()? != "1" {
            return None;
        }
        Some(Hello {
            pid: fields.next()?.parse().ok()?,
            exec_window: fields.next()?.parse().ok()?,
            write_window: fields.next()?.parse().ok()?,
            shell: fields.next()?.to_owned(),
        })
    }
}

/// A u32 from a 4-byte body (`a`, `g`).
pub(crate) fn parse_count(mut body: &[u8]) -> Option<u32> {
    (body.len() == 4).then(|| body.get_u32())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_split_at_any_boundary_decode_whole() {
        let mut all = Vec::new();
        all.extend_from_slice(&frame(b'o', 7, b"hello"));
        all.extend_from_slice(&count(b'a', 8, 65536));
        all.extend_from_slice(&frame(b'z', 9, b""));
        for cut in 0..all.len() {
            let mut decoder = Decoder::default();
            let mut frames = Vec::new();
            for part in [&all[..cut], &all[cut..]] {
                decoder.extend(part);
                while let Some(frame) = decoder.next() {
                    frames.push((frame.kind, frame.id, frame.body.to_vec()));
                }
            }
            assert_eq!(
                frames,
                vec![
                    (b'o', 7, b"hello".to_vec()),
                    (b'a', 8, vec![0, 1, 0, 0]),
                    (b'z', 9, vec![])
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn requests_encode_their_fields_in_order() {
        let env = vec![("K".to_owned(), "v w".to_owned())];
        let x = exec(3, "echo", &env, false, 256);
        assert_eq!(
            x.to_vec(),
            [
                &[0, 0, 0, 29, b'x', 0, 0, 0, 3, 1, 0, 0, 1, 0][..],
                &[0, 0, 0, 4],
                b"echo",
                &[0, 0, 0, 2, 0, 0, 0, 1],
                b"K",
                &[0, 0, 0, 3],
                b"v w"
            ]
            .concat()
        );
        let w = write(4, "/a/f", "/a", Some(&["/".to_owned()]), 5);
        assert_eq!(&w[9..18], &[1, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&w[18..], b"/a/f\0/a\0/");
        assert_eq!(
            &mkdir(5, "a/b", &["a".into(), ".".into()])[9..],
            b"a/b\0a\0."
        );
    }

    #[test]
    fn ends_and_hellos_parse() {
        let mut body = vec![1, 0, 0, 0, 9, 0, 0, 0, 42];
        body.extend_from_slice(b"why");
        let end = End::parse(&body).unwrap();
        assert_eq!((end.kind, end.code, end.pid), (1, 9, 42));
        assert_eq!(end.message, "why");
        assert_eq!(End::parse(&[0, 1]), None);
        let hello = Hello::parse(b"1 77 1048576 8388608 /usr/bin/bash").unwrap();
        assert_eq!(hello.pid, 77);
        assert_eq!(hello.shell, "/usr/bin/bash");
        assert_eq!(Hello::parse(b"2 77 1 1 /bin/sh"), None);
    }
}
