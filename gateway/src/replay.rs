//! The replay cache: each proof id is accepted once while the proof is valid.
//! In memory by default; in Redis when configured, so several gateway
//! instances share it.

use std::collections::HashMap;
use std::sync::Mutex;

/// The replay cache could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("replay cache: {0}")]
pub struct ReplayError(String);

/// Where used proof ids are kept.
pub enum ReplayStore {
    /// This process only.
    Memory(MemoryReplayCache),
    /// Shared through Redis.
    Redis(RedisReplayCache),
}

impl ReplayStore {
    /// Records `id` until `expires_at`; `true` on its first use.
    pub async fn first_use(
        &self,
        id: [u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayError> {
        match self {
            Self::Memory(cache) => Ok(cache.first_use(id, expires_at, now)),
            Self::Redis(cache) => cache.first_use(id, expires_at, now).await,
        }
    }

    /// Forgets `id`, so the proof may be presented again (after an upstream failure).
    pub async fn release(&self, id: [u8; 16]) -> Result<(), ReplayError> {
        match self {
            Self::Memory(cache) => {
                cache.release(id);
                Ok(())
            }
            Self::Redis(cache) => cache.release(id).await,
        }
    }
}

/// Remembers proof ids in this process until their proofs expire.
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Proof id → expiry.
    ids: HashMap<[u8; 16], i64>,
    /// When expired ids were last swept.
    swept_at: i64,
}

impl MemoryReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `id` (valid until `expires_at`) and says whether this is its
    /// first use. Expired ids are swept at most once a second.
    pub fn first_use(&self, id: [u8; 16], expires_at: i64, now: i64) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if now > seen.swept_at {
            seen.ids.retain(|_, expiry| *expiry > now);
            seen.swept_at = now;
        }
        match seen.ids.get(&id) {
            Some(expiry) if *expiry > now => false,
            _ => {
                seen.ids.insert(id, expires_at);
                true
            }
        }
    }

    /// Forgets `id`.
    pub fn release(&self, id: [u8; 16]) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        seen.ids.remove(&id);
    }

    /// Ids currently remembered.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .ids
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Proof ids in Redis: `SET key 1 NX EXAT expiry` succeeds only for the first use.
pub struct RedisReplayCache {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisReplayCache {
    /// Connects to `url` (`redis://host:port/db`); keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, ReplayError> {
        let client = redis::Client::open(url).map_err(|error| ReplayError(error.to_string()))?;
        let connection = client
            .get_connection_manager()
            .await
            .map_err(|error| ReplayError(error.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, id: [u8; 16]) -> String {
        let hex: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{}{hex}", self.prefix)
    }

    async fn first_use(
        &self,
        id: [u8; 16],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(id))
            .arg(1)
            .arg("NX")
            .arg("EXAT")
            .arg(expires_at.max(now + 1))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|error| ReplayError(error.to_string()))?;
        Ok(set.is_some())
    }

    async fn release(&self, id: [u8; 16]) -> Result<(), ReplayError> {
        let _: i64 = redis::cmd("DEL")
            .arg(self.key(id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|error| ReplayError(error.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_once_until_its_proof_expires() {
        let cache = MemoryReplayCache::new();
        assert!(cache.first_use([1; 16], 100, 10));
        assert!(!cache.first_use([1; 16], 100, 50));
        assert!(cache.first_use([2; 16], 100, 50));
        assert_eq!(cache.len(), 2);
        // After expiry the proof itself is refused; the cache forgets the id.
        assert!(cache.first_use([3; 16], 200, 150));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_released_id_may_be_used_again() {
        let cache = MemoryReplayCache::new();
        assert!(cache.first_use([1; 16], 100, 10));
        cache.release([1; 16]);
        assert!(cache.first_use([1; 16], 100, 11));
    }
}
