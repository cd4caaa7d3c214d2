//! Facilitator verifying keys, identified by key id, and their published form.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::precomputed::PrecomputedKey;

/// Names a verifying key: the first 8 bytes of `sha256(public key)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The key id of `key`.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// The key id as 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// One key as `GET /keys` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    /// The key id, 16 hex digits.
    pub key_id: String,
    /// The Ed25519 public key, base58.
    pub public_key: String,
    /// Unix time from which proofs signed by it are accepted.
    pub not_before: i64,
    /// Unix time after which proofs signed by it are refused; `None` while current.
    pub not_after: Option<i64>,
}

/// Why a published key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The public key is not 32 bytes of base58 or not a valid curve point.
    #[error("public key {0} is not a valid Ed25519 key")]
    InvalidKey(String),
    /// The key id is not the one the public key implies.
    #[error("key id {0} does not match its public key")]
    KeyIdMismatch(String),
}

/// A validity window and key.
#[derive(Debug, Clone)]
struct Entry {
    key: Arc<PrecomputedKey>,
    not_before: i64,
    not_after: Option<i64>,
}

/// The verifying keys a gateway accepts, by key id. Several keys may be valid
/// at once, so a facilitator rotates keys without downtime: publish the new key,
/// start signing with it, and retire the old one after its last proof expires.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<KeyId, Entry>,
}

impl KeySet {
    /// Adds `key`, valid from `not_before` until `not_after` (if any).
    pub fn insert(&mut self, key: VerifyingKey, not_before: i64, not_after: Option<i64>) {
        self.keys.insert(
            KeyId::of(&key),
            Entry {
                key: Arc::new(PrecomputedKey::new(key)),
                not_before,
                not_after,
            },
        );
    }

    /// Adds a key as `GET /keys` published it, checking its id.
    pub fn insert_published(&mut self, published: &PublishedKey) -> Result<KeyId, KeyError> {
        let bytes: [u8; 32] = bs58::decode(&published.public_key)
            .into_vec()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| KeyError::InvalidKey(published.public_key.clone()))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::InvalidKey(published.public_key.clone()))?;
        let id = KeyId::of(&key);
        if id.to_hex() != published.key_id {
            return Err(KeyError::KeyIdMismatch(published.key_id.clone()));
        }
        self.insert(key, published.not_before, published.not_after);
        Ok(id)
    }

    /// The key with `id` if it is valid at `now`.
    pub fn valid_at(&self, id: &KeyId, now: i64) -> Option<&PrecomputedKey> {
        let entry = self.keys.get(id)?;
        let live = now >= entry.not_before && entry.not_after.is_none_or(|end| now <= end);
        live.then_some(&*entry.key)
    }

    /// Takes over `previous`'s verification tables for every key both sets
    /// hold, so refreshing an unchanged key set rebuilds nothing.
    pub fn keep_tables_from(&mut self, previous: &KeySet) {
        for (id, entry) in &mut self.keys {
            if let Some(old) = previous.keys.get(id) {
                if old.key.key() == entry.key.key() {
                    entry.key = Arc::clone(&old.key);
                }
            }
        }
    }

    /// Builds every key's verification table now, so that the first proof
    /// checked with each key costs no more than the rest.
    pub fn warm(&self) {
        for entry in self.keys.values() {
            entry.key.warm();
        }
    }

    /// Every key in its published form, sorted by key id.
    pub fn published(&self) -> Vec<PublishedKey> {
        let mut keys: Vec<PublishedKey> = self
            .keys
            .iter()
            .map(|(id, entry)| PublishedKey {
                key_id: id.to_hex(),
                public_key: bs58::encode(entry.key.key().as_bytes()).into_string(),
                not_before: entry.not_before,
                not_after: entry.not_after,
            })
            .collect();
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        keys
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    #[test]
    fn a_refreshed_key_set_reuses_the_tables_of_unchanged_keys_and_takes_the_new_windows() {
        let (kept, added) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let mut previous = KeySet::default();
        previous.insert(kept.verifying_key(), 0, None);
        let mut refreshed = KeySet::default();
        refreshed.insert(kept.verifying_key(), 0, Some(50));
        refreshed.insert(added.verifying_key(), 40, None);
        refreshed.keep_tables_from(&previous);

        let id = KeyId::of(&kept.verifying_key());
        assert!(Arc::ptr_eq(
            &refreshed.keys[&id].key,
            &previous.keys[&id].key
        ));
        assert!(
            refreshed.valid_at(&id, 60).is_none(),
            "the new window applies"
        );
        let added_id = KeyId::of(&added.verifying_key());
        assert!(!previous.keys.contains_key(&added_id));
        assert!(refreshed.valid_at(&added_id, 60).is_some());
    }
}
