//! Environment variables of an organisation: written into every VM it creates afterwards.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{Db, Result};

impl Db {
    /// Every variable of an organisation.
    pub fn env_vars(&self, org_id: &str) -> Result<BTreeMap<String, String>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare("SELECT name, value FROM env_vars WHERE org_id = ?1 ORDER BY name")?;
        let rows = statement.query_map([org_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    }

    /// Sets `vars` (after deleting every other variable if `replace`); returns all of them.
    pub fn set_env_vars(
        &self,
        org_id: &str,
        vars: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            if replace {
                tx.execute("DELETE FROM env_vars WHERE org_id = ?1", [org_id])?;
            }
            for (name, value) in vars {
                tx.execute(
                    "INSERT INTO env_vars (org_id, name, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT(org_id, name) DO UPDATE SET value = excluded.value",
                    params![org_id, name, value],
                )?;
            }
            tx.commit()?;
        }
        self.env_vars(org_id)
    }

    /// Deletes one variable; whether it existed.
    pub fn delete_env_var(&self, org_id: &str, name: &str) -> Result<bool> {
        let sql = "DELETE FROM env_vars WHERE org_id = ?1 AND name = ?2";
        Ok(self.conn().execute(sql, [org_id, name])? > 0)
    }
}
