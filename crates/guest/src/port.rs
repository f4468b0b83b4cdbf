//! Finding and opening the agent's virtio-serial port.

use crate::error::GuestError;
use std::fs::{self, File, OpenOptions};
use std::time::{Duration, Instant};
use tether_guest_proto::PORT_NAME;

/// How long the port may take to appear after the virtio console driver loaded (the host
/// announces ports asynchronously).
const PORT_WAIT: Duration = Duration::from_secs(10);
/// Where the kernel lists virtio-serial ports (udev's /dev/virtio-ports links are not made:
/// there is no udev).
const PORTS_DIR: &str = "/sys/class/virtio-ports";

/// Opens the port named [`PORT_NAME`]: a reader and a writer on it.
pub fn open_port() -> Result<(File, File), GuestError> {
    let device = wait_for_port()?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&device)
        .map_err(|e| GuestError::io("open", &device, e))?;
    let writer = file
        .try_clone()
        .map_err(|e| GuestError::io("dup", &device, e))?;
    Ok((file, writer))
}

fn wait_for_port() -> Result<String, GuestError> {
    let started = Instant::now();
    loop {
        if let Some(device) = find_port() {
            return Ok(device);
        }
        if started.elapsed() > PORT_WAIT {
            return Err(GuestError::NoPort {
                name: PORT_NAME,
                waited_ms: PORT_WAIT.as_millis() as u64,
            });
        }
        // No event announces a new port without udev; the wait is bounded and short.
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `/dev/vportNpM` of the port whose sysfs `name` is ours.
fn find_port() -> Option<String> {
    fs::read_dir(PORTS_DIR).ok()?.flatten().find_map(|entry| {
        let name = fs::read_to_string(entry.path().join("name")).ok()?;
        (name.trim() == PORT_NAME).then(|| format!("/dev/{}", entry.file_name().to_string_lossy()))
    })
}
