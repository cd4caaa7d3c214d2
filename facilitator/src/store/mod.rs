//! Durable storage: SQLite by default, PostgreSQL when a `postgres://` URL is
//! configured. One schema ([`migrations`]), one set of SQL statements written
//! with `$n` placeholders, which both databases accept.

#[macro_use]
mod macros {
    /// Runs the same statement against whichever pool the store holds.
    macro_rules! on_pool {
        ($store:expr, $pool:ident => $body:expr) => {
            match $store {
                $crate::store::Store::Sqlite($pool) => $body,
                $crate::store::Store::Postgres($pool) => $body,
            }
        };
    }
}
mod leadership;
mod listings;
mod lookup_tables;
mod migrations;
mod records;
mod resources;
mod transfers;

use std::str::FromStr;
use std::time::Duration;

use paytab_protocol::private_file;
use solana_pubkey::Pubkey;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Database, QueryBuilder, Row};

pub use leadership::{ClaimLead, CLAIMS_LOCK};
pub use listings::{ListingQuery, ListingRecord, ListingStatus, ListingWrite};
pub use lookup_tables::{TableRecord, TableStatus};
pub use records::{
    AcceptedReceipt, ClaimEntry, ClaimRecord, ClaimStatus, ResourceRecord, StoredReceipt,
    TransferRecord, TransferStatus, Unclaimed, Watermark,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value is not what the schema promises.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A value does not fit the schema (amounts above `i64::MAX`).
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// The database file could not be created.
    #[error("database file: {0}")]
    File(#[from] std::io::Error),
}

/// A connection goes back to the pool only outside any transaction. A
/// transaction whose COMMIT failed (a full disk: SQLite rolls it back itself,
/// so the driver's own ROLLBACK fails too) would otherwise stay open on that
/// connection, and every later "commit" on it would only release a savepoint:
/// answered, never durable. Such a connection is closed instead.
async fn returnable<DB: Database>(connection: &mut DB::Connection) -> Result<bool, sqlx::Error> {
    // The ping is queued behind any rollback the dropped transaction sent.
    connection.ping().await?;
    Ok(!connection.is_in_transaction())
}

/// The facilitator's database.
#[derive(Debug, Clone)]
pub enum Store {
    /// An embedded SQLite file (WAL, fsync on every commit).
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

impl Store {
    /// Opens `url` (`sqlite://path`, a bare file path, or `postgres://…`) and
    /// brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .after_release(|connection, _| Box::pin(returnable::<sqlx::Postgres>(connection)))
                .connect(url)
                .await?;
            Self::Postgres(pool)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            // Receipts and proofs: readable by the facilitator's user only.
            if !path.starts_with(':') && !path.contains("mode=memory") {
                private_file::create(std::path::Path::new(path.split('?').next().unwrap_or(path)))?;
            }
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .after_release(|connection, _| Box::pin(returnable::<sqlx::Sqlite>(connection)))
                .connect_with(options)
                .await?;
            Self::Sqlite(pool)
        };
        migrations::apply(&store).await?;
        Ok(store)
    }

    /// Whether a failed commit certainly stored nothing: always for SQLite
    /// (embedded: a COMMIT either happened or not), and for PostgreSQL when
    /// the server refused it; a connection lost during COMMIT leaves it unknown.
    pub fn commit_outcome_known(&self, error: &StoreError) -> bool {
        match (self, error) {
            (Self::Sqlite(_), _) => true,
            (Self::Postgres(_), StoreError::Database(sqlx::Error::Database(_))) => true,
            (Self::Postgres(_), StoreError::Database(_)) => false,
            (Self::Postgres(_), _) => true,
        }
    }

    /// Writes one row: fails when the database cannot be written (a full
    /// disk, a read-only file, a lost server).
    pub async fn probe_write(&self, now: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO heartbeat (id, checked_at) VALUES (1, $1) \
                   ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";
        on_pool!(self, pool => {
            sqlx::query(sql).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// Which database this is, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    /// The accepted and claimed watermarks of `allowance`, if any receipt was accepted.
    pub async fn watermark(&self, allowance: &Pubkey) -> Result<Option<Watermark>, StoreError> {
        let sql = "SELECT generation, accepted, claimed FROM watermarks WHERE allowance = $1";
        let row = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(allowance.to_string())
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<Watermark, StoreError> {
                    Ok(Watermark {
                        generation: from_db(row.try_get("generation")?)?,
                        accepted: from_db(row.try_get("accepted")?)?,
                        claimed: from_db(row.try_get("claimed")?)?,
                    })
                })
        });
        row.transpose()
    }

    /// The receipt accepted for (`allowance`, `generation`, `cumulative`), if any.
    pub async fn receipt(
        &self,
        allowance: &Pubkey,
        generation: u64,
        cumulative: u64,
    ) -> Result<Option<StoredReceipt>, StoreError> {
        let sql = "SELECT amount, payer, signature, proof FROM receipts \
                   WHERE allowance = $1 AND generation = $2 AND cumulative = $3";
        let row = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(allowance.to_string())
                .bind(to_db(generation)?)
                .bind(to_db(cumulative)?)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<StoredReceipt, StoreError> {
                    Ok(StoredReceipt {
                        amount: from_db(row.try_get("amount")?)?,
                        payer: parse_key(&row.try_get::<String, _>("payer")?)?,
                        signature: row.try_get("signature")?,
                        proof: row.try_get("proof")?,
                    })
                })
        });
        row.transpose()
    }

    /// Commits accepted receipts and their new watermarks in one transaction
    /// (one fsync for the batch). Each receipt is stored only if its
    /// allowance's watermark is still the one it was checked against
    /// ([`AcceptedReceipt::prior`], of its generation; or any older
    /// generation when `prior` is 0): a conditional write, so facilitators
    /// sharing one database accept each step of a watermark once. Returns,
    /// for each receipt in order, whether it was stored; when this returns
    /// `Ok`, every stored one is durable.
    pub async fn commit_receipts(
        &self,
        receipts: &[AcceptedReceipt],
    ) -> Result<Vec<bool>, StoreError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let rows = receipts
            .iter()
            .map(records::ReceiptRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Rows are written in allowance order, so that batches from several
        // instances lock watermark rows in the same order (no deadlocks);
        // a second receipt for one allowance in a batch is not stored.
        let candidates = records::first_per_allowance(&rows);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut upsert = QueryBuilder::new(
                "INSERT INTO watermarks (allowance, generation, accepted, previous_accepted, \
                 claimed, escrow, provider, mint, vault, updated_at) ",
            );
            upsert.push_values(&candidates, |mut values, &index| {
                let row = &rows[index];
                values
                    .push_bind(&row.allowance)
                    .push_bind(row.generation)
                    .push_bind(row.cumulative)
                    .push_bind(row.prior)
                    .push_bind(row.claimed)
                    .push_bind(&row.escrow)
                    .push_bind(&row.provider)
                    .push_bind(&row.mint)
                    .push_bind(&row.vault)
                    .push_bind(row.accepted_at);
            });
            upsert.push(
                " ON CONFLICT (allowance) DO UPDATE SET \
                 claimed = CASE WHEN watermarks.generation = excluded.generation \
                   THEN watermarks.claimed ELSE excluded.claimed END, \
                 generation = excluded.generation, accepted = excluded.accepted, \
                 previous_accepted = excluded.previous_accepted, \
                 updated_at = excluded.updated_at \
                 WHERE (watermarks.generation = excluded.generation \
                        AND watermarks.accepted = excluded.previous_accepted) \
                    OR (watermarks.generation < excluded.generation \
                        AND excluded.previous_accepted = 0) \
                 RETURNING allowance",
            );
            let moved: std::collections::HashSet<String> = upsert
                .build()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|row| row.try_get::<String, _>("allowance"))
                .collect::<Result<_, _>>()?;
            let stored: Vec<usize> = candidates
                .into_iter()
                .filter(|&index| moved.contains(&rows[index].allowance))
                .collect();
            if !stored.is_empty() {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO receipts (allowance, generation, cumulative, amount, payer, \
                     signer, signature, proof, accepted_at) ",
                );
                insert.push_values(&stored, |mut values, &index| {
                    let row = &rows[index];
                    values
                        .push_bind(&row.allowance)
                        .push_bind(row.generation)
                        .push_bind(row.cumulative)
                        .push_bind(row.amount)
                        .push_bind(&row.payer)
                        .push_bind(&row.signer)
                        .push_bind(&row.signature)
                        .push_bind(&row.proof)
                        .push_bind(row.accepted_at);
                });
                insert.push(" ON CONFLICT (allowance, generation, cumulative) DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            let mut outcome = vec![false; rows.len()];
            for index in stored {
                outcome[index] = true;
            }
            Ok(outcome)
        })
    }

    /// Allowances with accepted receipts not yet claimed on chain, oldest update first.
    pub async fn unclaimed(&self, limit: u32) -> Result<Vec<Unclaimed>, StoreError> {
        let sql = "SELECT allowance, generation, accepted, claimed, escrow, provider, mint, vault \
                   FROM watermarks WHERE accepted > claimed ORDER BY updated_at, allowance LIMIT $1";
        let rows = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|row| -> Result<Unclaimed, StoreError> {
                    Ok(Unclaimed {
                        allowance: parse_key(&row.try_get::<String, _>("allowance")?)?,
                        generation: from_db(row.try_get("generation")?)?,
                        accepted: from_db(row.try_get("accepted")?)?,
                        claimed: from_db(row.try_get("claimed")?)?,
                        escrow: parse_key(&row.try_get::<String, _>("escrow")?)?,
                        provider: parse_key(&row.try_get::<String, _>("provider")?)?,
                        mint: parse_key(&row.try_get::<String, _>("mint")?)?,
                        vault: parse_key(&row.try_get::<String, _>("vault")?)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Records that `allowance` (of `generation`) is claimed on chain up to `claimed`.
    /// Never moves the claimed watermark backwards.
    pub async fn set_claimed(
        &self,
        allowance: &Pubkey,
        generation: u64,
        claimed: u64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE watermarks SET claimed = $3 \
                   WHERE allowance = $1 AND generation = $2 AND claimed < $3";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(allowance.to_string())
                .bind(to_db(generation)?)
                .bind(to_db(claimed)?)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a claim transaction before it is sent, so that after a crash its
    /// outcome is looked up before anything is resent.
    pub async fn record_claim(&self, claim: &ClaimRecord) -> Result<(), StoreError> {
        let claim_sql = "INSERT INTO claims (signature, provider, mint, status, \
                         last_valid_block_height, error, created_at) \
                         VALUES ($1, $2, $3, $4, $5, NULL, $6)";
        let entry_sql = "INSERT INTO claim_entries (signature, allowance, generation, cumulative, \
             claimed_before, paid) VALUES ($1, $2, $3, $4, $5, NULL)";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(claim_sql)
                .bind(&claim.signature)
                .bind(claim.provider.to_string())
                .bind(claim.mint.to_string())
                .bind(claim.status.as_str())
                .bind(to_db(claim.last_valid_block_height)?)
                .bind(claim.created_at)
                .execute(&mut *tx)
                .await?;
            for entry in &claim.entries {
                sqlx::query(entry_sql)
                    .bind(&claim.signature)
                    .bind(entry.allowance.to_string())
                    .bind(to_db(entry.generation)?)
                    .bind(to_db(entry.cumulative)?)
                    .bind(to_db(entry.claimed_before)?)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims in `status`, with their entries.
    pub async fn claims_with_status(
        &self,
        status: ClaimStatus,
    ) -> Result<Vec<ClaimRecord>, StoreError> {
        let claim_sql =
            "SELECT signature, provider, mint, status, last_valid_block_height, created_at \
                         FROM claims WHERE status = $1 ORDER BY created_at, signature";
        let entry_sql =
            "SELECT allowance, generation, cumulative, claimed_before, paid FROM claim_entries \
                         WHERE signature = $1 ORDER BY allowance";
        let mut claims = Vec::new();
        on_pool!(self, pool => {
            let rows = sqlx::query(claim_sql).bind(status.as_str()).fetch_all(pool).await?;
            for row in rows {
                let signature: String = row.try_get("signature")?;
                let entries = sqlx::query(entry_sql)
                    .bind(&signature)
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .map(|entry| -> Result<ClaimEntry, StoreError> {
                        Ok(ClaimEntry {
                            allowance: parse_key(&entry.try_get::<String, _>("allowance")?)?,
                            generation: from_db(entry.try_get("generation")?)?,
                            cumulative: from_db(entry.try_get("cumulative")?)?,
                            claimed_before: from_db(entry.try_get("claimed_before")?)?,
                            paid: entry
                                .try_get::<Option<i64>, _>("paid")?
                                .map(from_db)
                                .transpose()?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                claims.push(ClaimRecord {
                    signature,
                    provider: parse_key(&row.try_get::<String, _>("provider")?)?,
                    mint: parse_key(&row.try_get::<String, _>("mint")?)?,
                    status: ClaimStatus::parse(&row.try_get::<String, _>("status")?)?,
                    last_valid_block_height: from_db(row.try_get("last_valid_block_height")?)?,
                    created_at: row.try_get("created_at")?,
                    entries,
                });
            }
        });
        Ok(claims)
    }

    /// Ends a claim: its status, the error if it failed, and what each entry paid.
    pub async fn finish_claim(
        &self,
        signature: &str,
        status: ClaimStatus,
        error: Option<&str>,
        paid: &[(Pubkey, u64)],
    ) -> Result<(), StoreError> {
        let claim_sql = "UPDATE claims SET status = $2, error = $3 WHERE signature = $1";
        let entry_sql =
            "UPDATE claim_entries SET paid = $3 WHERE signature = $1 AND allowance = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(claim_sql)
                .bind(signature)
                .bind(status.as_str())
                .bind(error)
                .execute(&mut *tx)
                .await?;
            for (allowance, amount) in paid {
                sqlx::query(entry_sql)
                    .bind(signature)
                    .bind(allowance.to_string())
                    .bind(to_db(*amount)?)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Total paid to `provider` by confirmed claims.
    pub async fn paid_to(&self, provider: &Pubkey) -> Result<u64, StoreError> {
        let sql = "SELECT e.paid AS paid FROM claim_entries e JOIN claims c ON c.signature = e.signature \
                   WHERE c.provider = $1 AND c.status = 'confirmed' AND e.paid IS NOT NULL";
        let total = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(provider.to_string())
                .fetch_all(pool)
                .await?
                .into_iter()
                .try_fold(0u64, |total, row| -> Result<u64, StoreError> {
                    let paid = from_db(row.try_get("paid")?)?;
                    total.checked_add(paid).ok_or(StoreError::OutOfRange("paid total"))
                })?
        });
        Ok(total)
    }
}

/// A `u64` as the schema's `BIGINT`.
pub(crate) fn to_db(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange("amount above i64::MAX"))
}

/// A `BIGINT` back as `u64`.
pub(crate) fn from_db(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative amount {value}")))
}

fn parse_key(text: &str) -> Result<Pubkey, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("address {text:?}")))
}

fn parse_json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt("JSON column".into()))
}
