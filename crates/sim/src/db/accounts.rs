//! Accounts: organisations and their API keys.
//!
//! A key's id is the UUID its secret starts with (Vers's format `<owner-uuid><64 hex>`) and the
//! `owner_id` of everything made with it; what a key sees is its organisation's. Only a
//! SHA-256 of each secret is stored, except the first account's, which is also kept in
//! `settings` so the simulator can print it on every start.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::{Db, Result, set_setting, setting};

/// Name of the first account's organisation.
pub(crate) const FIRST_ORG: &str = "tether";

/// Who a key belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    /// The key's id (= `owner_id`).
    pub key_id: String,
    pub key_label: String,
    pub key_created_at: String,
    pub org_id: String,
    pub org_name: String,
}

/// The first account, made on first start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub owner_id: String,
    pub org_id: String,
    pub api_key: String,
}

/// A key to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewKey {
    pub key_id: String,
    pub secret: String,
    pub label: String,
    pub created_at: String,
}

impl Db {
    /// Makes sure the first account exists (owner id, organisation, key), making what is
    /// missing with `new_key` and `now`; rows written before accounts existed become its.
    pub fn ensure_identity(
        &self,
        new_key: impl FnOnce(&str) -> String,
        now: &str,
    ) -> Result<Identity> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let owner_id = match setting(&tx, "owner_id")? {
            Some(id) => id,
            None => stored(&tx, "owner_id", uuid::Uuid::new_v4().to_string())?,
        };
        let api_key = match setting(&tx, "api_key")? {
            Some(key) => key,
            None => stored(&tx, "api_key", new_key(&owner_id))?,
        };
        let org_id = match setting(&tx, "org_id")? {
            Some(id) => id,
            None => first_org(&tx, now)?,
        };
        let key = NewKey {
            key_id: owner_id.clone(),
            secret: api_key.clone(),
            label: "default".into(),
            created_at: now.into(),
        };
        tx.execute(
            "INSERT INTO api_keys (key_id, org_id, secret_sha256, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key_id) DO NOTHING",
            params![
                key.key_id,
                org_id,
                digest(&key.secret),
                key.label,
                key.created_at
            ],
        )?;
        for table in ["vms", "commits"] {
            tx.execute(
                &format!("UPDATE {table} SET owner_id = ?1, org_id = ?2 WHERE owner_id IS NULL"),
                [&owner_id, &org_id],
            )?;
        }
        tx.commit()?;
        Ok(Identity {
            owner_id,
            org_id,
            api_key,
        })
    }

    /// The account a presented secret belongs to, if any.
    pub fn account_by_secret(&self, secret: &str) -> Result<Option<Account>> {
        let sql = format!("{ACCOUNT} WHERE k.secret_sha256 = ?1");
        self.conn()
            .query_row(&sql, [digest(secret)], account)
            .optional()
    }

    /// The account of a key id.
    pub fn account_by_key(&self, key_id: &str) -> Result<Option<Account>> {
        let sql = format!("{ACCOUNT} WHERE k.key_id = ?1");
        self.conn().query_row(&sql, [key_id], account).optional()
    }

    /// Adds `key` to the organisation named `org_name`, making the organisation if it does not
    /// exist. Returns the account.
    pub fn add_key(&self, org_name: &str, key: &NewKey) -> Result<Account> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let org_id = match org_id_by_name(&tx, org_name)? {
                Some(id) => id,
                None => insert_org(&tx, org_name, &key.created_at)?,
            };
            tx.execute(
                "INSERT INTO api_keys (key_id, org_id, secret_sha256, label, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key.key_id,
                    org_id,
                    digest(&key.secret),
                    key.label,
                    key.created_at
                ],
            )?;
            tx.commit()?;
        }
        self.account_by_key(&key.key_id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)
    }
}

const ACCOUNT: &str = "SELECT k.key_id, k.label, k.created_at, o.org_id, o.name
    FROM api_keys k JOIN orgs o ON o.org_id = k.org_id";

fn account(row: &rusqlite::Row<'_>) -> Result<Account> {
    Ok(Account {
        key_id: row.get(0)?,
        key_label: row.get(1)?,
        key_created_at: row.get(2)?,
        org_id: row.get(3)?,
        org_name: row.get(4)?,
    })
}

fn stored(conn: &Connection, key: &str, value: String) -> Result<String> {
    set_setting(conn, key, &value)?;
    Ok(value)
}

/// The first organisation: named [`FIRST_ORG`] unless that name is taken.
fn first_org(conn: &Connection, now: &str) -> Result<String> {
    let name = match org_id_by_name(conn, FIRST_ORG)? {
        None => FIRST_ORG.to_owned(),
        Some(_) => format!(
            "{FIRST_ORG}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
    };
    let org_id = insert_org(conn, &name, now)?;
    stored(conn, "org_id", org_id)
}

fn insert_org(conn: &Connection, name: &str, now: &str) -> Result<String> {
    let org_id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO orgs (org_id, name, created_at) VALUES (?1, ?2, ?3)",
        [&org_id, name, now],
    )?;
    Ok(org_id)
}

fn org_id_by_name(conn: &Connection, name: &str) -> Result<Option<String>> {
    conn.query_row("SELECT org_id FROM orgs WHERE name = ?1", [name], |row| {
        row.get(0)
    })
    .optional()
}

/// The stored form of a secret.
fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
