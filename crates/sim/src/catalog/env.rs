//! Environment variables (`/env_vars`): set for an account, written to `/etc/environment` in
//! every VM it creates afterwards, and read from there into every exec and SSH session (as
//! Vers's agent and PAM do). Running VMs never see later changes.

use std::collections::BTreeMap;

use tether_wire::{EnvVars, SetEnvVarsRequest};

use super::{Catalog, names};
use crate::db::Account;
use crate::error::{ApiError, RefError};

/// Most variables one request may set, and one account may have (Vers's limits).
const MAX_PER_REQUEST: usize = 100;
const MAX_PER_ACCOUNT: usize = 256;

impl Catalog {
    /// `GET /env_vars`.
    pub fn env_vars(&self, caller: &Account) -> Result<EnvVars, ApiError> {
        Ok(EnvVars {
            vars: self.db.env_vars(&caller.org_id)?,
        })
    }

    /// `PUT /env_vars`: upsert, or with `replace` set exactly these.
    pub fn set_env_vars(
        &self,
        caller: &Account,
        request: SetEnvVarsRequest,
    ) -> Result<EnvVars, ApiError> {
        let replace = request.replace.unwrap_or(false);
        let bad = |reason: String| Err(RefError::BadEnvVar { reason }.into());
        if request.vars.is_empty() && !replace {
            return bad(
                "vars must not be empty (use replace: true with empty vars to clear all)".into(),
            );
        }
        if request.vars.len() > MAX_PER_REQUEST {
            return bad(format!(
                "too many variables in one request (at most {MAX_PER_REQUEST})"
            ));
        }
        for (name, value) in &request.vars {
            names::env_var(name, value)?;
        }
        let existing = self.db.env_vars(&caller.org_id)?;
        let added = request
            .vars
            .keys()
            .filter(|k| !existing.contains_key(*k))
            .count();
        let total = if replace {
            request.vars.len()
        } else {
            existing.len() + added
        };
        if total > MAX_PER_ACCOUNT {
            return bad(format!(
                "that would make {total} variables; an account may have at most {MAX_PER_ACCOUNT} (delete some first)"
            ));
        }
        let vars = self
            .db
            .set_env_vars(&caller.org_id, &request.vars, replace)?;
        Ok(EnvVars { vars })
    }

    /// `DELETE /env_vars/{key}`.
    pub fn delete_env_var(&self, caller: &Account, name: &str) -> Result<(), ApiError> {
        if self.db.delete_env_var(&caller.org_id, name)? {
            return Ok(());
        }
        Err(RefError::UnknownEnvVar {
            name: name.to_owned(),
        }
        .into())
    }

    /// The variables a VM made now by `org_id` gets.
    pub fn env_for_new_vm(&self, org_id: &str) -> Result<BTreeMap<String, String>, ApiError> {
        Ok(self.db.env_vars(org_id)?)
    }
}

/// `/etc/environment` holding `vars`: one `NAME=value` line each.
pub(crate) fn environment_file(vars: &BTreeMap<String, String>) -> String {
    vars.iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect()
}

/// The variables of an `/etc/environment` file, as Vers's agent reads it: `NAME=value` lines
/// (split at the first `=`, the value kept as it is), blank lines and `#` comments skipped.
pub(crate) fn parse_environment(content: &str) -> Vec<(String, String)> {
    content
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_file_reads_back_as_written() {
        let vars = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "x=y z".to_owned()),
        ]);
        let file = environment_file(&vars);
        assert_eq!(file, "A=1\nB=x=y z\n");
        let parsed: BTreeMap<String, String> = parse_environment(&file).into_iter().collect();
        assert_eq!(parsed, vars);
        let other = parse_environment("# comment\n\n  C=3  \nnoequals\n=v\n");
        assert_eq!(other, vec![("C".to_owned(), "3".to_owned())]);
    }
}
