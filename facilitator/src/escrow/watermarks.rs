//! Accepted watermarks in memory, bounded: receipts for one allowance are
//! checked one at a time under one of a fixed number of locks (striped by
//! allowance), and the watermarks last seen are kept in a least-recently-used
//! cache of fixed size. A receipt naming an allowance that does not exist adds
//! nothing; the store remains the truth for anything evicted.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use solana_pubkey::Pubkey;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard};

use crate::store::Watermark;

/// Locks shared by all allowances.
const STRIPES: usize = 1024;
/// Watermarks kept in memory.
const CACHED: usize = 65_536;

/// Per-allowance serialisation and a bounded cache of accepted watermarks.
pub struct Watermarks {
    stripes: Vec<AsyncMutex<()>>,
    hasher: RandomState,
    cache: Mutex<LruCache<Pubkey, Watermark>>,
}

impl Default for Watermarks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| AsyncMutex::new(())).collect(),
            hasher: RandomState::new(),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(CACHED).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl Watermarks {
    /// Waits for the lock that serialises receipts of `allowance`.
    pub async fn lock(&self, allowance: &Pubkey) -> MutexGuard<'_, ()> {
        // The modulo keeps the index within the stripes.
        let stripe = (self.hasher.hash_one(allowance) % STRIPES as u64) as usize;
        self.stripes[stripe].lock().await
    }

    /// The cached watermark of `allowance`, if any (hold its lock).
    pub fn get(&self, allowance: &Pubkey) -> Option<Watermark> {
        self.cache().get(allowance).copied()
    }

    /// Caches `allowance`'s watermark (hold its lock).
    pub fn set(&self, allowance: Pubkey, watermark: Watermark) {
        self.cache().put(allowance, watermark);
    }

    /// How many watermarks are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache().len()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<Pubkey, Watermark>> {
        self.cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_never_holds_more_than_its_size() {
        let watermarks = Watermarks::default();
        let mark = Watermark {
            generation: 1,
            accepted: 1,
            claimed: 0,
        };
        for _ in 0..CACHED + 100 {
            watermarks.set(Pubkey::new_unique(), mark);
        }
        assert_eq!(watermarks.len(), CACHED);
    }

    #[tokio::test]
    async fn one_allowance_is_checked_at_a_time() {
        let watermarks = Watermarks::default();
        let allowance = Pubkey::new_unique();
        let held = watermarks.lock(&allowance).await;
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            watermarks.lock(&allowance),
        )
        .await;
        assert!(second.is_err(), "the same allowance waits");
        drop(held);
        assert!(tokio::time::timeout(
            std::time::Duration::from_millis(50),
            watermarks.lock(&allowance)
        )
        .await
        .is_ok());
    }
}
