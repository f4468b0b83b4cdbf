//! Accounts from outside the simulator: `tether sim key add` makes another API key (for the
//! same organisation, or a new one) in a data directory, while a simulator runs on it or not.
//! The simulator looks keys up on every request, so the new key works at once.

use std::path::Path;

use serde::Serialize;

use crate::datadir::open_shared;
use crate::db::NewKey;
use crate::error::SimError;
use crate::keys::new_api_key;
use crate::registry::now;

/// A key just made: the only time its secret is shown (the database keeps a hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddedKey {
    /// The secret: `<key id><64 hex digits>`, Vers's format.
    pub api_key: String,
    /// The key's id: the `owner_id` of everything made with it.
    pub key_id: String,
    /// Its organisation's id.
    pub org_id: String,
    /// Its organisation's name (the namespace of its public repositories).
    pub org_name: String,
    /// Its label.
    pub label: String,
}

/// Adds a key to the data directory at `data_dir`: to the organisation `org` (made if it
/// does not exist yet), or to a new organisation with a generated name.
pub fn add_key(
    data_dir: &Path,
    org: Option<&str>,
    label: Option<&str>,
) -> Result<AddedKey, SimError> {
    let db = open_shared(data_dir)?;
    let key_id = uuid::Uuid::new_v4().to_string();
    let org_name = match org {
        Some(name) => check_org(name)?.to_owned(),
        None => format!("org-{}", &key_id[..8]),
    };
    let key = NewKey {
        secret: new_api_key(&key_id),
        label: label.unwrap_or("added").to_owned(),
        created_at: now(),
        key_id,
    };
    let database = |source| SimError::Database {
        path: data_dir.join("sim.db"),
        source,
    };
    let account = db.add_key(&org_name, &key).map_err(database)?;
    Ok(AddedKey {
        api_key: key.secret,
        key_id: account.key_id,
        org_id: account.org_id,
        org_name: account.org_name,
        label: account.key_label,
    })
}

/// An organisation name: 1–64 letters, digits, `-`, `_` or `.` (it is a path segment of
/// `/public/repositories/{org}/…`).
fn check_org(name: &str) -> Result<&str, SimError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if (1..=64).contains(&name.len()) && name.chars().all(ok) {
        return Ok(name);
    }
    Err(SimError::BadOrg {
        name: name.to_owned(),
    })
}
