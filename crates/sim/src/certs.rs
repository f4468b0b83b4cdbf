//! Server certificates of the gateway, issued by the simulator's CA: one for every VM name
//! (`*.{vm_domain}`, plus `localhost` and `127.0.0.1`), and one per custom domain, issued the
//! first time a client asks for that name (as Vers's proxy issues ACME certificates for
//! domains). The gateway completes TLS only for names it can route, so only mapped domains
//! get a certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::ca::{CaError, ca_params, distinguished_name};

/// How long an issued server certificate is valid (new ones are issued on every start).
const SERVER_CERT_VALIDITY: Duration = Duration::days(365);
/// Back-dating of `not_before`, for clocks that are slightly behind.
const CLOCK_SKEW: Duration = Duration::days(1);
/// Most domain certificates kept at once (the oldest is dropped, and issued again if asked).
const MAX_DOMAIN_CERTS: usize = 1024;

/// Issues a certificate for `names` (the first one its common name) with a fresh key.
pub(crate) fn issue(
    ca_key: &KeyPair,
    names: Vec<String>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), CaError> {
    let generate = |what| move |source| CaError::Generate { what, source };
    let common_name = names.first().cloned().unwrap_or_default();
    let mut params = CertificateParams::new(names).map_err(generate("server certificate names"))?;
    params.distinguished_name = distinguished_name(&common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = OffsetDateTime::now_utc() - CLOCK_SKEW;
    params.not_after = OffsetDateTime::now_utc() + SERVER_CERT_VALIDITY;
    let key = KeyPair::generate().map_err(generate("server key"))?;
    let issuer = Issuer::new(ca_params(ca_key), ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(generate("server certificate"))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// A certificate and its key, as rustls serves them.
pub(crate) fn certified(
    cert: CertificateDer<'static>,
    key: &PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, CaError> {
    let signer = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|source| CaError::Tls { source })?;
    Ok(Arc::new(CertifiedKey::new(vec![cert], signer)))
}

/// Picks the certificate for a client's SNI name: the VM certificate for VM names (and for
/// none), an issued one for any other name.
pub(crate) struct Resolver {
    vm_cert: Arc<CertifiedKey>,
    vm_domain: String,
    ca_key: KeyPair,
    domains: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("vm_domain", &self.vm_domain)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver serving `vm_cert` for `*.{vm_domain}` and issuing the rest with `ca_key`.
    pub(crate) fn new(vm_cert: Arc<CertifiedKey>, vm_domain: &str, ca_key: KeyPair) -> Resolver {
        Resolver {
            vm_cert,
            vm_domain: vm_domain.to_ascii_lowercase(),
            ca_key,
            domains: Mutex::new(HashMap::new()),
        }
    }

    fn is_vm_name(&self, name: &str) -> bool {
        name == "localhost" || name.ends_with(&format!(".{}", self.vm_domain))
    }

    fn domain(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let mut domains = self.domains.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cert) = domains.get(name) {
            return Some(Arc::clone(cert));
        }
        let issued = issue(&self.ca_key, vec![name.to_owned()])
            .and_then(|(cert, key)| certified(cert, &key));
        match issued {
            Ok(cert) => {
                if domains.len() >= MAX_DOMAIN_CERTS {
                    domains.clear();
                }
                domains.insert(name.to_owned(), Arc::clone(&cert));
                Some(cert)
            }
            Err(err) => {
                tracing::warn!("could not issue a certificate for {name}: {err}");
                None
            }
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match client_hello.server_name().map(str::to_ascii_lowercase) {
            Some(name) if !self.is_vm_name(&name) => self.domain(&name),
            _ => Some(Arc::clone(&self.vm_cert)),
        }
    }
}
