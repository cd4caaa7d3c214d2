//! What became of sent claim transactions: looked up on chain, recorded as
//! confirmed (with what each allowance was paid) or failed, and, when still
//! unknown, kept in flight until their blockhash expires.

use std::collections::HashSet;

use solana_commitment_config::CommitmentConfig;
use solana_pubkey::Pubkey;
use solana_signature::Signature;

use super::{rpc_error, ClaimError, ClaimRound, Claimer};
use crate::store::{ClaimRecord, ClaimStatus};

impl Claimer {
    /// Looks up every pending claim; returns the allowances still in flight.
    pub(super) async fn resolve_pending(
        &self,
        round: &mut ClaimRound,
    ) -> Result<HashSet<Pubkey>, ClaimError> {
        let mut in_flight = HashSet::new();
        let pending = self.store.claims_with_status(ClaimStatus::Pending).await?;
        if pending.is_empty() {
            return Ok(in_flight);
        }
        let height = self.rpc.get_block_height().await.map_err(rpc_error)?;
        for claim in pending {
            let signature: Signature = claim
                .signature
                .parse()
                .map_err(|_| ClaimError::Rpc(format!("stored signature {}", claim.signature)))?;
            match self.lookup(&signature).await? {
                Some(Ok(())) => self.confirmed(&claim, round).await?,
                Some(Err(error)) => self.failed(&claim, &error, round).await?,
                None if height > claim.last_valid_block_height => {
                    self.store
                        .finish_claim(&claim.signature, ClaimStatus::Expired, None, &[])
                        .await?;
                    round.expired += 1;
                }
                None => in_flight.extend(claim.entries.iter().map(|entry| entry.allowance)),
            }
        }
        Ok(in_flight)
    }

    /// The transaction's outcome if it landed: `Ok` on success, the error text otherwise.
    pub(super) async fn lookup(
        &self,
        signature: &Signature,
    ) -> Result<Option<Result<(), String>>, ClaimError> {
        let statuses = self
            .rpc
            .get_signature_statuses(&[*signature])
            .await
            .map_err(rpc_error)?;
        Ok(match statuses.value.into_iter().next().flatten() {
            Some(status) if status.err.is_some() => {
                Some(Err(status.err.map(|e| e.to_string()).unwrap_or_default()))
            }
            Some(status) if status.satisfies_commitment(CommitmentConfig::confirmed()) => {
                Some(Ok(()))
            }
            _ => None,
        })
    }

    /// Records a confirmed claim. Each entry paid its attested cumulative
    /// less what was claimed when it was signed (no other claim of that
    /// allowance is in flight meanwhile), so recording it again after a
    /// leader died half-way through counts nothing twice.
    pub(super) async fn confirmed(
        &self,
        claim: &ClaimRecord,
        round: &mut ClaimRound,
    ) -> Result<(), ClaimError> {
        let mut paid = Vec::with_capacity(claim.entries.len());
        for entry in &claim.entries {
            let after = match self.chain.allowance(&entry.allowance, true).await {
                Ok(Some(state)) if state.allowance.generation == entry.generation => {
                    state.allowance.claimed
                }
                _ => entry.cumulative,
            };
            self.store
                .set_claimed(&entry.allowance, entry.generation, after)
                .await?;
            let amount = entry.cumulative.saturating_sub(entry.claimed_before);
            round.paid = round.paid.saturating_add(amount);
            paid.push((entry.allowance, amount));
        }
        self.store
            .finish_claim(&claim.signature, ClaimStatus::Confirmed, None, &paid)
            .await?;
        round.confirmed += 1;
        Ok(())
    }

    pub(super) async fn failed(
        &self,
        claim: &ClaimRecord,
        error: &str,
        round: &mut ClaimRound,
    ) -> Result<(), ClaimError> {
        tracing::warn!(signature = %claim.signature, %error, "claim failed");
        for entry in &claim.entries {
            self.chain.forget(&entry.allowance);
        }
        self.store
            .finish_claim(&claim.signature, ClaimStatus::Failed, Some(error), &[])
            .await?;
        round.failed += 1;
        Ok(())
    }
}
