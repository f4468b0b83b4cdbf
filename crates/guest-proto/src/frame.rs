//! Framing: two big-endian `u32` lengths, a JSON header, raw payload bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};

/// The largest header accepted, in bytes; a larger length means a corrupt stream.
pub const MAX_HEADER: usize = 1 << 20;
/// The largest payload accepted, in bytes; senders split bulk data into chunks below it.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// A frame that could not be read, written or understood.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The byte stream failed.
    #[error("agent channel I/O failed: {0}")]
    Io(#[from] io::Error),
    /// A length field is over its limit: the stream is corrupt or not this protocol.
    #[error(
        "frame {part} length {len} exceeds the limit {limit}: the channel is corrupt or speaks another protocol; restart the VM"
    )]
    TooLarge {
        /// `header` or `payload`.
        part: &'static str,
        /// The length read.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The header is not a message of the expected kind.
    #[error(
        "frame header is not a valid message ({source}); host and guest protocol versions may differ: rebuild the guest image"
    )]
    Json {
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// The two lengths at the start of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLengths {
    /// Header bytes that follow.
    pub header: usize,
    /// Payload bytes after the header.
    pub payload: usize,
}

impl FrameLengths {
    /// Parses and checks the 8 length bytes.
    pub fn parse(bytes: [u8; 8]) -> Result<Self, FrameError> {
        let header = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let payload = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        check("header", header, MAX_HEADER)?;
        check("payload", payload, MAX_PAYLOAD)?;
        Ok(Self { header, payload })
    }
}

fn check(part: &'static str, len: usize, limit: usize) -> Result<(), FrameError> {
    if len > limit {
        return Err(FrameError::TooLarge { part, len, limit });
    }
    Ok(())
}

/// Encodes one frame: lengths, `message` as JSON, `payload`.
pub fn encode_frame<M: Serialize>(message: &M, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let header = serde_json::to_vec(message).map_err(|source| FrameError::Json { source })?;
    check("header", header.len(), MAX_HEADER)?;
    check("payload", payload.len(), MAX_PAYLOAD)?;
    let mut frame = Vec::with_capacity(8 + header.len() + payload.len());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Parses a header's JSON.
pub fn decode_header<M: DeserializeOwned>(bytes: &[u8]) -> Result<M, FrameError> {
    serde_json::from_slice(bytes).map_err(|source| FrameError::Json { source })
}

/// Writes one frame with a single `write_all`, so frames from several threads sharing a
/// locked writer never interleave.
pub fn write_frame<M: Serialize, W: Write>(
    writer: &mut W,
    message: &M,
    payload: &[u8],
) -> Result<(), FrameError> {
    writer.write_all(&encode_frame(message, payload)?)?;
    writer.flush()?;
    Ok(())
}

/// Reads one frame; `Ok(None)` on a clean end of stream before its first byte.
pub fn read_frame<M: DeserializeOwned, R: Read>(
    reader: &mut R,
) -> Result<Option<(M, Vec<u8>)>, FrameError> {
    let mut lengths = [0u8; 8];
    if !read_exact_or_eof(reader, &mut lengths)? {
        return Ok(None);
    }
    let lengths = FrameLengths::parse(lengths)?;
    let mut header = vec![0u8; lengths.header];
    reader.read_exact(&mut header)?;
    let mut payload = vec![0u8; lengths.payload];
    reader.read_exact(&mut payload)?;
    Ok(Some((decode_header(&header)?, payload)))
}

/// Fills `buf`; `false` when the stream ended before any byte, an error when it ended inside.
fn read_exact_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Event, Request, Stream};

    #[test]
    fn frames_round_trip_back_to_back() {
        let mut stream = Vec::new();
        write_frame(&mut stream, &Request::Stdin { id: 1 }, b"abc").unwrap();
        write_frame(&mut stream, &Request::CloseStdin { id: 1 }, b"").unwrap();
        let mut reader = stream.as_slice();
        let first: Option<(Request, Vec<u8>)> = read_frame(&mut reader).unwrap();
        let second: Option<(Request, Vec<u8>)> = read_frame(&mut reader).unwrap();
        let end: Option<(Request, Vec<u8>)> = read_frame(&mut reader).unwrap();
        assert_eq!(first, Some((Request::Stdin { id: 1 }, b"abc".to_vec())));
        assert_eq!(second, Some((Request::CloseStdin { id: 1 }, Vec::new())));
        assert_eq!(end, None);
    }

    #[test]
    fn header_json_is_tagged_snake_case() {
        let event = Event::Eof {
            id: 3,
            stream: Stream::Stderr,
        };
        let frame = encode_frame(&event, b"").unwrap();
        assert_eq!(&frame[8..], br#"{"type":"eof","id":3,"stream":"stderr"}"#);
    }

    #[test]
    fn oversized_length_is_rejected_before_allocating() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = read_frame::<Request, _>(&mut bytes.as_slice()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "frame payload length {} exceeds the limit {MAX_PAYLOAD}: the channel is corrupt or speaks another protocol; restart the VM",
                u32::MAX
            )
        );
    }

    #[test]
    fn truncated_frame_is_an_error_not_an_end() {
        let frame = encode_frame(&Request::Stdin { id: 1 }, b"abcdef").unwrap();
        let err = read_frame::<Request, _>(&mut &frame[..frame.len() - 2]).unwrap_err();
        assert!(matches!(err, FrameError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }
}
