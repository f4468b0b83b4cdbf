//! HTTPS trust: the API's certificate is always verified; `TETHER_CA_CERT` adds one CA.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tether_vers::{StaticEnv, VersClient, VersError};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::fake::{Fake, KEY};
use crate::{STEP, within};

/// A test CA and a certificate for `localhost` signed by it.
struct Pki {
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem,
        leaf_der: leaf.der().to_vec(),
        leaf_key: leaf_key.serialize_der(),
    }
}

/// Terminates TLS on `127.0.0.1:0` and relays to `backend`; stopped when dropped.
struct TlsFront {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_front(pki: &Pki, backend: String) -> TlsFront {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf_der.clone().into()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut relays = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            relays.spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront { port, task }
}

fn https_client(port: u16, ca: Option<&Path>) -> VersClient {
    let mut env = StaticEnv::new(None)
        .with("VERS_URL", &format!("https://localhost:{port}"))
        .with("VERS_API_KEY", KEY);
    if let Some(ca) = ca {
        env = env.with("TETHER_CA_CERT", &ca.display().to_string());
    }
    VersClient::with_source(Arc::new(env))
}

/// The whole `source()` chain of an error, as text.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn the_configured_ca_is_trusted_and_nothing_else() {
    let fake = Fake::start().await;
    let pki = pki();
    let front = tls_front(&pki, fake.url.trim_start_matches("http://").to_owned()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &pki.ca_pem).unwrap();

    let trusted = https_client(front.port, Some(&ca_path));
    let vms = within(STEP, "GET /vms over TLS", trusted.list_vms())
        .await
        .unwrap();
    assert_eq!(vms.len(), 1);

    let untrusted = https_client(front.port, None);
    let err = within(STEP, "refused TLS", untrusted.list_vms())
        .await
        .unwrap_err();
    assert!(
        matches!(err, VersError::TlsRejected { .. }),
        "{}",
        chain(&err)
    );
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(
        fake.requests().len(),
        1,
        "the untrusted request never reached the API"
    );
}

#[tokio::test]
async fn an_unusable_ca_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let err = https_client(1, Some(&not_pem))
        .list_vms()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VersError::CaCert { path, .. } if *path == not_pem),
        "{err:?}"
    );
    let missing = dir.path().join("missing.pem");
    let err = https_client(1, Some(&missing))
        .list_vms()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VersError::CaCert { path, .. } if *path == missing),
        "{err:?}"
    );
    let text = err
        .to_string()
        .replace(&dir.path().display().to_string(), "<dir>");
    insta::assert_snapshot!(text);
}
