//! Domains (`/domains`): a DNS name mapped to a VM. The simulator's gateway answers TLS for a
//! mapped name (SNI = the domain) with a certificate from its CA and serves that VM's SSH, as
//! for `<vm_id>.vm.tether.localhost`.

use tether_wire::{CreateDomainRequest, DeleteDomainResponse, Domain};

use super::{Catalog, new_id};
use crate::db::{Account, DomainRow, is_conflict};
use crate::error::{ApiError, RefError};
use crate::registry::now;

impl Catalog {
    /// `POST /domains` (the VM was checked to be the caller's).
    pub fn create_domain(
        &self,
        caller: &Account,
        request: CreateDomainRequest,
        vm_domain: &str,
    ) -> Result<Domain, ApiError> {
        let name = validate_domain(&request.domain, vm_domain)?;
        let row = DomainRow {
            domain_id: new_id(),
            org_id: caller.org_id.clone(),
            owner_id: caller.key_id.clone(),
            vm_id: request.vm_id,
            domain: name,
            created_at: now(),
        };
        match self.db.insert_domain(&row) {
            Err(err) if is_conflict(&err) => {
                Err(RefError::DomainExists { domain: row.domain }.into())
            }
            other => other.map(|()| domain(row)).map_err(ApiError::from),
        }
    }

    /// `GET /domains[?vm_id=]`.
    pub fn list_domains(
        &self,
        caller: &Account,
        vm_id: Option<&str>,
    ) -> Result<Vec<Domain>, ApiError> {
        let rows = self.db.list_domains(&caller.org_id, vm_id)?;
        Ok(rows.into_iter().map(domain).collect())
    }

    /// `GET /domains/{id}`.
    pub fn get_domain(&self, caller: &Account, domain_id: &str) -> Result<Domain, ApiError> {
        Ok(domain(self.own_domain(caller, domain_id)?))
    }

    /// `DELETE /domains/{id}`.
    pub fn delete_domain(
        &self,
        caller: &Account,
        domain_id: &str,
    ) -> Result<DeleteDomainResponse, ApiError> {
        let row = self.own_domain(caller, domain_id)?;
        self.db.delete_domain(&row.domain_id)?;
        Ok(DeleteDomainResponse {
            domain_id: row.domain_id,
        })
    }

    /// The VM a (case-insensitive) domain leads to.
    pub fn domain_vm(&self, name: &str) -> Option<String> {
        match self.db.domain_by_name(&name.to_ascii_lowercase()) {
            Ok(row) => row.map(|row| row.vm_id),
            Err(err) => {
                tracing::warn!("could not look up domain {name}: {err}");
                None
            }
        }
    }

    fn own_domain(&self, caller: &Account, domain_id: &str) -> Result<DomainRow, ApiError> {
        match self.db.find_domain(domain_id)? {
            Some(row) if row.org_id == caller.org_id => Ok(row),
            Some(_) => Err(RefError::ForeignDomain {
                domain_id: domain_id.to_owned(),
            }
            .into()),
            None => Err(RefError::UnknownDomain {
                domain_id: domain_id.to_owned(),
            }
            .into()),
        }
    }
}

/// Checks a domain name as Vers does (RFC 1123 labels, at least two, a TLD not all digits, no
/// IP literal) and that it is not a VM name of the simulator; returns it lowercased.
pub(crate) fn validate_domain(name: &str, vm_domain: &str) -> Result<String, ApiError> {
    let bad = |rule| {
        Err(RefError::BadName {
            what: "domain",
            name: name.to_owned(),
            rule,
        }
        .into())
    };
    let lower = name.to_ascii_lowercase();
    let labels: Vec<&str> = lower.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if lower.is_empty() || lower.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return bad(
            "give a DNS name such as app.example.com: 2+ labels of 1-63 letters, digits or '-' (not at either end), 253 characters at most",
        );
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return bad("the top-level domain cannot be all digits (an IP address is not a domain)");
    }
    let vm_domain = vm_domain.to_ascii_lowercase();
    if lower == vm_domain || lower.ends_with(&format!(".{vm_domain}")) {
        return bad("names under the simulator's VM domain are its VMs' own; pick another name");
    }
    Ok(lower)
}

fn domain(row: DomainRow) -> Domain {
    Domain {
        domain_id: row.domain_id,
        vm_id: row.vm_id,
        domain: row.domain,
        created_at: row.created_at,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn domains_follow_vers_rules_and_stay_out_of_the_vm_domain() {
        let vm = "vm.tether.localhost";
        assert_eq!(
            validate_domain("App.Example.COM", vm).unwrap(),
            "app.example.com"
        );
        assert!(validate_domain("a.b", vm).is_ok());
        for bad in [
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "a.com.",
            "192.168.0.1",
            "a_b.com",
            "x.vm.tether.localhost",
            "vm.tether.localhost",
            "user@example.com",
        ] {
            assert!(validate_domain(bad, vm).is_err(), "{bad}");
        }
    }
}
