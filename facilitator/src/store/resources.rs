//! Paid resources registered for discovery.

use sqlx::Row;

use super::{from_db, parse_json, ResourceRecord, Store, StoreError};

impl Store {
    /// Registers or refreshes a paid resource for discovery.
    pub async fn upsert_resource(&self, resource: &ResourceRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO resources (resource, kind, x402_version, accepts, metadata, last_updated) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (resource) DO UPDATE SET \
                   kind = excluded.kind, x402_version = excluded.x402_version, \
                   accepts = excluded.accepts, metadata = excluded.metadata, \
                   last_updated = excluded.last_updated";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&resource.resource)
                .bind(&resource.kind)
                .bind(i64::from(resource.x402_version))
                .bind(resource.accepts.to_string())
                .bind(resource.metadata.to_string())
                .bind(resource.last_updated)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// One page of registered resources (optionally of one kind) and the total count.
    pub async fn resources(
        &self,
        kind: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<ResourceRecord>, u64), StoreError> {
        let page_sql = "SELECT resource, kind, x402_version, accepts, metadata, last_updated \
                        FROM resources WHERE ($1 IS NULL OR kind = $1) \
                        ORDER BY last_updated DESC, resource LIMIT $2 OFFSET $3";
        let count_sql = "SELECT COUNT(*) AS total FROM resources WHERE ($1 IS NULL OR kind = $1)";
        let (items, total) = on_pool!(self, pool => {
            let rows = sqlx::query(page_sql)
                .bind(kind)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query(count_sql)
                .bind(kind)
                .fetch_one(pool)
                .await?
                .try_get("total")?;
            let items = rows
                .into_iter()
                .map(|row| -> Result<ResourceRecord, StoreError> {
                    let version: i64 = row.try_get("x402_version")?;
                    Ok(ResourceRecord {
                        resource: row.try_get("resource")?,
                        kind: row.try_get("kind")?,
                        x402_version: u8::try_from(version)
                            .map_err(|_| StoreError::Corrupt("x402 version".into()))?,
                        accepts: parse_json(&row.try_get::<String, _>("accepts")?)?,
                        metadata: parse_json(&row.try_get::<String, _>("metadata")?)?,
                        last_updated: row.try_get("last_updated")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            (items, total)
        });
        Ok((items, from_db(total)?))
    }
}
