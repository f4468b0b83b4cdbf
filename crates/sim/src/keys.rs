//! Secrets the simulator hands out: per-VM SSH keys and the API key.

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};

use crate::db::KeyPems;
use crate::error::ApiError;

/// A VM's SSH keys: the client key that logs in (served by `/ssh_key`) and the host key.
#[derive(Clone, Debug)]
pub(crate) struct VmKeys {
    pub client: PrivateKey,
    pub host: PrivateKey,
}

impl VmKeys {
    /// Fresh ed25519 keys.
    pub fn generate() -> VmKeys {
        VmKeys {
            client: ed25519(),
            host: ed25519(),
        }
    }

    /// Keys read back from the database; `owner` names the VM or commit for errors.
    pub fn from_pems(owner: &str, pems: &KeyPems) -> Result<VmKeys, ApiError> {
        let parse = |pem: &str| {
            PrivateKey::from_openssh(pem).map_err(|source| ApiError::Key {
                owner: owner.to_owned(),
                source,
            })
        };
        Ok(VmKeys {
            client: parse(&pems.client)?,
            host: parse(&pems.host)?,
        })
    }

    /// The keys as OpenSSH PEM, for the database.
    pub fn to_pems(&self, owner: &str) -> Result<KeyPems, ApiError> {
        Ok(KeyPems {
            client: openssh(owner, &self.client)?,
            host: openssh(owner, &self.host)?,
        })
    }

    /// The public half of the client key: the only key allowed to log in.
    pub fn authorized_key(&self) -> PublicKey {
        self.client.public_key().clone()
    }
}

/// A private key in OpenSSH PEM form (what `/ssh_key` serves and `ssh -i` reads).
pub(crate) fn openssh(owner: &str, key: &PrivateKey) -> Result<String, ApiError> {
    match key.to_openssh(LineEnding::LF) {
        Ok(pem) => Ok(pem.to_string()),
        Err(source) => Err(ApiError::Key {
            owner: owner.to_owned(),
            source,
        }),
    }
}

fn ed25519() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>()))
}

/// A new API key in Vers's format: the owner's UUID followed by 64 hex digits.
pub(crate) fn new_api_key(owner_id: &str) -> String {
    format!("{owner_id}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// Compares a presented key with the real one without an early exit on the first difference.
pub(crate) fn key_matches(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn keys_round_trip_through_pem_and_differ_per_vm() {
        let keys = VmKeys::generate();
        let pems = keys.to_pems("vm").unwrap();
        assert!(
            pems.client
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        let back = VmKeys::from_pems("vm", &pems).unwrap();
        assert_eq!(back.authorized_key(), keys.authorized_key());
        assert_eq!(back.host.public_key(), keys.host.public_key());
        assert_ne!(keys.client.public_key(), keys.host.public_key());
        assert_ne!(VmKeys::generate().authorized_key(), keys.authorized_key());
    }

    #[test]
    fn api_keys_have_the_vers_shape_and_compare_exactly() {
        let owner = "123e4567-e89b-42d3-a456-426614174000";
        let key = new_api_key(owner);
        assert_eq!(key.len(), owner.len() + 64);
        assert!(key.starts_with(owner));
        assert!(key_matches(&key, &key.clone()));
        assert!(!key_matches(&key[..key.len() - 1], &key));
        assert!(!key_matches(
            &key.replace(owner, &owner.replace('1', "2")),
            &key
        ));
    }

    #[test]
    fn a_bad_pem_names_its_owner() {
        let pems = KeyPems {
            client: "junk".into(),
            host: "junk".into(),
        };
        let err = VmKeys::from_pems("vm-7", &pems).unwrap_err();
        assert!(err.to_string().contains("vm-7"), "{err}");
    }
}
