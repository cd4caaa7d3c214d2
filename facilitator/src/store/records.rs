//! What the store keeps, as Rust values.

use serde_json::Value;
use solana_pubkey::Pubkey;

use super::{to_db, StoreError};

/// An allowance's watermarks as the facilitator knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// Generation of the allowance the receipts were for.
    pub generation: u64,
    /// Highest cumulative amount accepted.
    pub accepted: u64,
    /// Highest cumulative amount known to be claimed on chain.
    pub claimed: u64,
}

/// A receipt just accepted, with what the claimer needs later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedReceipt {
    /// The allowance drawn on.
    pub allowance: Pubkey,
    /// Its generation.
    pub generation: u64,
    /// The new accepted watermark.
    pub cumulative: u64,
    /// The accepted watermark of this generation the receipt was checked
    /// against (0 when none): it is stored only if the store still holds it.
    pub prior: u64,
    /// The price this receipt paid.
    pub amount: u64,
    /// Claimed on chain when it was accepted.
    pub claimed: u64,
    /// The escrow owner.
    pub payer: Pubkey,
    /// The key that signed the receipt (owner or session key).
    pub signer: Pubkey,
    /// The receipt signature, base58.
    pub signature: String,
    /// The proof returned for it (signed by the committer with its batch).
    pub proof: String,
    /// Unix time of acceptance.
    pub accepted_at: i64,
    /// The escrow.
    pub escrow: Pubkey,
    /// The provider paid by the allowance.
    pub provider: Pubkey,
    /// The escrow's mint.
    pub mint: Pubkey,
    /// The escrow's vault.
    pub vault: Pubkey,
}

/// A receipt already accepted, for answering a retried settle identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    /// The price it paid.
    pub amount: u64,
    /// The escrow owner.
    pub payer: Pubkey,
    /// The receipt signature, base58.
    pub signature: String,
    /// The proof returned for it.
    pub proof: String,
}

/// An allowance with accepted receipts beyond its claimed watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unclaimed {
    /// The allowance.
    pub allowance: Pubkey,
    /// Its generation.
    pub generation: u64,
    /// Accepted watermark.
    pub accepted: u64,
    /// Claimed watermark.
    pub claimed: u64,
    /// The escrow.
    pub escrow: Pubkey,
    /// The provider.
    pub provider: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The escrow's vault.
    pub vault: Pubkey,
}

/// Where a claim transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// Signed and possibly sent; outcome unknown.
    Pending,
    /// Landed and succeeded.
    Confirmed,
    /// Landed and failed.
    Failed,
    /// Never landed and can no longer land (its blockhash expired).
    Expired,
}

impl ClaimStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "confirmed" => Ok(Self::Confirmed),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            other => Err(StoreError::Corrupt(format!("claim status {other:?}"))),
        }
    }
}

/// One allowance in a claim transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimEntry {
    /// The allowance.
    pub allowance: Pubkey,
    /// Its generation.
    pub generation: u64,
    /// The cumulative amount attested.
    pub cumulative: u64,
    /// Claimed on chain when the claim was signed: it pays the difference.
    pub claimed_before: u64,
    /// What the transaction paid for it, once known.
    pub paid: Option<u64>,
}

/// A claim transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// Transaction signature, base58.
    pub signature: String,
    /// The provider paid.
    pub provider: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// Where it stands.
    pub status: ClaimStatus,
    /// Last block height at which it can land.
    pub last_valid_block_height: u64,
    /// Unix time it was signed.
    pub created_at: i64,
    /// What it claims.
    pub entries: Vec<ClaimEntry>,
}

/// Where an `exact` transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    /// Co-signed and being sent.
    Pending,
    /// Confirmed on chain.
    Settled,
    /// Refused by the chain or never confirmed.
    Failed,
}

impl TransferStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Settled => "settled",
            Self::Failed => "failed",
        }
    }

    /// The status of a stored name.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "settled" => Ok(Self::Settled),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("transfer status {other:?}"))),
        }
    }
}

/// An `exact` transfer the facilitator co-signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    /// Transaction signature, base58.
    pub signature: String,
    /// The transfer authority.
    pub payer: Pubkey,
    /// The owner paid.
    pub pay_to: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// Raw units.
    pub amount: u64,
    /// Where it stands.
    pub status: TransferStatus,
    /// Unix time it was first seen.
    pub created_at: i64,
}

/// A paid resource registered for discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    /// The resource URL.
    pub resource: String,
    /// Its type, e.g. `http`.
    pub kind: String,
    /// The x402 version of `accepts`.
    pub x402_version: u8,
    /// The payment requirements it accepts (a JSON array).
    pub accepts: Value,
    /// Free-form metadata (a JSON object).
    pub metadata: Value,
    /// Unix time of the last registration.
    pub last_updated: i64,
}

/// An accepted receipt converted to column values.
pub(super) struct ReceiptRow {
    pub allowance: String,
    pub generation: i64,
    pub cumulative: i64,
    pub prior: i64,
    pub amount: i64,
    pub claimed: i64,
    pub payer: String,
    pub signer: String,
    pub signature: String,
    pub proof: String,
    pub accepted_at: i64,
    pub escrow: String,
    pub provider: String,
    pub mint: String,
    pub vault: String,
}

impl TryFrom<&AcceptedReceipt> for ReceiptRow {
    type Error = StoreError;

    fn try_from(receipt: &AcceptedReceipt) -> Result<Self, StoreError> {
        Ok(Self {
            allowance: receipt.allowance.to_string(),
            generation: to_db(receipt.generation)?,
            cumulative: to_db(receipt.cumulative)?,
            prior: to_db(receipt.prior)?,
            amount: to_db(receipt.amount)?,
            claimed: to_db(receipt.claimed)?,
            payer: receipt.payer.to_string(),
            signer: receipt.signer.to_string(),
            signature: receipt.signature.clone(),
            proof: receipt.proof.clone(),
            accepted_at: receipt.accepted_at,
            escrow: receipt.escrow.to_string(),
            provider: receipt.provider.to_string(),
            mint: receipt.mint.to_string(),
            vault: receipt.vault.to_string(),
        })
    }
}

/// Indexes of `rows` in allowance order, the first row of each allowance only.
pub(super) fn first_per_allowance(rows: &[ReceiptRow]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Stable: of two rows for one allowance, the earlier one comes first.
    order.sort_by(|&a, &b| rows[a].allowance.cmp(&rows[b].allowance));
    order.dedup_by(|later, earlier| rows[*later].allowance == rows[*earlier].allowance);
    order
}
