//! The schema, as numbered migrations applied once each, in order, inside a
//! transaction. The DDL is written in the subset SQLite and PostgreSQL share,
//! except full-text search, which each engine does its own way (FTS5; a
//! weighted `tsvector` with a GIN index).

use sqlx::Row;

use super::{Store, StoreError};

/// A migration's DDL: statements both engines run, then each engine's own.
struct Ddl {
    shared: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

impl Ddl {
    const fn shared(sql: &'static str) -> Self {
        Self {
            shared: sql,
            sqlite: "",
            postgres: "",
        }
    }
}

/// Every migration, oldest first. Never edit one that has shipped; add another.
const MIGRATIONS: &[(i64, &str, Ddl)] = &[
    (1, "receipts, claims, transfers, resources", Ddl::shared(V1)),
    (2, "heartbeat", Ddl::shared(V2)),
    (
        3,
        "catalog listings",
        Ddl {
            shared: V3_LISTINGS,
            sqlite: V3_SQLITE,
            postgres: V3_POSTGRES,
        },
    ),
    (
        4,
        "watermark steps, claimed before each claim",
        Ddl::shared(V4),
    ),
    (5, "address lookup tables", Ddl::shared(V5)),
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

/// Catalog listings; the columns search reads are copied out of the publication.
const V3_LISTINGS: &str = "
CREATE TABLE listings (
    name TEXT PRIMARY KEY,
    signer TEXT NOT NULL,
    publication TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    use_case TEXT NOT NULL,
    category TEXT NOT NULL,
    endpoints_text TEXT NOT NULL,
    network TEXT NOT NULL,
    asset TEXT NOT NULL,
    lowest_price BIGINT,
    probes TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    listed_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    probed_at BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
CREATE INDEX listings_by_category ON listings (category);
";

const V3_SQLITE: &str = "
CREATE VIRTUAL TABLE listings_fts USING fts5(
    name, title, description, use_case, category, endpoints_text,
    tokenize = 'porter unicode61'
);
";

const V3_POSTGRES: &str = "
ALTER TABLE listings ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', name || ' ' || title), 'A')
    || setweight(to_tsvector('english', description), 'B')
    || setweight(to_tsvector('english', use_case || ' ' || category), 'C')
    || setweight(to_tsvector('english', endpoints_text), 'D')
) STORED;
CREATE INDEX listings_search ON listings USING GIN (search);
";

/// The accepted watermark each watermark row replaced: the conditional write
/// that accepts a receipt compares it with the watermark the receipt was
/// checked against (see `Store::commit_receipts`).
///
/// And what each claim entry's allowance had claimed on chain when the claim
/// was signed: a confirmed claim paid `cumulative - claimed_before`, however
/// often its outcome is recorded (a leader that died recording it).
const V4: &str = "
ALTER TABLE watermarks ADD COLUMN previous_accepted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE claim_entries ADD COLUMN claimed_before BIGINT NOT NULL DEFAULT 0;
";

/// The claimer's address lookup tables: recorded before the transaction that
/// creates one is sent, so none is forgotten with its rent.
const V5: &str = "
CREATE TABLE lookup_tables (
    address TEXT PRIMARY KEY,
    authority TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
";

/// Held while migrating, so instances starting together on one PostgreSQL
/// apply each migration once (SQLite has one instance).
const MIGRATIONS_LOCK: i64 = 0x7061_7974_6162_6d67;

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS paytab_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL
)";

/// Applies every migration the database has not seen.
pub(super) async fn apply(store: &Store) -> Result<(), StoreError> {
    let postgres = matches!(store, Store::Postgres(_));
    on_pool!(store, pool => {
        let mut connection = pool.acquire().await?;
        if postgres {
            // Released with the session if this process dies mid-way.
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATIONS_LOCK)
                .execute(&mut *connection)
                .await?;
        }
        let applied: Result<(), StoreError> = async {
            sqlx::raw_sql(LEDGER).execute(&mut *connection).await?;
            let applied: Vec<i64> = sqlx::query("SELECT version FROM paytab_migrations")
                .fetch_all(&mut *connection)
                .await?
                .into_iter()
                .map(|row| row.try_get("version"))
                .collect::<Result<_, _>>()?;
            for (version, name, ddl) in MIGRATIONS {
                if applied.contains(version) {
                    continue;
                }
                let own = if postgres { ddl.postgres } else { ddl.sqlite };
                let mut tx = sqlx::Connection::begin(&mut *connection).await?;
                sqlx::raw_sql(ddl.shared).execute(&mut *tx).await?;
                if !own.is_empty() {
                    sqlx::raw_sql(own).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO paytab_migrations (version, name) VALUES ($1, $2)")
                    .bind(version)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version, name, "applied migration");
            }
            Ok(())
        }
        .await;
        if postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATIONS_LOCK)
                .execute(&mut *connection)
                .await?;
        }
        applied?;
    });
    Ok(())
}
