//! The account behind a key: `whoami`, key validation, the API's version, environment
//! variables for new VMs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /whoami` reply: who the bearer key belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The key itself.
    pub api_key: WhoamiKey,
    /// Its organisation.
    pub org: WhoamiOrg,
    /// Its user.
    pub user: WhoamiUser,
}

/// The key part of [`Whoami`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoamiKey {
    /// The key's id (the `owner_id` of everything it makes).
    pub id: String,
    /// Its label.
    pub label: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it stops working (never, from the simulator).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// RAM limit of the key, if any.
    #[serde(default)]
    pub max_memory_mib: Option<u64>,
    /// vCPU limit of the key, if any.
    #[serde(default)]
    pub max_vcpus: Option<u64>,
}

/// The organisation part of [`Whoami`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoamiOrg {
    /// Its id.
    pub id: String,
    /// Its name (the namespace of its public repositories).
    pub name: String,
}

/// The user part of [`Whoami`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoamiUser {
    /// Its id.
    pub id: String,
    /// Its e-mail address.
    pub email: String,
    /// Its name.
    pub user_name: String,
}

/// `POST /keys/validate` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateKeyResponse {
    /// Whether the key works.
    pub valid: bool,
    /// A human-readable verdict.
    pub message: String,
}

/// `GET /system/version` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemVersion {
    /// The serving program (`orchestrator` on Vers).
    pub executable_name: String,
    /// Its version.
    pub workspace_version: String,
    /// The commit it was built from.
    pub git_hash: String,
}

/// `GET`/`PUT /env_vars` reply: every variable set for the account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVars {
    /// Name to value.
    pub vars: BTreeMap<String, String>,
}

/// `PUT /env_vars` body. Variables reach VMs created afterwards (in `/etc/environment`), never
/// running ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEnvVarsRequest {
    /// Names (shell identifiers, at most 256 characters) to values (at most 8192).
    pub vars: BTreeMap<String, String>,
    /// Delete every other variable first (default: upsert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<bool>,
}
