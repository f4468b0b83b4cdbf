//! The HTTPS client's trust: the public web roots, plus `TETHER_CA_CERT` when set.
//! Certificates are always verified.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use crate::VersError;

/// A rustls config trusting the public roots and, if given, the CA certificates in `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>) -> Result<ClientConfig, VersError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        add_pem(&mut roots, path)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(extra_ca.unwrap_or(Path::new("")), e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn add_pem(roots: &mut RootCertStore, path: &Path) -> Result<(), VersError> {
    let pem = std::fs::read(path).map_err(|e| ca_error(path, e.to_string()))?;
    let mut found = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| ca_error(path, e.to_string()))?;
        roots.add(cert).map_err(|e| ca_error(path, e.to_string()))?;
        found += 1;
    }
    if found == 0 {
        return Err(ca_error(path, "it holds no PEM certificate".to_owned()));
    }
    Ok(())
}

fn ca_error(path: &Path, reason: String) -> VersError {
    VersError::CaCert {
        path: path.to_path_buf(),
        reason,
    }
}
