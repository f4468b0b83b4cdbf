//! Host keys pinned on first use, in an OpenSSH-format known_hosts file of tether's own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use russh::keys::PublicKey;

use crate::TransportError;

/// A pin file: the first key seen for a host is recorded; a different key later is refused.
#[derive(Clone, Debug)]
pub struct KnownHosts {
    path: PathBuf,
}

impl KnownHosts {
    /// Pins in `path` (created 0600, its directory 0700, on first use).
    pub fn new(path: impl Into<PathBuf>) -> KnownHosts {
        KnownHosts { path: path.into() }
    }

    /// The pin file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts `key` for `host` if it matches the pin, pins it if there is none, and refuses
    /// it if another key is pinned.
    pub fn check_or_pin(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
    ) -> Result<(), TransportError> {
        match russh::keys::check_known_hosts_path(host, port, key, &self.path) {
            Ok(true) => Ok(()),
            Ok(false) => self.pin(host, port, key),
            Err(russh::keys::Error::KeyChanged { line }) => Err(TransportError::HostKeyChanged {
                host: host.into(),
                known_hosts: self.path.clone(),
                line,
            }),
            Err(err) => Err(self.error(err.to_string())),
        }
    }

    fn pin(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), TransportError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e.to_string()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| self.error(e.to_string()))?;
        }
        russh::keys::known_hosts::learn_known_hosts_path(host, port, key, &self.path)
            .map_err(|e| self.error(e.to_string()))?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| self.error(e.to_string()))
    }

    fn error(&self, reason: String) -> TransportError {
        TransportError::KnownHosts {
            known_hosts: self.path.clone(),
            reason,
        }
    }
}
