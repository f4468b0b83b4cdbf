//! Configuration like vers-cli's: where the key comes from, re-read per request, VM domain,
//! gateway and CA overrides.

use std::path::Path;

use tether_vers::{KeyOrigin, Settings, StaticEnv, VersError};

use crate::fake::{Fake, KEY};
use crate::{client_for, redact};

fn write_versrc(home: &Path, key: &str) {
    let body = serde_json::json!({"apiKey": key, "email": "me@example.com"});
    std::fs::write(home.join(".versrc"), body.to_string()).unwrap();
}

#[test]
fn the_environment_key_wins_over_versrc() {
    let home = tempfile::tempdir().unwrap();
    write_versrc(home.path(), "from-file");
    let env = StaticEnv::new(Some(home.path().to_path_buf()));

    let from_file = Settings::resolve(&env).unwrap().api_key.unwrap();
    assert_eq!(from_file.secret, "from-file");
    assert_eq!(
        from_file.origin,
        KeyOrigin::Versrc(home.path().join(".versrc"))
    );

    let env = env.with("VERS_API_KEY", "from-env");
    let from_env = Settings::resolve(&env).unwrap().api_key.unwrap();
    assert_eq!(
        (from_env.secret.as_str(), from_env.origin),
        ("from-env", KeyOrigin::Env)
    );
}

#[test]
fn empty_values_count_as_unset() {
    let home = tempfile::tempdir().unwrap();
    write_versrc(home.path(), "");
    let env = StaticEnv::new(Some(home.path().to_path_buf())).with("VERS_API_KEY", " ");
    assert_eq!(Settings::resolve(&env).unwrap().api_key, None);
}

#[test]
fn vm_domain_follows_vers_url() {
    let domain = |url: &str| {
        let env = StaticEnv::new(None).with("VERS_URL", url);
        Settings::resolve(&env).unwrap().vm_domain
    };
    assert_eq!(domain("https://api.vers.sh"), "vm.vers.sh");
    assert_eq!(domain("https://api.staging.vers.sh/"), "vm.staging.vers.sh");
    assert_eq!(domain("http://127.0.0.1:4000"), "vm.127.0.0.1");
    let default = Settings::resolve(&StaticEnv::new(None)).unwrap();
    assert_eq!(default.api_url.as_str(), "https://api.vers.sh/api/v1");
    assert_eq!(default.vm_domain, "vm.vers.sh");
    assert_eq!(default.vm_host("abc"), "abc.vm.vers.sh");
    assert_eq!(default.ssh_dial("abc"), "abc.vm.vers.sh:443");
    assert_eq!((default.ssh_gateway, default.ca_cert), (None, None));
}

#[test]
fn simulator_overrides() {
    let env = StaticEnv::new(None)
        .with("VERS_URL", "http://127.0.0.1:4000")
        .with("TETHER_VM_DOMAIN", "vm.sim.test")
        .with("TETHER_SSH_GATEWAY", "127.0.0.1:4443")
        .with("TETHER_CA_CERT", "/data/ca.pem");
    let settings = Settings::resolve(&env).unwrap();
    assert_eq!(settings.vm_domain, "vm.sim.test");
    assert_eq!(settings.vm_host("abc"), "abc.vm.sim.test");
    assert_eq!(settings.ssh_dial("abc"), "127.0.0.1:4443");
    assert_eq!(settings.ca_cert.as_deref(), Some(Path::new("/data/ca.pem")));
}

#[tokio::test]
async fn the_key_is_read_again_for_every_request() {
    let fake = Fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let vers = client_for(&fake.url, None, Some(home.path()));
    write_versrc(home.path(), KEY);
    vers.list_vms().await.unwrap();
    write_versrc(home.path(), "rotated-away");
    let err = vers.list_vms().await.unwrap_err();
    assert!(matches!(err, VersError::KeyRejected { .. }), "{err:?}");
    write_versrc(home.path(), KEY);
    vers.list_vms().await.unwrap();
    let expected = [KEY, "rotated-away", KEY].map(|key| format!("Bearer {key}"));
    assert_eq!(fake.keys_seen(), expected);
}

/// Configuration mistakes, each with the message the user sees.
#[tokio::test]
async fn configuration_errors_say_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let home_env = || StaticEnv::new(Some(home.path().to_path_buf()));
    let mut report = String::new();
    let mut record = |what: &str, err: VersError| {
        report.push_str(&format!("{what}:\n  {err}\n"));
        err
    };

    let vers = client_for("http://127.0.0.1:9", None, Some(home.path()));
    let err = record("no key anywhere", vers.list_vms().await.unwrap_err());
    assert!(matches!(err, VersError::NoApiKey { .. }), "{err:?}");

    std::fs::write(home.path().join(".versrc"), "{apiKey: oops").unwrap();
    let err = record(
        "broken ~/.versrc",
        Settings::resolve(&home_env()).unwrap_err(),
    );
    assert!(matches!(err, VersError::Versrc { .. }), "{err:?}");
    std::fs::remove_file(home.path().join(".versrc")).unwrap();

    let env = home_env().with("VERS_URL", "api.vers.sh");
    let err = record(
        "VERS_URL without a scheme",
        Settings::resolve(&env).unwrap_err(),
    );
    assert!(matches!(err, VersError::BadUrl { .. }), "{err:?}");

    let env = home_env().with("TETHER_SSH_GATEWAY", "127.0.0.1");
    let err = record(
        "gateway without a port",
        Settings::resolve(&env).unwrap_err(),
    );
    assert!(matches!(err, VersError::BadGateway { .. }), "{err:?}");

    let home_text = home.path().display().to_string();
    insta::assert_snapshot!(redact(&report, &[(&home_text, "<home>")]));
}
