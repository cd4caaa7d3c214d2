//! The schema, as numbered migrations applied once each, in order, inside a
//! transaction. The DDL is written in the subset SQLite and PostgreSQL share.

use sqlx::Row;

use super::{Store, StoreError};

/// Every migration, oldest first. Never edit one that has shipped; add another.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "receipts, claims, transfers, resources", V1),
    (2, "heartbeat", V2),
];

const V1: &str = "
CREATE TABLE watermarks (
    allowance TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    claimed BIGINT NOT NULL,
    escrow TEXT NOT NULL,
    provider TEXT NOT NULL,
    mint TEXT NOT NULL,
    vault TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX watermarks_unclaimed ON watermarks (updated_at) WHERE accepted > claimed;
CREATE TABLE receipts (
    allowance TEXT NOT NULL,
    generation BIGINT NOT NULL,
    cumulative BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    payer TEXT NOT NULL,
    signer TEXT NOT NULL,
    signature TEXT NOT NULL,
    proof TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (allowance, generation, cumulative)
);
CREATE TABLE claims (
    signature TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    mint TEXT NOT NULL,
    status TEXT NOT NULL,
    last_valid_block_height BIGINT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX claims_by_status ON claims (status);
CREATE TABLE claim_entries (
    signature TEXT NOT NULL REFERENCES claims (signature),
    allowance TEXT NOT NULL,
    generation BIGINT NOT NULL,
    cumulative BIGINT NOT NULL,
    paid BIGINT,
    PRIMARY KEY (signature, allowance)
);
CREATE TABLE transfers (
    signature TEXT PRIMARY KEY,
    payer TEXT NOT NULL,
    pay_to TEXT NOT NULL,
    mint TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    proof TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE resources (
    resource TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    x402_version BIGINT NOT NULL,
    accepts TEXT NOT NULL,
    metadata TEXT NOT NULL,
    last_updated BIGINT NOT NULL
);
";

const V2: &str = "
CREATE TABLE heartbeat (
    id BIGINT PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
";

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS paytab_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL
)";

/// Applies every migration the database has not seen.
pub(super) async fn apply(store: &Store) -> Result<(), StoreError> {
    on_pool!(store, pool => {
        sqlx::raw_sql(LEDGER).execute(pool).await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM paytab_migrations")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| row.try_get("version"))
            .collect::<Result<_, _>>()?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            let mut tx = pool.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO paytab_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, name, "applied migration");
        }
    });
    Ok(())
}
