//! The protocol between a KVM host and `tether-guest`, the guest's PID 1, over one
//! virtio-serial port (or any byte stream: the agent also speaks it on stdio for tests).
//!
//! # Wire format
//!
//! The stream is a sequence of frames, each:
//!
//! ```text
//! u32 big-endian  header length H   (at most MAX_HEADER)
//! u32 big-endian  payload length P  (at most MAX_PAYLOAD)
//! H bytes         the message as JSON (a `Request` host→guest, an `Event` guest→host)
//! P bytes         raw payload bytes (stdin, stdout, stderr, file contents), else empty
//! ```
//!
//! JSON keeps the headers readable in a hex dump and versionable; raw payloads keep bulk data
//! at its own size. Messages are internally tagged (`{"type":"exec","id":1,...}`) with
//! snake_case names. Every request that starts something carries an `id` chosen by the host;
//! every event about it carries the same `id`, so many commands and file operations run at
//! once over the one stream.
//!
//! # Session
//!
//! 1. The guest sends [`Event::Hello`] as soon as it has opened the port.
//! 2. The host sends requests; the guest answers with events, in any interleaving across ids.
//! 3. An exec produces `Started`, then `Stdout`/`Stderr` chunks, an `Eof` per stream and one
//!    `Exited`, or a single `Failed`. `Exited` may arrive before the last output chunks: a
//!    caller that wants all output waits for both `Eof`s and `Exited`.
//! 4. A file operation produces its answer (`Data`… then `Done`, `Stat`, `Entries`, `Done`)
//!    or `Failed`.
//!
//! ```
//! use tether_guest_proto::{decode_header, encode_frame, FrameLengths, Request};
//! let frame = encode_frame(&Request::Stdin { id: 7 }, b"hello\n").unwrap();
//! let lengths = FrameLengths::parse(frame[..8].try_into().unwrap()).unwrap();
//! let header: Request = decode_header(&frame[8..8 + lengths.header]).unwrap();
//! assert_eq!(header, Request::Stdin { id: 7 });
//! assert_eq!(&frame[8 + lengths.header..], b"hello\n");
//! ```

mod frame;
mod message;

pub use frame::{
    FrameError, FrameLengths, MAX_HEADER, MAX_PAYLOAD, decode_header, encode_frame, read_frame,
    write_frame,
};
pub use message::{
    DirEntry, ErrorKind, Event, FileKind, FileStat, PROTOCOL_VERSION, PtySize, Request, Stream,
};

/// The virtio-serial port name the host gives the agent's channel (`-device
/// virtserialport,name=...`); the guest finds its device through `/sys/class/virtio-ports`.
pub const PORT_NAME: &str = "org.tether.agent";
