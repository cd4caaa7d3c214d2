//! `exact` transfers: each recorded before it is sent, ended once.

use sqlx::Row;

use super::{to_db, Store, StoreError, TransferRecord, TransferStatus};

impl Store {
    /// Records an `exact` transfer about to be sent. Returns `false` if the
    /// transaction was seen before (a duplicate settlement).
    pub async fn begin_transfer(&self, transfer: &TransferRecord) -> Result<bool, StoreError> {
        let sql = "INSERT INTO transfers (signature, payer, pay_to, mint, amount, status, proof, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) ON CONFLICT (signature) DO NOTHING";
        let inserted = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&transfer.signature)
                .bind(transfer.payer.to_string())
                .bind(transfer.pay_to.to_string())
                .bind(transfer.mint.to_string())
                .bind(to_db(transfer.amount)?)
                .bind(transfer.status.as_str())
                .bind(transfer.created_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// Forgets a pending `exact` transfer that was never sent.
    pub async fn forget_transfer(&self, signature: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM transfers WHERE signature = $1 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(sql).bind(signature).execute(pool).await?;
        });
        Ok(())
    }

    /// Ends a pending `exact` transfer with its outcome and, when settled,
    /// its proof. `false` if it was not pending (another request ended it):
    /// one transfer gets one outcome and one proof.
    pub async fn finish_transfer(
        &self,
        signature: &str,
        status: TransferStatus,
        proof: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE transfers SET status = $2, proof = $3 \
                   WHERE signature = $1 AND status = 'pending'";
        let updated = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(signature)
                .bind(status.as_str())
                .bind(proof)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Where an `exact` transfer stands, and its proof once settled.
    pub async fn transfer(
        &self,
        signature: &str,
    ) -> Result<Option<(TransferStatus, Option<String>)>, StoreError> {
        let sql = "SELECT status, proof FROM transfers WHERE signature = $1";
        let row = on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(signature)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<_, StoreError> {
                    let status = TransferStatus::parse(&row.try_get::<String, _>("status")?)?;
                    Ok((status, row.try_get::<Option<String>, _>("proof")?))
                })
        });
        row.transpose()
    }
}
