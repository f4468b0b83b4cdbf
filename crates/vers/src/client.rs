//! [`VersClient`]: configuration re-read per request, one HTTPS client per trusted CA, and
//! the plumbing every endpoint goes through.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::reply::{self, Subject};
use crate::{ConfigSource, ProcessEnv, Settings, VersError};

/// Deadline for opening the TCP + TLS connection to the API.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for an ordinary API call (reads, state changes), reply body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for calls that create, copy or destroy VMs (`new_root` with `wait_boot`,
/// `from_commit`, branch, commit, delete): the server may boot or snapshot before replying.
pub const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(180);
/// Deadline for a whole-file transfer through `/vm/{id}/files`.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);
/// TCP keepalive on API connections: idle time before the first probe, then the interval and
/// the number of unanswered probes after which the connection counts as dead. A long exec
/// stream over a connection whose peer vanished silently thus ends within about 30 s (and
/// `tether exec --api` re-attaches) instead of waiting forever.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(15), Duration::from_secs(5), 3);

/// A typed async client for the Vers REST API.
///
/// Configuration (key, URL, CA) is resolved from its [`ConfigSource`] for every request, so a
/// key changed on disk or in the environment takes effect at once. Cloning is cheap and clones
/// share their HTTPS connections.
#[derive(Clone, Debug)]
pub struct VersClient {
    source: Arc<dyn ConfigSource>,
    http: Arc<Mutex<Option<HttpClient>>>,
}

/// An HTTPS client and the extra CA it was built to trust.
#[derive(Clone, Debug)]
struct HttpClient {
    ca_cert: Option<PathBuf>,
    client: reqwest::Client,
}

impl Default for VersClient {
    fn default() -> Self {
        VersClient::new()
    }
}

impl VersClient {
    /// A client configured from the process environment and `$HOME/.versrc`.
    pub fn new() -> VersClient {
        VersClient::with_source(Arc::new(ProcessEnv))
    }

    /// A client configured from `source` (a [`crate::StaticEnv`] in tests).
    pub fn with_source(source: Arc<dyn ConfigSource>) -> VersClient {
        VersClient {
            source,
            http: Arc::new(Mutex::new(None)),
        }
    }

    /// The configuration as it stands now (read afresh).
    pub fn settings(&self) -> Result<Settings, VersError> {
        Settings::resolve(self.source.as_ref())
    }

    /// The HTTPS client trusting `ca_cert`, rebuilt only when that setting changes.
    fn http(&self, ca_cert: Option<&PathBuf>) -> Result<reqwest::Client, VersError> {
        let mut cached = match self.http.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(http) = cached.as_ref().filter(|h| h.ca_cert.as_ref() == ca_cert) {
            return Ok(http.client.clone());
        }
        let client = build_http(ca_cert)?;
        *cached = Some(HttpClient {
            ca_cert: ca_cert.cloned(),
            client: client.clone(),
        });
        Ok(client)
    }

    /// Sends `call`; a non-2xx status becomes the matching [`VersError`].
    pub(crate) async fn send(&self, call: Call) -> Result<Response, VersError> {
        let settings = self.settings()?;
        let key = settings.require_key()?.clone();
        let http = self.http(settings.ca_cert.as_ref())?;
        let url = call.url(&settings.api_url);
        let mut request = http
            .request(call.method.clone(), url.clone())
            .bearer_auth(&key.secret);
        if let Some(timeout) = call.timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        tracing::debug!(method = %call.method, path = %call.path(), "vers api request");
        let response = request
            .send()
            .await
            .map_err(|e| call.transport_error(url.as_str(), e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let failure = reply::Failure::read(response).await;
        Err(reply::classify(status, &call, &failure, &key.origin))
    }

    /// Sends `call` and decodes its JSON reply as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, VersError> {
        let value = self.value(call.clone()).await?;
        serde_json::from_value(value).map_err(|e| call.bad_reply(e.to_string()))
    }

    /// Sends `call` and returns its reply as JSON (`Null` for an empty body).
    pub(crate) async fn value(&self, call: Call) -> Result<serde_json::Value, VersError> {
        let response = self.send(call.clone()).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| call.transport_error(&call.path(), e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| call.bad_reply(format!("not JSON: {e}")))
    }
}

fn build_http(ca_cert: Option<&PathBuf>) -> Result<reqwest::Client, VersError> {
    let tls = crate::tls::client_config(ca_cert.map(PathBuf::as_path))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(KEEPALIVE.0)
        .tcp_keepalive_interval(KEEPALIVE.1)
        .tcp_keepalive_retries(KEEPALIVE.2)
        .user_agent(concat!("tether/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| VersError::CaCert {
            path: ca_cert.cloned().unwrap_or_default(),
            reason: format!("the HTTPS client could not be built: {e}"),
        })
}

/// One API request: what is asked, about what, within which deadline.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    pub(crate) subject: Subject,
    timeout: Option<Duration>,
}

impl Call {
    /// A request for `segments` under `/api/v1`, with [`REQUEST_TIMEOUT`].
    pub(crate) fn new(method: Method, segments: &[&str], subject: Subject) -> Call {
        Call {
            method,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            subject,
            timeout: Some(REQUEST_TIMEOUT),
        }
    }

    /// Adds the fields of `query` (a flat struct) as query parameters.
    pub(crate) fn query(mut self, query: &impl Serialize) -> Call {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(query) {
            for (name, value) in fields {
                let value = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                self.query.push((name, value));
            }
        }
        self
    }

    /// Sends `body` as JSON.
    pub(crate) fn body(mut self, body: &impl Serialize) -> Result<Call, VersError> {
        let bytes = serde_json::to_vec(body).map_err(|e| VersError::BadReply {
            method: self.method.clone(),
            path: self.path(),
            reason: format!("the request body could not be encoded: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Replaces the deadline (`None`: no limit).
    pub(crate) fn timeout(mut self, timeout: Option<Duration>) -> Call {
        self.timeout = timeout;
        self
    }

    /// The path under `/api/v1`, as shown in errors.
    pub(crate) fn path(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }

    fn url(&self, api_url: &Url) -> Url {
        let mut url = api_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(&self.segments);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }

    /// The error for a request that failed below HTTP.
    pub(crate) fn transport_error(&self, url: &str, source: reqwest::Error) -> VersError {
        let cause = root_cause(&source);
        if is_tls_failure(&source) {
            return VersError::TlsRejected {
                url: url.to_owned(),
                cause,
                source,
            };
        }
        if source.is_connect() {
            return VersError::Unreachable {
                url: url.to_owned(),
                cause,
                source,
            };
        }
        match (source.is_timeout(), self.timeout) {
            (true, Some(after)) => VersError::Timeout {
                method: self.method.clone(),
                path: self.path(),
                after,
            },
            _ => VersError::Http {
                method: self.method.clone(),
                path: self.path(),
                cause,
                source,
            },
        }
    }

    /// The error for a 2xx reply of the wrong shape.
    pub(crate) fn bad_reply(&self, reason: String) -> VersError {
        VersError::BadReply {
            method: self.method.clone(),
            path: self.path(),
            reason,
        }
    }
}

/// The innermost error of `err`'s source chain, as text: the part that says what happened.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether a rustls error is in `err`'s chain. An io error hides its inner error from
/// `source()`, and TLS layers nest io errors, so those are opened recursively.
fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    if err.is::<rustls::Error>() {
        return true;
    }
    let inner = err
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref);
    if let Some(inner) = inner
        && is_tls_failure(inner)
    {
        return true;
    }
    err.source().is_some_and(is_tls_failure)
}
