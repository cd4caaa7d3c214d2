//! Reads of paytab accounts over JSON-RPC, cached per allowance.
//!
//! An allowance and its escrow are fetched on a miss, when the cached copy is
//! older than the configured time to live, or when a caller asks for a fresh
//! read because a check failed that newer state could change (a raised cap, a
//! new session key). Nothing here knows whether the chain is local.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anchor_lang::AccountDeserialize;
use paytab::state::{Allowance, Escrow};
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

/// A JSON-RPC failure or an account that is not what it claims to be.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC call failed.
    #[error("rpc: {0}")]
    Rpc(String),
}

/// An allowance and its escrow as read from the chain.
#[derive(Debug, Clone)]
pub struct AllowanceState {
    /// The allowance's address.
    pub address: Pubkey,
    /// The allowance account.
    pub allowance: Allowance,
    /// The escrow account it draws on.
    pub escrow: Escrow,
    /// When it was read.
    pub fetched_at: Instant,
}

/// Cached reads of allowances and escrows.
pub struct ChainReader {
    rpc: Arc<RpcClient>,
    ttl: Duration,
    cache: Mutex<HashMap<Pubkey, Arc<AllowanceState>>>,
}

impl ChainReader {
    /// Reads through `rpc`, trusting a cached allowance for `ttl`.
    pub fn new(rpc: Arc<RpcClient>, ttl: Duration) -> Self {
        Self {
            rpc,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The RPC client.
    pub fn rpc(&self) -> &Arc<RpcClient> {
        &self.rpc
    }

    /// The allowance at `address` with its escrow, from the cache unless it is
    /// missing, stale, or `fresh` is asked for. `None` if no paytab allowance
    /// (with a paytab escrow) lives there.
    pub async fn allowance(
        &self,
        address: &Pubkey,
        fresh: bool,
    ) -> Result<Option<Arc<AllowanceState>>, ChainError> {
        if !fresh {
            if let Some(cached) = self.cached(address) {
                return Ok(Some(cached));
            }
        }
        let state = self.fetch(address).await?;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match &state {
            Some(state) => {
                cache.insert(*address, state.clone());
            }
            None => {
                cache.remove(address);
            }
        }
        Ok(state)
    }

    /// Drops the cached copy of `address`.
    pub fn forget(&self, address: &Pubkey) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        cache.remove(address);
    }

    fn cached(&self, address: &Pubkey) -> Option<Arc<AllowanceState>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        cache
            .get(address)
            .filter(|state| state.fetched_at.elapsed() < self.ttl)
            .cloned()
    }

    async fn fetch(&self, address: &Pubkey) -> Result<Option<Arc<AllowanceState>>, ChainError> {
        let Some(allowance) = self.paytab_account::<Allowance>(address).await? else {
            return Ok(None);
        };
        let Some(escrow) = self.paytab_account::<Escrow>(&allowance.escrow).await? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(AllowanceState {
            address: *address,
            allowance,
            escrow,
            fetched_at: Instant::now(),
        })))
    }

    /// A paytab-owned account of type `T`, or `None` if it is absent, owned by
    /// another program or not a `T`.
    async fn paytab_account<T: AccountDeserialize>(
        &self,
        address: &Pubkey,
    ) -> Result<Option<T>, ChainError> {
        let accounts = self
            .rpc
            .get_multiple_accounts(&[*address])
            .await
            .map_err(|error| ChainError::Rpc(error.to_string()))?;
        let Some(Some(account)) = accounts.into_iter().next() else {
            return Ok(None);
        };
        if account.owner != paytab::ID {
            return Ok(None);
        }
        Ok(T::try_deserialize(&mut account.data.as_slice()).ok())
    }
}
