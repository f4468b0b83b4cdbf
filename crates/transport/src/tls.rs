//! The TLS client: public roots, plus one extra CA when configured (the simulator's).

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use crate::TransportError;

/// A rustls client config trusting the public web roots and, if given, the CA in `extra_ca`.
/// Certificates are always verified.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        add_pem(&mut roots, path)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(Path::new("<builtin>"), e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<(), TransportError> {
    let pem = std::fs::read(path).map_err(|e| ca_error(path, e.to_string()))?;
    let mut found = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| ca_error(path, e.to_string()))?;
        roots.add(cert).map_err(|e| ca_error(path, e.to_string()))?;
        found += 1;
    }
    if found == 0 {
        return Err(ca_error(path, "no PEM certificate in it".into()));
    }
    Ok(())
}

fn ca_error(path: &Path, reason: String) -> TransportError {
    TransportError::CaCert {
        path: path.to_path_buf(),
        reason,
    }
}
