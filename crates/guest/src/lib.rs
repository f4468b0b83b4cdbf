//! `tether-guest`: the init and agent of a tether KVM guest.
//!
//! As PID 1 in the initramfs that `scripts/guest-image.sh` builds, it mounts `/proc`, `/sys`
//! and `/dev`, loads the kernel modules listed in `/modules/order` (with their parameters from
//! the kernel command line), mounts the root filesystem from `/dev/vda`, switches to it, mounts
//! `/tmp`, `/run`, `/dev/pts` and `/dev/shm`, sets the hostname and brings up the network
//! (QEMU user-mode addresses), then serves the [`tether_guest_proto`] protocol on the
//! virtio-serial port named [`tether_guest_proto::PORT_NAME`]. It reaps every zombie, and
//! hands the exit status of the commands it started to the host.
//!
//! `tether-guest --stdio` serves the same protocol on stdin/stdout, as an ordinary process:
//! the host library's tests use it to exercise the agent without a VM.
//!
//! ```no_run
//! // What `tether-guest --stdio` does:
//! tether_guest::serve(std::io::stdin(), std::io::stdout(), false).unwrap();
//! ```

mod agent;
#[cfg(target_os = "linux")]
mod boot;
mod error;
mod exec;
mod files;
mod outbox;
mod port;
mod reaper;
mod table;

pub use agent::serve;
#[cfg(target_os = "linux")]
pub use boot::{boot_as_init, power_off};
pub use error::GuestError;
pub use port::open_port;
