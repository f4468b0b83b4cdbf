//! Configuration, compatible with vers-cli, resolved again for every request.
//!
//! - API key: `VERS_API_KEY`, else `apiKey` in `~/.versrc` (the file `vers login` writes).
//! - API base: `VERS_URL` (default `https://api.vers.sh`); the API lives at `<base>/api/v1`.
//! - VM domain: `TETHER_VM_DOMAIN`, else `vm.<host of VERS_URL without a leading "api.">`.
//! - `TETHER_SSH_GATEWAY` (`host:port` dialled instead of `<vm>.<domain>:443`) and
//!   `TETHER_CA_CERT` (a PEM CA trusted besides the public roots), for the simulator.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;

use crate::VersError;

/// The API base used when `VERS_URL` is not set.
pub const DEFAULT_VERS_URL: &str = "https://api.vers.sh";
/// The file vers-cli keeps its API key in, relative to the home directory.
pub const VERSRC: &str = ".versrc";

/// Where configuration comes from: the process environment, or a fixed map in tests.
pub trait ConfigSource: Send + Sync + fmt::Debug {
    /// The value of environment variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory (where `.versrc` lives).
    fn home(&self) -> Option<PathBuf>;
}

/// The real environment: `std::env` and `$HOME`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl ConfigSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

/// A fixed environment and home directory, for tests and embedding.
#[derive(Clone, Debug, Default)]
pub struct StaticEnv {
    /// Environment variables.
    pub vars: HashMap<String, String>,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl StaticEnv {
    /// An environment with no variables and `home` as the home directory.
    pub fn new(home: Option<PathBuf>) -> StaticEnv {
        StaticEnv {
            vars: HashMap::new(),
            home,
        }
    }

    /// The same environment with `name=value` set.
    pub fn with(mut self, name: &str, value: &str) -> StaticEnv {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }
}

impl ConfigSource for StaticEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn home(&self) -> Option<PathBuf> {
        self.home.clone()
    }
}

/// Where the API key was read from, so a rejected key can be traced and fixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The `VERS_API_KEY` environment variable.
    Env,
    /// The `apiKey` field of this `.versrc` file.
    Versrc(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Env => f.write_str("the VERS_API_KEY environment variable"),
            KeyOrigin::Versrc(path) => write!(f, "{}", path.display()),
        }
    }
}

/// An API key and where it came from. `Debug` shows only the account part, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The bearer token.
    pub secret: String,
    /// Where it was read from.
    pub origin: KeyOrigin,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Vers keys are `<owner uuid><64 hex secret>`; the uuid part is not secret.
        let shown: String = self.secret.chars().take(8).collect();
        f.debug_struct("ApiKey")
            .field("secret", &format_args!("{shown}…"))
            .field("origin", &self.origin)
            .finish()
    }
}

/// Configuration as resolved for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The API root, `<VERS_URL>/api/v1`.
    pub api_url: Url,
    /// The API key, if one is configured.
    pub api_key: Option<ApiKey>,
    /// The `.versrc` file consulted (or that would be) when `VERS_API_KEY` is unset.
    pub versrc: PathBuf,
    /// Domain of VM host names: a VM is `<vm_id>.<vm_domain>`.
    pub vm_domain: String,
    /// `host:port` to dial for SSH-in-TLS instead of `<vm_id>.<vm_domain>:443`.
    pub ssh_gateway: Option<String>,
    /// An extra CA certificate (PEM file) to trust besides the public roots.
    pub ca_cert: Option<PathBuf>,
}

impl Settings {
    /// Reads the configuration from `source` (environment and `~/.versrc`).
    pub fn resolve(source: &dyn ConfigSource) -> Result<Settings, VersError> {
        let base = base_url(source)?;
        let versrc = versrc_path(source);
        Ok(Settings {
            api_url: api_url(&base),
            api_key: api_key(source, &versrc)?,
            vm_domain: vm_domain(source, &base),
            ssh_gateway: ssh_gateway(source)?,
            ca_cert: var(source, "TETHER_CA_CERT").map(PathBuf::from),
            versrc,
        })
    }

    /// Where the key came from, if there is one.
    pub fn key_origin(&self) -> Option<&KeyOrigin> {
        self.api_key.as_ref().map(|key| &key.origin)
    }

    /// The key, or an error that says how to configure one.
    pub fn require_key(&self) -> Result<&ApiKey, VersError> {
        self.api_key.as_ref().ok_or_else(|| VersError::NoApiKey {
            versrc: self.versrc.clone(),
        })
    }

    /// A VM's host name: `<vm_id>.<vm_domain>` (the TLS SNI name).
    pub fn vm_host(&self, vm_id: &str) -> String {
        format!("{vm_id}.{}", self.vm_domain)
    }

    /// The `host:port` to dial for a VM: the gateway if configured, else its host name on 443.
    pub fn ssh_dial(&self, vm_id: &str) -> String {
        match &self.ssh_gateway {
            Some(gateway) => gateway.clone(),
            None => format!("{}:443", self.vm_host(vm_id)),
        }
    }
}

/// A variable's value, with unset and empty treated alike (as vers-cli does).
fn var(source: &dyn ConfigSource, name: &str) -> Option<String> {
    source
        .var(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn base_url(source: &dyn ConfigSource) -> Result<Url, VersError> {
    let raw = var(source, "VERS_URL").unwrap_or_else(|| DEFAULT_VERS_URL.to_owned());
    let bad = |reason: &str| VersError::BadUrl {
        value: raw.clone(),
        reason: reason.to_owned(),
    };
    if !raw.contains("://") {
        return Err(bad("it has no scheme (https://)"));
    }
    let url = Url::parse(&raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            "the scheme must be https:// (or http:// for a local simulator)",
        ));
    }
    if url.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    Ok(url)
}

/// `<base>/api/v1`; a base that already ends in `/api/v1` (as pi-v's did) is kept as it is.
fn api_url(base: &Url) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    if path.ends_with("/api/v1") {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/api/v1"));
    }
    url
}

fn vm_domain(source: &dyn ConfigSource, base: &Url) -> String {
    if let Some(domain) = var(source, "TETHER_VM_DOMAIN") {
        return domain.trim_matches('.').to_owned();
    }
    let host = base.host_str().unwrap_or("vers.sh");
    format!("vm.{}", host.strip_prefix("api.").unwrap_or(host))
}

fn ssh_gateway(source: &dyn ConfigSource) -> Result<Option<String>, VersError> {
    let Some(gateway) = var(source, "TETHER_SSH_GATEWAY") else {
        return Ok(None);
    };
    let port_ok = gateway
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(VersError::BadGateway { value: gateway });
    }
    Ok(Some(gateway))
}

fn versrc_path(source: &dyn ConfigSource) -> PathBuf {
    source
        .home()
        .unwrap_or_else(|| PathBuf::from("~"))
        .join(VERSRC)
}

fn api_key(source: &dyn ConfigSource, versrc: &Path) -> Result<Option<ApiKey>, VersError> {
    if let Some(secret) = var(source, "VERS_API_KEY") {
        return Ok(Some(ApiKey {
            secret,
            origin: KeyOrigin::Env,
        }));
    }
    Ok(read_versrc(versrc)?.map(|secret| ApiKey {
        secret,
        origin: KeyOrigin::Versrc(versrc.to_path_buf()),
    }))
}

/// vers-cli's `~/.versrc`: `{"apiKey": "...", "email": ..., "sshKeyPath": ...}`.
#[derive(Deserialize)]
struct Versrc {
    #[serde(default, rename = "apiKey")]
    api_key: Option<String>,
}

/// The key in `path`; `None` if the file is missing or holds no key.
fn read_versrc(path: &Path) -> Result<Option<String>, VersError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(versrc_error(path, e.to_string())),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let parsed: Versrc =
        serde_json::from_str(&text).map_err(|e| versrc_error(path, format!("not JSON: {e}")))?;
    Ok(parsed
        .api_key
        .map(|key| key.trim().to_owned())
        .filter(|key| !key.is_empty()))
}

fn versrc_error(path: &Path, reason: String) -> VersError {
    VersError::Versrc {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn resolve(env: StaticEnv) -> Settings {
        Settings::resolve(&env).unwrap()
    }

    #[test]
    fn api_url_appends_the_version_once() {
        let env = |url: &str| StaticEnv::new(None).with("VERS_URL", url);
        assert_eq!(
            resolve(env("https://api.vers.sh/")).api_url.as_str(),
            "https://api.vers.sh/api/v1"
        );
        assert_eq!(
            resolve(env("https://api.vers.sh/api/v1/")).api_url.as_str(),
            "https://api.vers.sh/api/v1"
        );
        assert_eq!(
            resolve(env("http://127.0.0.1:4000")).api_url.as_str(),
            "http://127.0.0.1:4000/api/v1"
        );
    }

    #[test]
    fn gateway_needs_a_port() {
        let env = StaticEnv::new(None).with("TETHER_SSH_GATEWAY", "localhost");
        let err = Settings::resolve(&env).unwrap_err();
        assert!(matches!(err, VersError::BadGateway { .. }), "{err:?}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = ApiKey {
            secret: "0123456789abcdefSECRET".into(),
            origin: KeyOrigin::Env,
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("01234567"), "{shown}");
    }
}
