//! The TLS client: public roots, plus one extra CA when configured (the simulator's). The trust
//! store is the Vers client's, so the API and the VMs are verified alike.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use tether_vers::VersError;

use crate::TransportError;

/// A rustls client config trusting the public web roots and, if given, the CA in `extra_ca`.
/// Certificates are always verified.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TransportError> {
    match tether_vers::tls_client_config(extra_ca) {
        Ok(config) => Ok(Arc::new(config)),
        Err(VersError::CaCert { path, reason }) => Err(TransportError::CaCert { path, reason }),
        Err(other) => Err(TransportError::CaCert {
            path: extra_ca.map(Path::to_path_buf).unwrap_or_default(),
            reason: other.to_string(),
        }),
    }
}
