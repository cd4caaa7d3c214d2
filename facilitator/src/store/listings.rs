//! Catalog listings and their full-text search: SQLite FTS5 (BM25) or a
//! weighted PostgreSQL `tsvector` (`ts_rank`); no index of our own.

use serde_json::Value;
use sqlx::Row;

use super::{from_db, parse_json, to_db, Store, StoreError};

/// Whether a listing's last probe matched its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingStatus {
    /// Every endpoint answered as listed.
    Live,
    /// The last probe found an endpoint that did not.
    Stale,
}

impl ListingStatus {
    /// Its name in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Stale => "stale",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "live" => Ok(Self::Live),
            "stale" => Ok(Self::Stale),
            other => Err(StoreError::Corrupt(format!("listing status {other:?}"))),
        }
    }
}

/// A listed service.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingRecord {
    /// Its unique name.
    pub name: String,
    /// The key that published it (its payee).
    pub signer: String,
    /// The signed publication, as received.
    pub publication: Value,
    /// Searchable copies of the manifest's text.
    pub title: String,
    /// The description.
    pub description: String,
    /// The use case, or empty.
    pub use_case: String,
    /// The category.
    pub category: String,
    /// Every endpoint's method, path and description, for search.
    pub endpoints_text: String,
    /// CAIP-2 network.
    pub network: String,
    /// Mint address.
    pub asset: String,
    /// The cheapest paid endpoint's price, raw units.
    pub lowest_price: Option<u64>,
    /// What the last probe of each endpoint showed (a JSON array).
    pub probes: Value,
    /// When the provider signed it.
    pub published_at: i64,
    /// When this catalog listed it.
    pub listed_at: i64,
    /// Health after the last probe.
    pub status: ListingStatus,
    /// Why it is stale.
    pub status_reason: Option<String>,
    /// When it was last probed.
    pub probed_at: i64,
    /// Failed probes in a row.
    pub failures: u64,
}

/// What became of a publication in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingWrite {
    /// Listed (new, or replacing the signer's older publication).
    Listed,
    /// The name belongs to another signer.
    NameTaken {
        /// Who holds it.
        signer: String,
    },
    /// The signer already listed a publication at least as new.
    NotNewer {
        /// When the listed one was signed.
        published_at: i64,
    },
}

/// A search: words, filters and a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingQuery {
    /// Lower-case alphanumeric words; any of them may match.
    pub words: Vec<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this CAIP-2 network.
    pub network: Option<String>,
    /// Only this mint.
    pub asset: Option<String>,
    /// Only services with an endpoint at most this price (or free ones).
    pub max_price: Option<u64>,
    /// Most results.
    pub limit: u32,
    /// Results skipped.
    pub offset: u32,
}

const COLUMNS: &str = "l.name, l.signer, l.publication, l.title, l.description, l.use_case, \
    l.category, l.endpoints_text, l.network, l.asset, l.lowest_price, l.probes, l.published_at, \
    l.listed_at, l.status, l.status_reason, l.probed_at, l.failures";

const FILTERS: &str = "($2 IS NULL OR l.category = $2) AND ($3 IS NULL OR l.network = $3) \
    AND ($4 IS NULL OR l.asset = $4) \
    AND ($5 IS NULL OR l.lowest_price IS NULL OR l.lowest_price <= $5)";

/// Live listings first, then by relevance (BM25: lower is better, so negated;
/// name and title weigh most), then by name.
fn search_sql(store: &Store, has_words: bool) -> String {
    match (store, has_words) {
        (Store::Sqlite(_), true) => format!(
            "SELECT {COLUMNS}, -bm25(listings_fts, 10.0, 8.0, 4.0, 3.0, 2.0, 1.0) AS score \
             FROM listings_fts JOIN listings l ON l.name = listings_fts.name \
             WHERE listings_fts MATCH $1 AND {FILTERS} \
             ORDER BY l.status = 'stale', score DESC, l.name LIMIT $6 OFFSET $7"
        ),
        (Store::Postgres(_), true) => format!(
            "SELECT {COLUMNS}, ts_rank(l.search, to_tsquery('english', $1))::float8 AS score \
             FROM listings l WHERE l.search @@ to_tsquery('english', $1) AND {FILTERS} \
             ORDER BY l.status = 'stale', score DESC, l.name LIMIT $6 OFFSET $7"
        ),
        (_, false) => format!(
            // $1 (no words) is still named: PostgreSQL refuses unused parameters.
            "SELECT {COLUMNS}, CAST(0 AS DOUBLE PRECISION) AS score FROM listings l \
             WHERE ($1 IS NULL OR $1 IS NOT NULL) AND {FILTERS} \
             ORDER BY l.status = 'stale', l.name LIMIT $6 OFFSET $7"
        ),
    }
}

/// The words as each engine's query language: `"a" OR "b"` (FTS5), `a | b` (tsquery).
fn match_expression(store: &Store, words: &[String]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    let quoted: Vec<String> = match store {
        Store::Sqlite(_) => words.iter().map(|word| format!("\"{word}\"")).collect(),
        Store::Postgres(_) => words.to_vec(),
    };
    Some(quoted.join(match store {
        Store::Sqlite(_) => " OR ",
        Store::Postgres(_) => " | ",
    }))
}

macro_rules! listing_from_row {
    ($row:expr) => {{
        let row = $row;
        let lowest: Option<i64> = row.try_get("lowest_price")?;
        ListingRecord {
            name: row.try_get("name")?,
            signer: row.try_get("signer")?,
            publication: parse_json(&row.try_get::<String, _>("publication")?)?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            use_case: row.try_get("use_case")?,
            category: row.try_get("category")?,
            endpoints_text: row.try_get("endpoints_text")?,
            network: row.try_get("network")?,
            asset: row.try_get("asset")?,
            lowest_price: lowest.map(from_db).transpose()?,
            probes: parse_json(&row.try_get::<String, _>("probes")?)?,
            published_at: row.try_get("published_at")?,
            listed_at: row.try_get("listed_at")?,
            status: ListingStatus::parse(&row.try_get::<String, _>("status")?)?,
            status_reason: row.try_get("status_reason")?,
            probed_at: row.try_get("probed_at")?,
            failures: from_db(row.try_get("failures")?)?,
        }
    }};
}

impl Store {
    /// Lists `listing`, unless its name is another signer's or the signer
    /// already listed a publication at least as new (decided by the
    /// database, so concurrent publications cannot both win).
    pub async fn write_listing(&self, listing: &ListingRecord) -> Result<ListingWrite, StoreError> {
        let upsert = "INSERT INTO listings (name, signer, publication, title, description, use_case, \
             category, endpoints_text, network, asset, lowest_price, probes, published_at, \
             listed_at, status, status_reason, probed_at, failures) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (name) DO UPDATE SET publication = excluded.publication, \
             title = excluded.title, description = excluded.description, \
             use_case = excluded.use_case, category = excluded.category, \
             endpoints_text = excluded.endpoints_text, network = excluded.network, \
             asset = excluded.asset, lowest_price = excluded.lowest_price, \
             probes = excluded.probes, published_at = excluded.published_at, \
             listed_at = excluded.listed_at, status = excluded.status, \
             status_reason = excluded.status_reason, probed_at = excluded.probed_at, \
             failures = excluded.failures \
             WHERE listings.signer = excluded.signer AND listings.published_at < excluded.published_at";
        let lowest = listing.lowest_price.map(to_db).transpose()?;
        let failures = to_db(listing.failures)?;
        let written = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let written = sqlx::query(upsert)
                .bind(&listing.name)
                .bind(&listing.signer)
                .bind(listing.publication.to_string())
                .bind(&listing.title)
                .bind(&listing.description)
                .bind(&listing.use_case)
                .bind(&listing.category)
                .bind(&listing.endpoints_text)
                .bind(&listing.network)
                .bind(&listing.asset)
                .bind(lowest)
                .bind(listing.probes.to_string())
                .bind(listing.published_at)
                .bind(listing.listed_at)
                .bind(listing.status.as_str())
                .bind(&listing.status_reason)
                .bind(listing.probed_at)
                .bind(failures)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if written && matches!(self, Store::Sqlite(_)) {
                sqlx::query("DELETE FROM listings_fts WHERE name = $1")
                    .bind(&listing.name)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO listings_fts (name, title, description, use_case, category, \
                     endpoints_text) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&listing.name)
                .bind(&listing.title)
                .bind(&listing.description)
                .bind(&listing.use_case)
                .bind(&listing.category)
                .bind(&listing.endpoints_text)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            written
        });
        if written {
            return Ok(ListingWrite::Listed);
        }
        match self.listing(&listing.name).await? {
            Some(held) if held.signer != listing.signer => Ok(ListingWrite::NameTaken {
                signer: held.signer,
            }),
            Some(held) => Ok(ListingWrite::NotNewer {
                published_at: held.published_at,
            }),
            None => Err(StoreError::Corrupt(
                "a listing neither written nor held".into(),
            )),
        }
    }

    /// The listing named `name`.
    pub async fn listing(&self, name: &str) -> Result<Option<ListingRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM listings l WHERE l.name = $1");
        let row = on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<ListingRecord, StoreError> { Ok(listing_from_row!(row)) })
        });
        row.transpose()
    }

    /// Every listing's name, publication time and publication, to probe again.
    pub async fn listings_to_probe(&self) -> Result<Vec<(String, i64, Value)>, StoreError> {
        let sql = "SELECT name, published_at, publication FROM listings ORDER BY probed_at";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|row| -> Result<(String, i64, Value), StoreError> {
                    Ok((
                        row.try_get("name")?,
                        row.try_get("published_at")?,
                        parse_json(&row.try_get::<String, _>("publication")?)?,
                    ))
                })
                .collect()
        })
    }

    /// Records a probe of the publication signed at `published_at` (a newer
    /// publication listed meanwhile keeps its own probe).
    pub async fn record_probe(
        &self,
        name: &str,
        published_at: i64,
        status: ListingStatus,
        reason: Option<&str>,
        probes: &Value,
        probed_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE listings SET status = $1, status_reason = $2, probes = $3, \
                   probed_at = $4, failures = CASE WHEN $1 = 'live' THEN 0 ELSE failures + 1 END \
                   WHERE name = $5 AND published_at = $6";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(status.as_str())
                .bind(reason)
                .bind(probes.to_string())
                .bind(probed_at)
                .bind(name)
                .bind(published_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Listings matching `query`, best first, each with its relevance score.
    pub async fn search_listings(
        &self,
        query: &ListingQuery,
    ) -> Result<Vec<(ListingRecord, f64)>, StoreError> {
        let sql = search_sql(self, !query.words.is_empty());
        let expression = match_expression(self, &query.words);
        let max_price = query.max_price.map(to_db).transpose()?;
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(expression.as_deref())
                .bind(query.category.as_deref())
                .bind(query.network.as_deref())
                .bind(query.asset.as_deref())
                .bind(max_price)
                .bind(i64::from(query.limit))
                .bind(i64::from(query.offset))
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|row| -> Result<(ListingRecord, f64), StoreError> {
                    let score: f64 = row.try_get("score")?;
                    Ok((listing_from_row!(row), score))
                })
                .collect()
        })
    }
}
