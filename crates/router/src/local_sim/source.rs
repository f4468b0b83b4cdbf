//! The Vers client's configuration when the local simulator is in use: the simulator's
//! address, key and CA, without touching the process environment.

use std::path::PathBuf;

use tether_vers::ConfigSource;

use super::SimRecord;

/// A [`ConfigSource`] pointing at a local simulator: `VERS_URL`, `VERS_API_KEY`,
/// `TETHER_SSH_GATEWAY`, `TETHER_VM_DOMAIN` and `TETHER_CA_CERT` come from its record; no other
/// variable is set.
pub struct SimSource {
    record: SimRecord,
    home: Option<PathBuf>,
}

impl SimSource {
    /// The configuration of the simulator `record`; `home` is the user's home directory.
    pub fn new(record: SimRecord, home: Option<PathBuf>) -> SimSource {
        SimSource { record, home }
    }
}

impl std::fmt::Debug for SimSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSource")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl ConfigSource for SimSource {
    fn var(&self, name: &str) -> Option<String> {
        let record = &self.record;
        match name {
            "VERS_URL" => Some(record.vers_url.clone()),
            "VERS_API_KEY" => Some(record.api_key.clone()),
            "TETHER_SSH_GATEWAY" => Some(record.ssh_gateway.clone()),
            "TETHER_VM_DOMAIN" => Some(record.vm_domain.clone()),
            "TETHER_CA_CERT" => Some(record.ca_cert.display().to_string()),
            _ => None,
        }
    }

    fn home(&self) -> Option<PathBuf> {
        self.home.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tether_vers::{KeyOrigin, Settings};

    use super::*;

    #[test]
    fn settings_point_at_the_simulator() {
        let record = SimRecord {
            pid: 1,
            vers_url: "http://127.0.0.1:4000".into(),
            api_key: "key".into(),
            ssh_gateway: "127.0.0.1:4443".into(),
            vm_domain: "vm.tether.local".into(),
            ca_cert: "/data/ca.pem".into(),
            data_dir: "/data".into(),
            vm_backend: Some("namespaces".into()),
        };
        let settings = Settings::resolve(&SimSource::new(record, None)).unwrap();
        assert_eq!(settings.api_url.as_str(), "http://127.0.0.1:4000/api/v1");
        assert_eq!(settings.api_key.as_ref().unwrap().secret, "key");
        assert_eq!(settings.key_origin(), Some(&KeyOrigin::Env));
        assert_eq!(settings.ssh_dial("x"), "127.0.0.1:4443");
        assert_eq!(settings.vm_host("x"), "x.vm.tether.local");
        assert_eq!(settings.ca_cert, Some(PathBuf::from("/data/ca.pem")));
    }
}
