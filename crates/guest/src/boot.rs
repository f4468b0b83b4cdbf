//! Booting as PID 1: from the initramfs to the root filesystem, then the system mounts,
//! hostname and network a command expects.

use crate::error::GuestError;
use nix::kmod::{ModuleInitFlags, finit_module};
use nix::mount::{MsFlags, mount};
use nix::sys::reboot::{RebootMode, reboot};
use std::ffi::CString;
use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The initramfs's list of modules to load, in dependency order (written by
/// `scripts/guest-image.sh`).
const MODULE_ORDER: &str = "/modules/order";
/// The root filesystem's device: the first virtio block device.
const ROOT_DEVICE: &str = "/dev/vda";
/// How long the root device may take to appear once virtio_blk is loaded.
const ROOT_WAIT: Duration = Duration::from_secs(10);
/// QEMU user-mode networking: the guest's address, the gateway.
const GUEST_ADDRESS: &str = "10.0.2.15/24";
const GATEWAY: &str = "10.0.2.2";

/// Brings the guest from the kernel's hand-over to a usable system. In the initramfs it
/// loads the modules, mounts `/dev/vda` and switches root to it first.
pub fn boot_as_init() -> Result<(), GuestError> {
    mount_fs("proc", "/proc", "proc", MsFlags::empty(), None)?;
    mount_fs("sysfs", "/sys", "sysfs", MsFlags::empty(), None)?;
    mount_fs("devtmpfs", "/dev", "devtmpfs", MsFlags::empty(), None)?;
    if Path::new(MODULE_ORDER).exists() {
        load_modules()?;
        wait_for(ROOT_DEVICE)?;
        fs::create_dir_all("/newroot").map_err(|e| GuestError::io("mkdir", "/newroot", e))?;
        mount_fs(ROOT_DEVICE, "/newroot", "ext4", MsFlags::empty(), None)?;
        switch_root("/newroot")?;
    }
    system_mounts()?;
    set_hostname();
    configure_network();
    Ok(())
}

/// Syncs and stops the machine: a reboot, which QEMU started with `-no-reboot` turns into
/// its exit. Never returns.
pub fn power_off() -> ! {
    nix::unistd::sync();
    let _ = reboot(RebootMode::RB_AUTOBOOT);
    loop {
        std::thread::park();
    }
}

fn mount_fs(
    source: &str,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), GuestError> {
    match mount(Some(source), target, Some(fstype), flags, data) {
        Ok(()) | Err(nix::errno::Errno::EBUSY) => Ok(()),
        Err(e) => Err(GuestError::sys("mount", target, e)),
    }
}

/// Loads each module in `/modules/order`, passing it the `<module>.<param>=…` words of the
/// kernel command line (QEMU's microvm puts `virtio_mmio.device=…` there), as modprobe would.
fn load_modules() -> Result<(), GuestError> {
    let order =
        fs::read_to_string(MODULE_ORDER).map_err(|e| GuestError::io("read", MODULE_ORDER, e))?;
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    for file in order.lines().filter(|l| !l.is_empty()) {
        let path = format!("/modules/{file}");
        let module = file.trim_end_matches(".ko").replace('-', "_");
        let params = module_params(&cmdline, &module);
        let image = File::open(&path).map_err(|e| GuestError::io("open", &path, e))?;
        let params = CString::new(params).unwrap_or_default();
        match finit_module(&image, &params, ModuleInitFlags::empty()) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            // A module for hardware this CPU lacks (crc32c-intel without SSE4.2) is optional.
            Err(e) => eprintln!("tether-guest: module {module} not loaded: {e}"),
        }
    }
    Ok(())
}

fn module_params(cmdline: &str, module: &str) -> String {
    let prefix = format!("{module}.");
    let words: Vec<&str> = cmdline
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix))
        .collect();
    words.join(" ")
}

fn wait_for(path: &str) -> Result<(), GuestError> {
    let started = Instant::now();
    while !Path::new(path).exists() {
        if started.elapsed() > ROOT_WAIT {
            let e = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "did not appear: start QEMU with the root image as the first virtio-blk device",
            );
            return Err(GuestError::io("wait for", path, e));
        }
        // devtmpfs has no event to wait on without udev; the wait is bounded and short.
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Moves /dev, /proc and /sys under `new_root`, frees the initramfs and makes `new_root` `/`.
fn switch_root(new_root: &str) -> Result<(), GuestError> {
    for dir in ["/dev", "/proc", "/sys"] {
        let target = format!("{new_root}{dir}");
        mount(
            Some(dir),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(|e| GuestError::sys("move mount to", target, e))?;
    }
    let _ = fs::remove_dir_all("/modules");
    let _ = fs::remove_file("/init");
    nix::unistd::chdir(new_root).map_err(|e| GuestError::sys("chdir", new_root, e))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| GuestError::sys("move mount", new_root, e))?;
    nix::unistd::chroot(".").map_err(|e| GuestError::sys("chroot", new_root, e))?;
    nix::unistd::chdir("/").map_err(|e| GuestError::sys("chdir", "/", e))
}

fn system_mounts() -> Result<(), GuestError> {
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    for dir in ["/dev/pts", "/dev/shm", "/run", "/tmp"] {
        fs::create_dir_all(dir).map_err(|e| GuestError::io("mkdir", dir, e))?;
    }
    mount_fs(
        "devpts",
        "/dev/pts",
        "devpts",
        MsFlags::MS_NOSUID,
        Some("gid=5,mode=620,ptmxmode=666"),
    )?;
    mount_fs(
        "tmpfs",
        "/dev/shm",
        "tmpfs",
        nosuid_nodev,
        Some("mode=1777"),
    )?;
    mount_fs("tmpfs", "/run", "tmpfs", nosuid_nodev, Some("mode=755"))?;
    mount_fs("tmpfs", "/tmp", "tmpfs", nosuid_nodev, Some("mode=1777"))?;
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(target, link);
    }
    Ok(())
}

/// `tether.hostname=` from the kernel command line, else /etc/hostname, else "tether".
fn set_hostname() {
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let name = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tether.hostname=").map(str::to_owned))
        .or_else(|| {
            fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "tether".to_owned());
    if let Err(e) = nix::unistd::sethostname(&name) {
        eprintln!("tether-guest: sethostname {name}: {e}");
    }
}

/// Loopback up; eth0, if there is one, on QEMU user-mode networking's addresses.
fn configure_network() {
    ip(&["link", "set", "lo", "up"]);
    if Path::new("/sys/class/net/eth0").exists() {
        ip(&["addr", "add", GUEST_ADDRESS, "dev", "eth0"]);
        ip(&["link", "set", "eth0", "up"]);
        ip(&["route", "add", "default", "via", GATEWAY]);
    }
}

/// Runs iproute2's `ip` (before the reaper starts, so its status is ours to wait for).
fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("tether-guest: ip {}: {s}", args.join(" ")),
        Err(e) => eprintln!("tether-guest: ip {}: {e}", args.join(" ")),
    }
}
