//! The background claimer: pays providers what accepted receipts owe them, in
//! batches of one provider's allowances, with one delegate-signed attestation
//! per transaction (`claim_batch`).
//!
//! Costs: the claimer pays each claim transaction's fee, never rent. A
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

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anchor_lang::{InstructionData, ToAccountMetas};
use paytab::receipt::BatchAttestation;
use paytab_protocol::clock::unix_now;
use solana_commitment_config::CommitmentConfig;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::Message;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::Transaction;
use tokio::sync::watch;

use crate::chain::ChainReader;
use crate::escrow::rules::claimable_limit;
use crate::store::{ClaimEntry, ClaimRecord, ClaimStatus, Store, Unclaimed};

/// Most allowances per claim transaction without an address lookup table: a
/// legacy transaction of 8 entries is about 1,170 bytes of the 1,232 allowed.
pub const MAX_LEGACY_BATCH: usize = 8;

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
    /// Allowances per transaction (1..=8).
    pub max_batch: usize,
    /// Smallest total a claim transaction pays, raw units.
    pub min_claim: u64,
    /// Lifetime of an attestation, seconds.
    pub attestation_ttl_secs: i64,
    /// How long to wait for a sent claim before looking again next round.
    pub confirm_timeout: Duration,
}

impl Default for ClaimerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            max_batch: MAX_LEGACY_BATCH,
            min_claim: DEFAULT_MIN_CLAIM,
            attestation_ttl_secs: 300,
            confirm_timeout: Duration::from_secs(30),
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
        Self {
            rpc: chain.rpc().clone(),
            chain,
            store,
            delegate,
            config,
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
            for chunk in entries.chunks(self.config.max_batch.clamp(1, MAX_LEGACY_BATCH)) {
                self.claim_chunk(&target, chunk, &mut round).await?;
            }
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

    /// Looks up every pending claim; returns the allowances still in flight.
    async fn resolve_pending(&self, round: &mut ClaimRound) -> Result<HashSet<Pubkey>, ClaimError> {
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

    /// Claims one provider's chunk of allowances in one transaction.
    async fn claim_chunk(
        &self,
        target: &ClaimTarget,
        chunk: &[Unclaimed],
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
        let instructions = claim_instructions(
            &self.delegate,
            target,
            &entries,
            unix_now() + self.config.attestation_ttl_secs,
        );
        let (blockhash, last_valid_block_height) = self
            .rpc
            .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
            .await
            .map_err(rpc_error)?;
        let message =
            Message::new_with_blockhash(&instructions, Some(&self.delegate.pubkey()), &blockhash);
        let transaction = Transaction::new(&[self.delegate.as_ref()], message, blockhash);
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

    /// The transaction's outcome if it landed: `Ok` on success, the error text otherwise.
    async fn lookup(
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
    async fn confirmed(
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

    async fn failed(
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

/// Whom a batch pays, in which token.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTarget {
    /// The provider.
    pub provider: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The mint's token program.
    pub token_program: Pubkey,
}

fn provider_token(provider: Pubkey, mint: Pubkey, token_program: Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
        &provider,
        &mint,
        &token_program,
    )
}

/// The instructions of one batch claim: the Ed25519 check of the attestation,
/// then `claim_batch` (the check must come immediately before the claim).
pub fn claim_instructions(
    delegate: &Keypair,
    target: &ClaimTarget,
    entries: &[Unclaimed],
    expires_at: i64,
) -> Vec<Instruction> {
    let ClaimTarget {
        provider,
        mint,
        token_program,
    } = *target;
    let provider_token = provider_token(provider, mint, token_program);
    let mut instructions = Vec::with_capacity(2);
    let attested: Vec<(Pubkey, u64, u64)> = entries
        .iter()
        .map(|entry| (entry.allowance, entry.generation, entry.accepted))
        .collect();
    let message = BatchAttestation::encode(expires_at, &attested);
    let signature = delegate.sign_message(&message);
    let verify = solana_ed25519_program::new_ed25519_instruction_with_signature(
        &message,
        &signature.into(),
        &delegate.pubkey().to_bytes(),
    );
    let mut accounts = paytab::accounts::ClaimBatch {
        mint,
        provider_token,
        vault_authority: paytab::pda::vault_authority(),
        token_program,
        instructions: solana_sdk_ids::sysvar::instructions::ID,
    }
    .to_account_metas(None);
    for entry in entries {
        accounts.push(AccountMeta::new(entry.allowance, false));
        accounts.push(AccountMeta::new(entry.vault, false));
    }
    instructions.push(verify);
    instructions.push(Instruction {
        program_id: paytab::ID,
        accounts,
        data: paytab::instruction::ClaimBatch {}.data(),
    });
    instructions
}
