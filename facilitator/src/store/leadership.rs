//! Who runs claim rounds when several facilitators share one database: the
//! holder of a PostgreSQL session advisory lock. The lock lives with the
//! connection that took it, so a leader that dies (process killed, network
//! gone) gives it up as its session ends, and another instance takes over at
//! its next round. SQLite is one process per database file: it always leads.

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use super::{Store, StoreError};

/// The advisory lock key of claim rounds (the bytes of "paytabcl").
pub const CLAIMS_LOCK: i64 = 0x7061_7974_6162_636c;

/// The lead of one claim round, held until [`ClaimLead::release`] (or, if
/// dropped unreleased, until its connection is closed).
pub struct ClaimLead {
    connection: Option<PoolConnection<Postgres>>,
}

impl Store {
    /// Takes the lead of claim rounds, or `None` while another facilitator
    /// on this database holds it.
    pub async fn lead_claims(&self) -> Result<Option<ClaimLead>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(Some(ClaimLead { connection: None }));
        };
        let mut connection = pool.acquire().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(CLAIMS_LOCK)
            .fetch_one(&mut *connection)
            .await?;
        Ok(held.then_some(ClaimLead {
            connection: Some(connection),
        }))
    }
}

impl ClaimLead {
    /// Gives the lead back; when that cannot be confirmed, closes the
    /// connection, which ends the lock with its session.
    pub async fn release(mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let released = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(CLAIMS_LOCK)
            .fetch_one(&mut *connection)
            .await;
        if !matches!(released, Ok(true)) {
            drop(connection.detach());
        }
    }
}

impl Drop for ClaimLead {
    /// Never returns a connection still holding the lock to the pool.
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
    }
}
