//! tether-kvm: QEMU microVMs whose PID 1 is `tether-guest`, and the async client for that
//! agent.
//!
//! - [`GuestImage`] runs `scripts/guest-image.sh` (cached kernel, initramfs, root image).
//! - [`Vm`] starts `qemu-system-x86_64 -M microvm` on a copy-on-write overlay of the root
//!   image, with the agent's virtio-serial port on a Unix socket this process listens on,
//!   and waits for the agent's hello.
//! - [`AgentClient`] multiplexes commands ([`Exec`]) and file operations over that one port;
//!   it works over any byte stream (the tests also drive `tether-guest --stdio`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_kvm::KvmError> {
//! let image = tether_kvm::GuestImage::build(std::path::Path::new("scripts/guest-image.sh")).await?;
//! let vm = tether_kvm::Vm::start(tether_kvm::VmConfig::new(image)).await?;
//! let out = vm.agent().output(["echo", "hi"]).await?;
//! assert_eq!(out.stdout, b"hi\n");
//! vm.shutdown().await?;
//! # Ok(()) }
//! ```

mod agent;
mod clock;
mod error;
mod exec;
mod files;
mod image;
mod machine;

pub use agent::{AgentClient, ExecRequest, Hello, REPLY_TIMEOUT};
pub use error::KvmError;
pub use exec::{Exec, ExecEvent, ExecOutput};
pub use image::GuestImage;
pub use machine::{Accel, Vm, VmConfig, probe_accel};
pub use tether_guest_proto::{DirEntry, ErrorKind, FileKind, FileStat, PtySize, Stream};
