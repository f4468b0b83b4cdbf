//! Domain rows: a DNS name mapped to a VM.

use rusqlite::{OptionalExtension, Row, params};

use super::{Db, Result};

/// A domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DomainRow {
    pub domain_id: String,
    pub org_id: String,
    pub owner_id: String,
    pub vm_id: String,
    /// Lowercase.
    pub domain: String,
    pub created_at: String,
}

const SELECT: &str = "SELECT domain_id, org_id, owner_id, vm_id, domain, created_at FROM domains";

impl Db {
    /// Adds a domain; a name taken by anyone is a UNIQUE violation.
    pub fn insert_domain(&self, row: &DomainRow) -> Result<()> {
        let sql = "INSERT INTO domains (domain_id, org_id, owner_id, vm_id, domain, created_at)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        let args = params![
            row.domain_id,
            row.org_id,
            row.owner_id,
            row.vm_id,
            row.domain,
            row.created_at
        ];
        self.conn().execute(sql, args).map(drop)
    }

    /// A domain by id.
    pub fn find_domain(&self, domain_id: &str) -> Result<Option<DomainRow>> {
        let sql = format!("{SELECT} WHERE domain_id = ?1");
        self.conn()
            .query_row(&sql, [domain_id], domain_row)
            .optional()
    }

    /// The domain with this (lowercase) name.
    pub fn domain_by_name(&self, domain: &str) -> Result<Option<DomainRow>> {
        let sql = format!("{SELECT} WHERE domain = ?1");
        self.conn().query_row(&sql, [domain], domain_row).optional()
    }

    /// An organisation's domains, oldest first, of one VM if given.
    pub fn list_domains(&self, org_id: &str, vm_id: Option<&str>) -> Result<Vec<DomainRow>> {
        let sql = format!(
            "{SELECT} WHERE org_id = ?1 AND (?2 IS NULL OR vm_id = ?2) ORDER BY created_at, domain"
        );
        let conn = self.conn();
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map(params![org_id, vm_id], domain_row)?;
        rows.collect()
    }

    /// Deletes a domain.
    pub fn delete_domain(&self, domain_id: &str) -> Result<()> {
        let sql = "DELETE FROM domains WHERE domain_id = ?1";
        self.conn().execute(sql, [domain_id]).map(drop)
    }
}

fn domain_row(row: &Row<'_>) -> Result<DomainRow> {
    Ok(DomainRow {
        domain_id: row.get(0)?,
        org_id: row.get(1)?,
        owner_id: row.get(2)?,
        vm_id: row.get(3)?,
        domain: row.get(4)?,
        created_at: row.get(5)?,
    })
}
