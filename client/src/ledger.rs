//! The local ledger: every payment made (amount, payee, proof, settlement
//! reference) and the receipt counters of escrow allowances, in SQLite (WAL,
//! `synchronous = NORMAL`) so they survive restarts and concurrent invocations
//! (each change is one transaction; counters are taken with `BEGIN IMMEDIATE`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use solana_pubkey::Pubkey;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    scheme TEXT NOT NULL,
    network TEXT NOT NULL,
    asset TEXT NOT NULL,
    pay_to TEXT NOT NULL,
    amount INTEGER NOT NULL,
    decimals INTEGER NOT NULL,
    reference TEXT NOT NULL,
    proof TEXT
);
CREATE INDEX IF NOT EXISTS payments_by_host ON payments (host, at);
CREATE TABLE IF NOT EXISTS receipt_counters (
    allowance TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    cumulative INTEGER NOT NULL
);
";

/// A receipt counter: (generation, cumulative) of one allowance.
const SELECT_COUNTER: &str =
    "SELECT generation, cumulative FROM receipt_counters WHERE allowance = ?";
/// Sets a receipt counter, creating it if needed.
const SET_COUNTER: &str = "INSERT INTO receipt_counters (allowance, generation, cumulative) \
     VALUES (?, ?, ?) ON CONFLICT (allowance) DO UPDATE SET \
     generation = excluded.generation, cumulative = excluded.cumulative";

/// Why the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be opened or written.
    #[error("ledger {path}: {source}")]
    Database {
        /// The file.
        path: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A stored value is out of range.
    #[error("ledger holds an out-of-range value in {0}")]
    Corrupt(&'static str),
}

/// One payment, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    /// Unix seconds.
    pub at: i64,
    /// HTTP method.
    pub method: String,
    /// The URL paid for.
    pub url: String,
    /// Its host.
    pub host: String,
    /// `escrow`, `exact` or `mpp`.
    pub scheme: String,
    /// CAIP-2 network (or the MPP network name).
    pub network: String,
    /// The mint.
    pub asset: String,
    /// The payee.
    pub pay_to: String,
    /// Raw units.
    pub amount: u64,
    /// The token's decimals.
    pub decimals: u8,
    /// The transaction signature, or `allowance:cumulative` for a receipt.
    pub reference: String,
    /// The facilitator's proof, if the response carried one.
    pub proof: Option<String>,
}

/// The ledger database.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
    path: String,
}

impl Ledger {
    /// Opens (creating) the ledger at `path`.
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        let display = path.display().to_string();
        let database = |source| LedgerError::Database {
            path: display.clone(),
            source,
        };
        // Payments, proofs and receipt counts: the owner's only.
        paytab_protocol::private_file::create(path)
            .map_err(|error| database(sqlx::Error::Io(error)))?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(database)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Survives any process crash; an OS crash may lose the last
            // commits, which costs at most a resync of a receipt count.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(database)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(database)?;
        Ok(Self {
            pool,
            path: display,
        })
    }

    fn error(&self, source: sqlx::Error) -> LedgerError {
        LedgerError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Takes the next receipt count of `allowance`: the last one signed plus
    /// `price` (from zero when the generation changed). Atomic across processes.
    pub async fn next_receipt(
        &self,
        allowance: &Pubkey,
        generation: u64,
        price: u64,
    ) -> Result<u64, LedgerError> {
        let mut transaction = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.error(e))?;
        let row = sqlx::query(SELECT_COUNTER)
            .bind(allowance.to_string())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(|e| self.error(e))?;
        let last = match row {
            Some(row) if row.get::<i64, _>(0) == to_i64(generation) => {
                u64::try_from(row.get::<i64, _>(1))
                    .map_err(|_| LedgerError::Corrupt("receipt_counters"))?
            }
            _ => 0,
        };
        let next = last.saturating_add(price);
        sqlx::query(SET_COUNTER)
            .bind(allowance.to_string())
            .bind(to_i64(generation))
            .bind(to_i64(next))
            .execute(&mut *transaction)
            .await
            .map_err(|e| self.error(e))?;
        transaction.commit().await.map_err(|e| self.error(e))?;
        Ok(next)
    }

    /// Gives back a count that was refused, if nothing was taken after it.
    pub async fn give_back_receipt(
        &self,
        allowance: &Pubkey,
        cumulative: u64,
        price: u64,
    ) -> Result<(), LedgerError> {
        sqlx::query(
            "UPDATE receipt_counters SET cumulative = ? WHERE allowance = ? AND cumulative = ?",
        )
        .bind(to_i64(cumulative.saturating_sub(price)))
        .bind(allowance.to_string())
        .bind(to_i64(cumulative))
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Sets `allowance`'s counter to what the facilitator last accepted.
    pub async fn resync_receipts(
        &self,
        allowance: &Pubkey,
        generation: u64,
        accepted: u64,
    ) -> Result<(), LedgerError> {
        sqlx::query(SET_COUNTER)
            .bind(allowance.to_string())
            .bind(to_i64(generation))
            .bind(to_i64(accepted))
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The last receipt count signed for `allowance` (generation, cumulative).
    pub async fn receipt_counter(
        &self,
        allowance: &Pubkey,
    ) -> Result<Option<(u64, u64)>, LedgerError> {
        let row = sqlx::query(SELECT_COUNTER)
            .bind(allowance.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.map(|row| {
            let generation = u64::try_from(row.get::<i64, _>(0))
                .map_err(|_| LedgerError::Corrupt("receipt_counters"))?;
            let cumulative = u64::try_from(row.get::<i64, _>(1))
                .map_err(|_| LedgerError::Corrupt("receipt_counters"))?;
            Ok((generation, cumulative))
        })
        .transpose()
    }

    /// Records a payment.
    pub async fn record(&self, payment: &PaymentRecord) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO payments (at, method, url, host, scheme, network, asset, pay_to, amount, decimals, reference, proof) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(payment.at)
        .bind(&payment.method)
        .bind(&payment.url)
        .bind(&payment.host)
        .bind(&payment.scheme)
        .bind(&payment.network)
        .bind(&payment.asset)
        .bind(&payment.pay_to)
        .bind(to_i64(payment.amount))
        .bind(i64::from(payment.decimals))
        .bind(&payment.reference)
        .bind(&payment.proof)
        .execute(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Raw units paid to each host since `since` (unix seconds), by host.
    pub async fn spent_by_host_since(&self, since: i64) -> Result<Vec<(String, u64)>, LedgerError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT host, COALESCE(SUM(amount), 0) FROM payments WHERE at >= ? GROUP BY host ORDER BY host",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.into_iter()
            .map(|(host, total)| {
                u64::try_from(total)
                    .map(|total| (host, total))
                    .map_err(|_| LedgerError::Corrupt("payments"))
            })
            .collect()
    }

    /// Raw units paid to `host` since `since` (unix seconds).
    pub async fn spent_since(&self, host: &str, since: i64) -> Result<u64, LedgerError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(amount), 0) FROM payments WHERE host = ? AND at >= ?",
        )
        .bind(host)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        u64::try_from(total).map_err(|_| LedgerError::Corrupt("payments"))
    }

    /// The newest `limit` payments, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<PaymentRecord>, LedgerError> {
        let rows = sqlx::query(
            "SELECT at, method, url, host, scheme, network, asset, pay_to, amount, decimals, reference, proof \
             FROM payments ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.into_iter()
            .map(|row| {
                Ok(PaymentRecord {
                    at: row.get(0),
                    method: row.get(1),
                    url: row.get(2),
                    host: row.get(3),
                    scheme: row.get(4),
                    network: row.get(5),
                    asset: row.get(6),
                    pay_to: row.get(7),
                    amount: u64::try_from(row.get::<i64, _>(8))
                        .map_err(|_| LedgerError::Corrupt("payments"))?,
                    decimals: u8::try_from(row.get::<i64, _>(9))
                        .map_err(|_| LedgerError::Corrupt("payments"))?,
                    reference: row.get(10),
                    proof: row.get(11),
                })
            })
            .collect()
    }

    /// Closes the database.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Stored amounts are SQLite integers; values past `i64::MAX` saturate
/// (no token supply comes near).
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payment(host: &str, at: i64, amount: u64) -> PaymentRecord {
        PaymentRecord {
            at,
            method: "GET".into(),
            url: format!("https://{host}/v1/quote"),
            host: host.into(),
            scheme: "escrow".into(),
            network: "solana:devnet".into(),
            asset: Pubkey::new_unique().to_string(),
            pay_to: Pubkey::new_unique().to_string(),
            amount,
            decimals: 6,
            reference: "allowance:10000".into(),
            proof: Some("proof".into()),
        }
    }

    #[tokio::test]
    async fn payments_survive_reopening_and_sum_per_host_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let ledger = Ledger::open(&path).await.unwrap();
        ledger.record(&payment("a.example", 100, 10)).await.unwrap();
        ledger.record(&payment("a.example", 200, 20)).await.unwrap();
        ledger.record(&payment("b.example", 200, 40)).await.unwrap();
        ledger.close().await;
        let ledger = Ledger::open(&path).await.unwrap();
        assert_eq!(ledger.spent_since("a.example", 150).await.unwrap(), 20);
        assert_eq!(ledger.spent_since("a.example", 0).await.unwrap(), 30);
        let history = ledger.history(10).await.unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(
            history[0],
            payment("b.example", 200, 40).clone_with(&history[0])
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_ledger_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home").join("ledger.db");
        let ledger = Ledger::open(&path).await.unwrap();
        ledger.record(&payment("a.example", 100, 10)).await.unwrap();
        for file in ["ledger.db", "ledger.db-wal"] {
            let mode = std::fs::metadata(dir.path().join("home").join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    impl PaymentRecord {
        /// `self` with `other`'s random keys, for comparison.
        fn clone_with(mut self, other: &PaymentRecord) -> Self {
            self.asset = other.asset.clone();
            self.pay_to = other.pay_to.clone();
            self
        }
    }

    #[tokio::test]
    async fn receipt_counts_advance_restart_per_generation_and_resync() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).await.unwrap();
        let allowance = Pubkey::new_unique();
        assert_eq!(ledger.next_receipt(&allowance, 1, 10).await.unwrap(), 10);
        assert_eq!(ledger.next_receipt(&allowance, 1, 10).await.unwrap(), 20);
        ledger.give_back_receipt(&allowance, 20, 10).await.unwrap();
        assert_eq!(
            ledger.receipt_counter(&allowance).await.unwrap(),
            Some((1, 10))
        );
        assert_eq!(
            ledger.next_receipt(&allowance, 2, 10).await.unwrap(),
            10,
            "new generation"
        );
        ledger.resync_receipts(&allowance, 2, 70).await.unwrap();
        assert_eq!(ledger.next_receipt(&allowance, 2, 10).await.unwrap(), 80);
    }

    #[tokio::test]
    async fn two_ledgers_on_one_file_never_hand_out_the_same_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let (first, second) = (
            Ledger::open(&path).await.unwrap(),
            Ledger::open(&path).await.unwrap(),
        );
        let allowance = Pubkey::new_unique();
        let mut tasks = Vec::new();
        for ledger in [first, second] {
            tasks.push(tokio::spawn(async move {
                let mut counts = Vec::new();
                for _ in 0..20 {
                    counts.push(ledger.next_receipt(&allowance, 1, 5).await.unwrap());
                }
                counts
            }));
        }
        let mut counts = Vec::new();
        for task in tasks {
            counts.extend(task.await.unwrap());
        }
        counts.sort_unstable();
        let expected: Vec<u64> = (1..=40).map(|n| n * 5).collect();
        assert_eq!(counts, expected);
    }
}
