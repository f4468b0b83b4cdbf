//! The Linux implementation: the host side (`vm`, `channel`, `process`, `stream`, `fs`,
//! `confined`, `disk`) and the VM's init (`init`), talking over `protocol`.

mod channel;
mod confined;
mod disk;
mod fs;
mod init;
mod process;
mod protocol;
mod stream;
mod tree;
mod tty;
mod vm;

pub(crate) use disk::{copy_disk, create_disk, disk_usage, remove_disk};
pub(crate) use fs::VmFs;
pub(crate) use init::init_main;
pub(crate) use process::{ProcessHandle, Signaller};
pub(crate) use stream::Pty;
pub(crate) use vm::Vm;
