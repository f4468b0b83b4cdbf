//! The guest's boot files, built (or found in the cache) by `scripts/guest-image.sh`.

use crate::error::KvmError;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// How long building the image from scratch may take (mmdebstrap downloads ~100 MB).
pub const IMAGE_BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The script's exit status when a prerequisite is missing (not root, a tool not installed).
const MISSING_PREREQUISITE: i32 = 3;

/// Paths of a built guest image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    /// The kernel (an uncompressed ELF `vmlinux`, booted through its PVH entry).
    pub kernel: PathBuf,
    /// The initramfs with `tether-guest` as `/init`.
    pub initrd: PathBuf,
    /// The raw ext4 root filesystem, used read-only as the backing file of each VM's overlay.
    pub rootfs: PathBuf,
}

impl GuestImage {
    /// Runs `script` (the repository's `scripts/guest-image.sh`) and reads the paths it
    /// prints. A cached image returns in well under a second. A missing prerequisite is
    /// [`KvmError::Unavailable`].
    pub async fn build(script: &Path) -> Result<Self, KvmError> {
        let mut command = Command::new(script);
        command.kill_on_drop(true);
        let output = tokio::time::timeout(IMAGE_BUILD_TIMEOUT, command.output())
            .await
            .map_err(|_| KvmError::Timeout {
                what: "scripts/guest-image.sh",
                timeout: IMAGE_BUILD_TIMEOUT,
                hint: String::new(),
            })?
            .map_err(|e| KvmError::io(format!("running {}", script.display()), e))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(MISSING_PREREQUISITE) {
            return Err(KvmError::Unavailable {
                reason: tail(&stderr, 5),
            });
        }
        if !output.status.success() {
            return Err(KvmError::Image {
                script: script.to_owned(),
                status: output.status.to_string(),
                stderr: tail(&stderr, 20),
            });
        }
        Self::parse(&String::from_utf8_lossy(&output.stdout)).ok_or_else(|| KvmError::Image {
            script: script.to_owned(),
            status: "no kernel=, initrd= and rootfs= lines on stdout".into(),
            stderr: tail(&stderr, 20),
        })
    }

    fn parse(stdout: &str) -> Option<Self> {
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(PathBuf::from))
        };
        Some(Self {
            kernel: get("kernel")?,
            initrd: get("initrd")?,
            rootfs: get("rootfs")?,
        })
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_output() {
        let out = "kernel=/c/boot-1/vmlinux\ninitrd=/c/boot-1/initrd.cpio\nrootfs=/c/rootfs-2/rootfs.ext4\n";
        assert_eq!(
            GuestImage::parse(out),
            Some(GuestImage {
                kernel: "/c/boot-1/vmlinux".into(),
                initrd: "/c/boot-1/initrd.cpio".into(),
                rootfs: "/c/rootfs-2/rootfs.ext4".into(),
            })
        );
        assert_eq!(GuestImage::parse("kernel=/k\n"), None);
    }
}
