//! The background claimer: pays providers what accepted receipts owe them, in
//! batches of one provider's allowances, with one delegate-signed attestation
//! per transaction (`claim_batch`): up to 27 per v0 transaction whose
//! addresses come from the claimer's lookup tables ([`tables`]), or 8 per
//! legacy transaction when a table is not usable yet ([`transactions`]).
//!
//! Costs: the claimer pays each claim transaction's fee and never spends
//! rent: its lookup tables hold a rent deposit that closing them returns. A
//! provider without a token account for the mint is skipped (and told so by
//! `GET /claims/{provider}`) until it creates one; a transaction is sent only
//! when it pays at least the minimum claim.
//!
//! Safety after failures: every claim transaction is recorded (signature, last
//! valid block height, entries) before it is sent. A claim whose outcome is
//! unknown is looked up before anything else is sent for its allowances; it is
//! only given up (and its entries claimed again) once its blockhash has expired,
//! when it can no longer land. The program pays `cumulative - claimed`, so even
//! a duplicate claim would pay nothing twice.

mod batches;
mod outcomes;
pub mod tables;
pub mod transactions;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use paytab_protocol::clock::unix_now;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use tokio::sync::watch;

use batches::{by_table, tables_holding};
pub use tables::{LookupTables, TableConfig};
pub use transactions::{claim_instructions, ClaimTarget, MAX_LEGACY_BATCH, MAX_LOOKUP_BATCH};
use transactions::{entry_addresses, legacy_claim, lookup_claim, provider_token};

use crate::chain::ChainReader;
use crate::escrow::rules::claimable_limit;
use crate::store::{ClaimEntry, ClaimRecord, ClaimStatus, Store, Unclaimed};

/// The default smallest total one claim transaction pays, raw units (0.01 of a
/// six-decimal token): about 10,000 lamports of fees are spent per transaction.
pub const DEFAULT_MIN_CLAIM: u64 = 10_000;

/// Allowances expiring sooner than this are claimed whatever they owe, seconds.
const URGENT_WITHIN_SECS: i64 = 3_600;

/// How the claimer runs.
#[derive(Debug, Clone)]
pub struct ClaimerConfig {
    /// Time between rounds.
    pub interval: Duration,
    /// Allowances per transaction (1..=27 with lookup tables; legacy
    /// transactions take at most 8).
    pub max_batch: usize,
    /// Smallest total a claim transaction pays, raw units.
    pub min_claim: u64,
    /// Lifetime of an attestation, seconds.
    pub attestation_ttl_secs: i64,
    /// How long to wait for a sent claim before looking again next round.
    pub confirm_timeout: Duration,
    /// Claims use address lookup tables (`None`: legacy transactions only).
    pub lookup_tables: Option<TableConfig>,
}

impl Default for ClaimerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            max_batch: MAX_LOOKUP_BATCH,
            min_claim: DEFAULT_MIN_CLAIM,
            attestation_ttl_secs: 300,
            confirm_timeout: Duration::from_secs(30),
            lookup_tables: Some(TableConfig::default()),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRound {
    /// Claim transactions confirmed this round (including earlier ones resolved now).
    pub confirmed: usize,
    /// Claim transactions that failed on chain.
    pub failed: usize,
    /// Claims given up because their blockhash expired unlanded.
    pub expired: usize,
    /// Raw units paid by the confirmed claims.
    pub paid: u64,
    /// Providers skipped because they have no token account for the mint.
    pub without_token_account: usize,
    /// Groups left for later because they owe less than the minimum claim.
    pub below_minimum: usize,
    /// Nothing was done: another facilitator on this database leads claim rounds.
    pub led_elsewhere: bool,
    /// Claim transactions sent as v0 with lookup tables.
    pub lookup_claims: usize,
    /// Claim transactions sent as legacy transactions.
    pub legacy_claims: usize,
    /// Lookup tables created.
    pub tables_created: usize,
    /// Transactions that created, extended, deactivated or closed tables.
    pub table_transactions: usize,
    /// Lookup tables closed.
    pub tables_closed: usize,
    /// Lamports of rent the closed tables returned.
    pub table_rent_recovered: u64,
}

/// A claim round could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// JSON-RPC failed.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn rpc_error(error: impl std::fmt::Display) -> ClaimError {
    ClaimError::Rpc(error.to_string())
}

/// Claims accepted receipts on chain. Clones share one round lock, so rounds
/// (background or on request) never overlap.
#[derive(Clone)]
pub struct Claimer {
    rpc: Arc<RpcClient>,
    chain: Arc<ChainReader>,
    store: Store,
    delegate: Arc<Keypair>,
    config: ClaimerConfig,
    tables: Option<Arc<LookupTables>>,
    round: Arc<tokio::sync::Mutex<()>>,
}

impl Claimer {
    /// A claimer signing (as fee payer and allowance delegate) with `delegate`.
    pub fn new(
        chain: Arc<ChainReader>,
        store: Store,
        delegate: Arc<Keypair>,
        config: ClaimerConfig,
    ) -> Self {
        let rpc = chain.rpc().clone();
        let tables = config.lookup_tables.map(|tables| {
            Arc::new(LookupTables::new(
                rpc.clone(),
                store.clone(),
                delegate.clone(),
                tables,
            ))
        });
        Self {
            rpc,
            chain,
            store,
            delegate,
            config,
            tables,
            round: Arc::default(),
        }
    }

    /// Runs rounds until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.run_once().await {
                Ok(round) if round != ClaimRound::default() => {
                    tracing::info!(?round, "claim round");
                    crate::metrics::record_claims(&round);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "claim round failed; retrying next round"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// One round: resolve claims whose outcome is unknown, then claim what is
    /// owed; nothing (`led_elsewhere`) while another facilitator on the same
    /// database runs rounds.
    pub async fn run_once(&self) -> Result<ClaimRound, ClaimError> {
        let _only_round = self.round.lock().await;
        // Rounds never overlap across facilitators sharing a database either.
        let Some(lead) = self.store.lead_claims().await? else {
            return Ok(ClaimRound {
                led_elsewhere: true,
                ..ClaimRound::default()
            });
        };
        let round = self.lead_round().await;
        lead.release().await;
        round
    }

    /// One round, run while holding the lead.
    async fn lead_round(&self) -> Result<ClaimRound, ClaimError> {
        let mut round = ClaimRound::default();
        let in_flight = self.resolve_pending(&mut round).await?;
        let unclaimed: Vec<Unclaimed> = self
            .store
            .unclaimed(1024)
            .await?
            .into_iter()
            .filter(|entry| !in_flight.contains(&entry.allowance))
            .collect();
        let mut groups: BTreeMap<(Pubkey, Pubkey), Vec<Unclaimed>> = BTreeMap::new();
        for entry in unclaimed {
            groups
                .entry((entry.provider, entry.mint))
                .or_default()
                .push(entry);
        }
        let mut ready = Vec::with_capacity(groups.len());
        for ((provider, mint), entries) in groups {
            let token_program = self.token_program(&mint).await?;
            if !self
                .has_token_account(provider, mint, token_program)
                .await?
            {
                // Creating it would spend the facilitator's rent on an account
                // its owner can close for the refund.
                tracing::info!(%provider, %mint, "provider has no token account; its claims wait");
                round.without_token_account += 1;
                continue;
            }
            let target = ClaimTarget {
                provider,
                mint,
                token_program,
            };
            ready.push((target, entries));
        }
        let tables = match &self.tables {
            Some(tables) if !ready.is_empty() => {
                let needed: Vec<Pubkey> = ready
                    .iter()
                    .flat_map(|(_, entries)| entry_addresses(entries))
                    .collect();
                tables.prepare(&needed, &mut round).await
            }
            _ => Vec::new(),
        };
        let lookup_batch = self.config.max_batch.clamp(1, MAX_LOOKUP_BATCH);
        let legacy_batch = self.config.max_batch.clamp(1, MAX_LEGACY_BATCH);
        for (target, entries) in ready {
            let (covered, rest) = by_table(entries, &tables);
            for chunk in covered.chunks(lookup_batch) {
                self.claim_chunk(&target, chunk, &tables, &mut round)
                    .await?;
            }
            for chunk in rest.chunks(legacy_batch) {
                self.claim_chunk(&target, chunk, &[], &mut round).await?;
            }
        }
        if let Some(tables) = &self.tables {
            tables.retire_idle(&mut round).await;
        }
        Ok(round)
    }

    /// Whether `provider`'s associated token account for `mint` exists.
    pub async fn has_token_account(
        &self,
        provider: Pubkey,
        mint: Pubkey,
        token_program: Pubkey,
    ) -> Result<bool, ClaimError> {
        Ok(self
            .rpc
            .get_account_with_commitment(
                &provider_token(provider, mint, token_program),
                CommitmentConfig::confirmed(),
            )
            .await
            .map_err(rpc_error)?
            .value
            .is_some())
    }

    /// Claims one provider's chunk of allowances: in one v0 transaction
    /// when `tables` hold their addresses and it fits, else in legacy
    /// transactions of up to 8.
    async fn claim_chunk(
        &self,
        target: &ClaimTarget,
        chunk: &[Unclaimed],
        tables: &[AddressLookupTableAccount],
        round: &mut ClaimRound,
    ) -> Result<(), ClaimError> {
        let (entries, urgent) = self.claimable_entries(chunk).await?;
        if entries.is_empty() {
            return Ok(());
        }
        let total = entries.iter().fold(0u64, |total, entry| {
            total.saturating_add(entry.accepted.saturating_sub(entry.claimed))
        });
        if total < self.config.min_claim && !urgent {
            round.below_minimum += 1;
            return Ok(());
        }
        let expires_at = unix_now() + self.config.attestation_ttl_secs;
        let (blockhash, last_valid_block_height) = self
            .rpc
            .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
            .await
            .map_err(rpc_error)?;
        if !tables.is_empty() {
            let used = tables_holding(&entries, tables);
            let instructions = claim_instructions(&self.delegate, target, &entries, expires_at);
            if let Some(transaction) = lookup_claim(
                &self.delegate,
                &instructions,
                entries.len(),
                &used,
                blockhash,
            ) {
                if let Some(tables) = &self.tables {
                    tables.touch(&used).await;
                }
                round.lookup_claims += 1;
                return self
                    .send_claim(
                        target,
                        &entries,
                        transaction,
                        last_valid_block_height,
                        round,
                    )
                    .await;
            }
            tracing::warn!(
                entries = entries.len(),
                "claim does not fit one v0 transaction; sending legacy transactions"
            );
        }
        for part in entries.chunks(MAX_LEGACY_BATCH) {
            let instructions = claim_instructions(&self.delegate, target, part, expires_at);
            let transaction = legacy_claim(&self.delegate, &instructions, blockhash);
            round.legacy_claims += 1;
            self.send_claim(target, part, transaction, last_valid_block_height, round)
                .await?;
        }
        Ok(())
    }

    /// Records a claim transaction, sends it and waits (up to the confirm
    /// timeout) for its outcome; one left unknown is looked up next round.
    async fn send_claim(
        &self,
        target: &ClaimTarget,
        entries: &[Unclaimed],
        transaction: VersionedTransaction,
        last_valid_block_height: u64,
        round: &mut ClaimRound,
    ) -> Result<(), ClaimError> {
        let signature = transaction.signatures.first().copied().unwrap_or_default();
        let claim = ClaimRecord {
            signature: signature.to_string(),
            provider: target.provider,
            mint: target.mint,
            status: ClaimStatus::Pending,
            last_valid_block_height,
            created_at: unix_now(),
            entries: entries
                .iter()
                .map(|entry| ClaimEntry {
                    allowance: entry.allowance,
                    generation: entry.generation,
                    cumulative: entry.accepted,
                    claimed_before: entry.claimed,
                    paid: None,
                })
                .collect(),
        };
        self.store.record_claim(&claim).await?;
        if let Err(error) = self.rpc.send_transaction(&transaction).await {
            // Preflight refused it, so it cannot land: record why and move on.
            let error = error.to_string();
            tracing::warn!(%error, signature = %claim.signature, "claim refused in preflight");
            return self.failed(&claim, &error, round).await;
        }
        let deadline = tokio::time::Instant::now() + self.config.confirm_timeout;
        while tokio::time::Instant::now() < deadline {
            match self.lookup(&signature).await? {
                Some(Ok(())) => return self.confirmed(&claim, round).await,
                Some(Err(error)) => return self.failed(&claim, &error, round).await,
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        Ok(())
    }

    /// The chunk's entries that can be claimed now, capped at what the chain
    /// will pay (their `claimed` as on chain); entries already claimed on
    /// chain only update the store. `true` when one must be claimed soon
    /// whatever its amount: a reduction is pending, or it expires within the hour.
    async fn claimable_entries(
        &self,
        chunk: &[Unclaimed],
    ) -> Result<(Vec<Unclaimed>, bool), ClaimError> {
        let mut entries = Vec::with_capacity(chunk.len());
        let mut urgent = false;
        let now = unix_now();
        for entry in chunk {
            let Some(state) = self
                .chain
                .allowance(&entry.allowance, true)
                .await
                .map_err(rpc_error)?
            else {
                tracing::warn!(allowance = %entry.allowance, "allowance closed with receipts unclaimed");
                continue;
            };
            let allowance = &state.allowance;
            if allowance.generation != entry.generation
                || allowance.delegate != Some(self.delegate.pubkey())
            {
                tracing::warn!(allowance = %entry.allowance, "allowance changed; its receipts cannot be claimed");
                continue;
            }
            if allowance.claimed >= entry.accepted {
                self.store
                    .set_claimed(&entry.allowance, entry.generation, allowance.claimed)
                    .await?;
                continue;
            }
            let limit = claimable_limit(allowance);
            let accepted = entry.accepted.min(limit);
            if accepted < entry.accepted {
                tracing::warn!(allowance = %entry.allowance, accepted = entry.accepted, limit, "claim capped by a reduction");
            }
            if accepted > allowance.claimed {
                urgent |= allowance.pending_cap.is_some()
                    || (allowance.expires_at != 0
                        && allowance.expires_at - now < URGENT_WITHIN_SECS);
                entries.push(Unclaimed {
                    accepted,
                    claimed: allowance.claimed,
                    ..*entry
                });
            }
        }
        Ok((entries, urgent))
    }

    /// The token program that owns `mint`.
    pub async fn token_program(&self, mint: &Pubkey) -> Result<Pubkey, ClaimError> {
        let account = self.rpc.get_account(mint).await.map_err(rpc_error)?;
        Ok(account.owner)
    }
}
