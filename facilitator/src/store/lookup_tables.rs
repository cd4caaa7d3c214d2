//! The claimer's address lookup tables: which exist (or may), whose they are,
//! where each stands in its life, and when it last served a claim.

use solana_pubkey::Pubkey;
use sqlx::Row;

use super::{parse_key, Store, StoreError};

/// Where a lookup table stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    /// Created (or being created) and in use.
    Active,
    /// Deactivated: closable once its deactivation slot is no longer recent.
    Deactivated,
    /// Closed, its rent returned (or never created).
    Closed,
}

impl TableStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
            Self::Closed => "closed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(Self::Active),
            "deactivated" => Ok(Self::Deactivated),
            "closed" => Ok(Self::Closed),
            other => Err(StoreError::Corrupt(format!(
                "lookup table status {other:?}"
            ))),
        }
    }
}

/// A lookup table the claimer created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRecord {
    /// The table's address.
    pub address: Pubkey,
    /// Where it stands.
    pub status: TableStatus,
    /// Unix time its creation was recorded.
    pub created_at: i64,
    /// Unix time a claim last used it.
    pub last_used_at: i64,
}

impl Store {
    /// Records a table of `authority` about to be created.
    pub async fn record_lookup_table(
        &self,
        address: &Pubkey,
        authority: &Pubkey,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql =
            "INSERT INTO lookup_tables (address, authority, status, created_at, last_used_at) \
                   VALUES ($1, $2, 'active', $3, $3) ON CONFLICT (address) DO NOTHING";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(address.to_string())
                .bind(authority.to_string())
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// `authority`'s tables not yet closed, oldest first.
    pub async fn lookup_tables(&self, authority: &Pubkey) -> Result<Vec<TableRecord>, StoreError> {
        let sql = "SELECT address, status, created_at, last_used_at FROM lookup_tables \
                   WHERE authority = $1 AND status <> 'closed' ORDER BY created_at, address";
        let rows = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(authority.to_string())
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|row| -> Result<TableRecord, StoreError> {
                    Ok(TableRecord {
                        address: parse_key(&row.try_get::<String, _>("address")?)?,
                        status: TableStatus::parse(&row.try_get::<String, _>("status")?)?,
                        created_at: row.try_get("created_at")?,
                        last_used_at: row.try_get("last_used_at")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Records that a claim used `address` at `now`.
    pub async fn touch_lookup_table(&self, address: &Pubkey, now: i64) -> Result<(), StoreError> {
        let sql =
            "UPDATE lookup_tables SET last_used_at = $2 WHERE address = $1 AND last_used_at < $2";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(address.to_string())
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Moves `address` to `status`.
    pub async fn set_lookup_table_status(
        &self,
        address: &Pubkey,
        status: TableStatus,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE lookup_tables SET status = $2 WHERE address = $1";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(address.to_string())
                .bind(status.as_str())
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
