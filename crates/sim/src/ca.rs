//! The simulator's certificate authority.
//!
//! On first start the simulator creates a CA (`ca.pem`, `ca.key`, the key 0600) in its data
//! directory and keeps it across restarts, so a client that trusts `ca.pem` once keeps
//! trusting the simulator. On every start it issues a fresh server certificate for
//! `*.{vm_domain}`, `localhost` and `127.0.0.1`, signed by that CA, and checks the chain with
//! the same verifier a rustls client uses before serving it; custom domains get theirs when
//! first asked for (see `certs`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

use crate::certs::{Resolver, certified, issue};

/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Common name of the CA, followed by a fingerprint of its key so that two simulators' CAs
/// never share a name (a client trusting one then reports the other as an unknown issuer).
const CA_COMMON_NAME: &str = "tether simulator CA";
/// Organisation of the CA and of issued certificates.
const ORGANIZATION: &str = "tether";
/// How long a newly created CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// Back-dating of `not_before`, for clocks that are slightly behind.
const CLOCK_SKEW: Duration = Duration::days(1);

/// Why the certificate authority could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Reading or writing a CA file failed.
    #[error("could not {action} {path}: {source}; check the data directory's permissions")]
    Io {
        /// What was being done ("read", "create", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Only one of `ca.pem` / `ca.key` exists.
    #[error(
        "{present} exists but {missing} does not; delete {present} to create a new CA \
         (clients must then trust the new ca.pem)"
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// The CA key file is not a usable private key.
    #[error(
        "{path} is not a usable private key ({source}); delete ca.pem and ca.key to create a new CA"
    )]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// The CA certificate file holds no PEM certificate.
    #[error("{path} holds no PEM certificate; delete ca.pem and ca.key to create a new CA")]
    BadCert {
        /// The certificate file.
        path: PathBuf,
    },
    /// Generating a key or a certificate failed.
    #[error("could not generate the {what}: {source}")]
    Generate {
        /// What was being generated.
        what: &'static str,
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// The stored CA does not verify a certificate issued with its key.
    #[error(
        "the CA in {path} does not verify the server certificate it issued ({reason}); \
         delete ca.pem and ca.key to create a new CA"
    )]
    Mismatch {
        /// The CA certificate file.
        path: PathBuf,
        /// What the verifier said.
        reason: String,
    },
    /// rustls refused the issued certificate or key.
    #[error("rustls refused the server certificate: {source}")]
    Tls {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// The simulator's CA and the server certificate it issued for this run.
pub struct CertificateAuthority {
    ca_cert_path: PathBuf,
    ca_der: CertificateDer<'static>,
    server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("ca_cert_path", &self.ca_cert_path)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads `dir/ca.pem` + `dir/ca.key` (0600), or creates them (rcgen) on first start; issues a
    /// server certificate for `*.{vm_domain}` (plus `localhost`, `127.0.0.1`) signed by the CA.
    pub fn load_or_create(dir: &Path, vm_domain: &str) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let (ca_pem, ca_key) = match (cert_path.exists(), key_path.exists()) {
            (true, true) => load(&cert_path, &key_path)?,
            (false, false) => create(dir, &cert_path, &key_path)?,
            (true, false) => return Err(incomplete(cert_path, key_path)),
            (false, true) => return Err(incomplete(key_path, cert_path)),
        };
        let ca_der = pem_certificate(&ca_pem, &cert_path)?;
        let (leaf, leaf_key) = issue(&ca_key, vm_names(vm_domain))?;
        check_chain(&ca_der, &leaf, &cert_path)?;
        let resolver = Resolver::new(certified(leaf, &leaf_key)?, vm_domain, ca_key);
        let server_config = server_config(resolver)?;
        Ok(CertificateAuthority {
            ca_cert_path: cert_path,
            ca_der,
            server_config,
        })
    }

    /// Path of the CA certificate (PEM) clients trust (`ca_cert` in `tether sim`'s startup line).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The CA certificate (DER), for clients in the same process (tests).
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// rustls server config for the gateway (ring provider).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.server_config)
    }
}

fn incomplete(present: PathBuf, missing: PathBuf) -> CaError {
    CaError::Incomplete { present, missing }
}

/// The names of the VM certificate.
fn vm_names(vm_domain: &str) -> Vec<String> {
    vec![
        format!("*.{vm_domain}"),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ]
}

/// The CA's subject; issued certificates carry it as their issuer, so it is derived from the
/// key alone and the same on every start.
pub(crate) fn ca_params(key: &KeyPair) -> CertificateParams {
    let mut params = CertificateParams::default();
    let fingerprint = params.key_identifier(key);
    let short = hex::encode(fingerprint.get(..4).unwrap_or(&fingerprint));
    params.distinguished_name = distinguished_name(&format!("{CA_COMMON_NAME} {short}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

pub(crate) fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    name
}

fn load(cert_path: &Path, key_path: &Path) -> Result<(String, KeyPair), CaError> {
    let pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let key = KeyPair::from_pem(&key_pem).map_err(|source| CaError::BadKey {
        path: key_path.to_owned(),
        source,
    })?;
    Ok((pem, key))
}

fn read(path: &Path) -> Result<String, CaError> {
    std::fs::read_to_string(path).map_err(|source| CaError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })
}

fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(String, KeyPair), CaError> {
    std::fs::create_dir_all(dir).map_err(|source| CaError::Io {
        action: "create directory",
        path: dir.to_owned(),
        source,
    })?;
    let key = KeyPair::generate().map_err(|source| CaError::Generate {
        what: "CA key",
        source,
    })?;
    let mut params = ca_params(&key);
    params.not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
    params.not_after = OffsetDateTime::now_utc() + CA_VALIDITY;
    let cert = params
        .self_signed(&key)
        .map_err(|source| CaError::Generate {
            what: "CA certificate",
            source,
        })?;
    write_new(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert.pem(), key))
}

/// Creates `path` (which must not exist) with `mode` and `content`.
fn write_new(path: &Path, content: &[u8], mode: u32) -> Result<(), CaError> {
    let io_err = |source| CaError::Io {
        action: "create",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err)?;
    file.write_all(content).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

fn pem_certificate(pem: &str, path: &Path) -> Result<CertificateDer<'static>, CaError> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    match rustls_pemfile::certs(&mut reader).next() {
        Some(Ok(der)) => Ok(der),
        _ => Err(CaError::BadCert {
            path: path.to_owned(),
        }),
    }
}

/// Verifies `leaf` against `ca` as a rustls client would (for `localhost`).
fn check_chain(
    ca: &CertificateDer<'static>,
    leaf: &CertificateDer<'static>,
    ca_path: &Path,
) -> Result<(), CaError> {
    let mismatch = |reason: String| CaError::Mismatch {
        path: ca_path.to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| mismatch(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| mismatch(e.to_string()))?;
    let name = ServerName::try_from("localhost").map_err(|e| mismatch(e.to_string()))?;
    rustls::client::danger::ServerCertVerifier::verify_server_cert(
        verifier.as_ref(),
        leaf,
        &[],
        &name,
        &[],
        UnixTime::now(),
    )
    .map(drop)
    .map_err(|e| mismatch(e.to_string()))
}

fn server_config(resolver: Resolver) -> Result<Arc<rustls::ServerConfig>, CaError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| CaError::Tls { source })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tether-ca-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn creates_ca_files_with_a_private_key_only_the_owner_reads() {
        let dir = temp_dir();
        let _cleanup = Cleanup(dir.clone());
        let ca = CertificateAuthority::load_or_create(&dir.join("tls"), "vm.example").unwrap();
        assert_eq!(ca.ca_cert_path(), dir.join("tls").join(CA_CERT_FILE));
        let mode = std::fs::metadata(dir.join("tls").join(CA_KEY_FILE))
            .unwrap()
            .permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
        let pem = std::fs::read_to_string(ca.ca_cert_path()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }

    #[test]
    fn reloads_the_same_ca_on_the_second_start() {
        let dir = temp_dir();
        let _cleanup = Cleanup(dir.clone());
        let first = CertificateAuthority::load_or_create(&dir, "vm.example").unwrap();
        let first_der = first.ca_cert_der().clone();
        let second = CertificateAuthority::load_or_create(&dir, "vm.example").unwrap();
        assert_eq!(second.ca_cert_der(), &first_der);
    }

    #[test]
    fn refuses_a_ca_whose_key_does_not_match_its_certificate() {
        let dir = temp_dir();
        let _cleanup = Cleanup(dir.clone());
        CertificateAuthority::load_or_create(&dir, "vm.example").unwrap();
        let other = KeyPair::generate().unwrap();
        std::fs::write(dir.join(CA_KEY_FILE), other.serialize_pem()).unwrap();
        let err = CertificateAuthority::load_or_create(&dir, "vm.example").unwrap_err();
        assert!(matches!(err, CaError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn refuses_a_half_present_ca() {
        let dir = temp_dir();
        let _cleanup = Cleanup(dir.clone());
        CertificateAuthority::load_or_create(&dir, "vm.example").unwrap();
        std::fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
        let err = CertificateAuthority::load_or_create(&dir, "vm.example").unwrap_err();
        match err {
            CaError::Incomplete { present, missing } => {
                assert_eq!(present, dir.join(CA_CERT_FILE));
                assert_eq!(missing, dir.join(CA_KEY_FILE));
            }
            other => panic!("expected Incomplete, got {other}"),
        }
    }

    #[test]
    fn server_certificate_verifies_for_vm_names_under_the_domain_only() {
        let dir = temp_dir();
        let _cleanup = Cleanup(dir.clone());
        let ca = CertificateAuthority::load_or_create(&dir, "vm.tether.localhost").unwrap();
        let key_pem = std::fs::read_to_string(dir.join(CA_KEY_FILE)).unwrap();
        let ca_key = KeyPair::from_pem(&key_pem).unwrap();
        let leaf = issue(&ca_key, vm_names("vm.tether.localhost")).unwrap().0;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.ca_cert_der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let verify = |host: &str| {
            let name = ServerName::try_from(host.to_owned()).unwrap();
            rustls::client::danger::ServerCertVerifier::verify_server_cert(
                verifier.as_ref(),
                &leaf,
                &[],
                &name,
                &[],
                UnixTime::now(),
            )
            .is_ok()
        };
        assert!(verify(
            "0b9e6c1e-1111-4a4a-8c8c-123456789abc.vm.tether.localhost"
        ));
        assert!(verify("localhost"));
        assert!(verify("127.0.0.1"));
        assert!(!verify("vm.tether.localhost"));
        assert!(!verify("a.b.vm.tether.localhost"));
        assert!(!verify("example.com"));
    }
}
