//! Readiness: whether this facilitator can do its job now. It needs the chain
//! (its RPC answers) and its store (a row can be written; a failed receipt
//! commit counts until a write succeeds again). `/healthz` and `/readyz` answer 503 with the failing
//! check until both hold; `/livez` only says the process serves HTTP.

use std::sync::Arc;
use std::time::Duration;

use paytab_protocol::clock::unix_now;
use serde_json::{json, Value};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

use crate::committer::WriteHealth;
use crate::store::Store;

/// Longest a readiness check waits for the chain or the store.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What readiness looks at.
pub struct Readiness {
    rpc: Arc<RpcClient>,
    store: Store,
    writes: Arc<WriteHealth>,
}

impl Readiness {
    /// Checks `rpc`, `store` and the receipt writer's `writes`.
    pub fn new(rpc: Arc<RpcClient>, store: Store, writes: Arc<WriteHealth>) -> Self {
        Self { rpc, store, writes }
    }

    /// Runs every check: `Ok` with each check's result when all pass, `Err`
    /// with the same when one fails.
    pub async fn check(&self) -> Result<Value, Value> {
        let chain = match tokio::time::timeout(CHECK_TIMEOUT, self.rpc.get_slot()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("the Solana RPC failed: {error}")),
            Err(_) => Err("the Solana RPC did not answer in time".to_string()),
        };
        let failing_before = self.writes.failing();
        let store =
            match tokio::time::timeout(CHECK_TIMEOUT, self.store.probe_write(unix_now())).await {
                Ok(Ok(())) => {
                    // A write went through: the store takes writes again.
                    self.writes.record(true);
                    Ok(())
                }
                Ok(Err(error)) => {
                    self.writes.record(false);
                    Err(format!("the store cannot be written: {error}"))
                }
                Err(_) => Err("the store did not answer in time".to_string()),
            };
        if failing_before && store.is_ok() {
            tracing::info!("the store takes writes again");
        }
        let report = |check: &Result<(), String>| match check {
            Ok(()) => json!("ok"),
            Err(reason) => json!(reason),
        };
        let checks = json!({"chain": report(&chain), "store": report(&store)});
        if chain.is_ok() && store.is_ok() {
            Ok(json!({"status": "ok", "checks": checks}))
        } else {
            Err(json!({"status": "unavailable", "checks": checks}))
        }
    }
}
