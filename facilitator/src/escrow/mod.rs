//! paytab's `escrow` scheme: payer-signed cumulative receipts against an
//! on-chain allowance. Verify checks a receipt; settle also commits the new
//! watermark durably and answers with a proof. No transaction per request: the
//! claimer pays providers later, in batches.
//!
//! Concurrency: receipts for one allowance are handled one at a time (a lock
//! per allowance, held until the commit is durable); receipts for different
//! allowances proceed in parallel and share commits. A receipt whose cumulative
//! is not exactly the accepted watermark plus the price is refused as stale,
//! with the watermark in `extensions.paytab.acceptedCumulative`, so a client
//! that lost count signs again from there.
//!
//! Instances: the commit is conditional (the watermark moves only from the
//! one the receipt was checked against), so facilitators sharing one
//! PostgreSQL database accept each receipt once; settle takes the receipt to
//! be the next one and lets the commit confirm it (ADR 0023).
//!
//! Replays: a receipt accepted before (the same count, the same signature) is
//! answered `duplicate_settlement` by both verify and settle, with the proof
//! issued when it was accepted, never as a new settlement. A client that lost
//! its answer sends the same receipt again; the gateway serves it once.

pub mod payload;
pub mod rules;
mod watermarks;

use std::sync::Arc;

use paytab_protocol::proof::{Scheme, Settlement};
use serde_json::json;
use solana_pubkey::Pubkey;

use crate::chain::{AllowanceState, ChainReader};
use crate::committer::{CommitError, Committer};
use crate::proofs::{binding_for, ProofClaim, ProofIssuer};
use crate::rejection::Rejection;
use crate::signatures::SignatureChecker;
use crate::store::{AcceptedReceipt, Store, Watermark};
use crate::x402::PaymentRequest;
use payload::SignedReceipt;
use rules::Terms;
use watermarks::Watermarks;

/// Which watermark a receipt's count is checked against.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// The stored one (cached, read when the cache disagrees): for verify.
    Stored,
    /// The one the receipt implies (its cumulative less the price): for
    /// settle, whose conditional commit stores the receipt only if that is
    /// the stored watermark, and checks it against the store otherwise. No
    /// read per settle, whichever instance settled the previous receipt.
    Assumed,
}

/// Commits of one receipt tried before it is refused as stale, when other
/// facilitators on the same database keep moving its watermark first.
const MAX_COMMIT_ATTEMPTS: usize = 4;

/// The scheme's name on the wire.
pub const SCHEME: &str = paytab_protocol::schemes::PAYTAB_ESCROW;

/// A receipt that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The escrow owner.
    pub payer: Pubkey,
}

/// A settled receipt.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The escrow owner.
    pub payer: Pubkey,
    /// The price paid.
    pub amount: u64,
    /// The allowance drawn on.
    pub allowance: Pubkey,
    /// The new accepted watermark.
    pub cumulative: u64,
    /// The allowance's generation.
    pub generation: u64,
    /// The proof for the gateway.
    pub proof: String,
}

/// A receipt that passed every check, with its allowance's lock.
struct Admitted<'a> {
    signed: SignedReceipt,
    terms: Terms,
    state: Arc<AllowanceState>,
    /// The stored watermark it was checked against.
    prior: u64,
    _serial: tokio::sync::MutexGuard<'a, ()>,
}

/// What the escrow scheme needs.
pub struct EscrowScheme {
    chain: Arc<ChainReader>,
    store: Store,
    committer: Committer,
    proofs: Arc<ProofIssuer>,
    signatures: Arc<SignatureChecker>,
    delegate: Pubkey,
    expiry_margin_secs: i64,
    watermarks: Watermarks,
}

impl EscrowScheme {
    /// The scheme over `chain` and `store`, claiming as `delegate`.
    pub fn new(
        chain: Arc<ChainReader>,
        store: Store,
        committer: Committer,
        proofs: Arc<ProofIssuer>,
        signatures: Arc<SignatureChecker>,
        delegate: Pubkey,
        expiry_margin_secs: i64,
    ) -> Self {
        Self {
            chain,
            store,
            committer,
            proofs,
            signatures,
            delegate,
            expiry_margin_secs,
            watermarks: Watermarks::default(),
        }
    }

    /// The key allowances must name as delegate.
    pub fn delegate(&self) -> Pubkey {
        self.delegate
    }

    /// Checks a receipt without accepting it.
    pub async fn verify(&self, request: &PaymentRequest, now: i64) -> Result<Verified, Rejection> {
        let admitted = self.admit(request, now, Count::Stored).await?;
        Ok(Verified {
            payer: admitted.state.escrow.owner,
        })
    }

    /// Accepts a receipt: checks it, commits the new watermark durably, and
    /// returns its proof. A receipt accepted before is refused as a
    /// duplicate that carries the proof issued then.
    pub async fn settle(&self, request: &PaymentRequest, now: i64) -> Result<Settled, Rejection> {
        let Admitted {
            signed,
            terms,
            state,
            prior,
            _serial,
        } = self.admit(request, now, Count::Assumed).await?;
        let payer = state.escrow.owner;

        let receipt = signed.receipt;
        let unsigned = self.proofs.prepare(
            ProofClaim {
                scheme: Scheme::Escrow,
                payer,
                pay_to: terms.pay_to,
                asset: terms.asset,
                amount: terms.amount,
                binding: binding_for(
                    request.binding.as_ref(),
                    request.payment.resource.as_deref(),
                ),
                settlement: Settlement::Receipt {
                    allowance: receipt.allowance,
                    cumulative: receipt.cumulative,
                },
            },
            now,
        );
        let mut accepted = AcceptedReceipt {
            allowance: receipt.allowance,
            generation: receipt.generation,
            cumulative: receipt.cumulative,
            prior,
            amount: terms.amount,
            claimed: state.allowance.claimed,
            payer,
            signer: signed.signer,
            signature: signed.signature_base58(),
            // Signed by the committer, with the other proofs of its batch.
            proof: String::new(),
            accepted_at: now,
            escrow: state.allowance.escrow,
            provider: state.allowance.provider,
            mint: state.escrow.mint,
            vault: state.allowance.vault,
        };
        // Stored only on top of the watermark it was checked against: when
        // another facilitator moved it first, the receipt is checked again
        // against the store (a duplicate or a stale count ends here).
        let mut attempts = 0;
        let proof = loop {
            let committed = self
                .committer
                .commit(accepted.clone(), unsigned.clone())
                .await
                .map_err(commit_rejection)?;
            if let Some(token) = committed {
                break token;
            }
            attempts += 1;
            accepted.prior = self
                .recheck(&signed, &terms, &state, attempts)
                .await
                .map_err(|rejection| rejection.with_payer(payer))?;
        };
        self.watermarks.set(
            receipt.allowance,
            Watermark {
                generation: receipt.generation,
                accepted: receipt.cumulative,
                claimed: state.allowance.claimed,
            },
        );
        Ok(Settled {
            payer,
            amount: terms.amount,
            allowance: receipt.allowance,
            cumulative: receipt.cumulative,
            generation: receipt.generation,
            proof,
        })
    }

    /// The `extensions` of a successful answer.
    pub fn extensions(settled: &Settled) -> serde_json::Value {
        json!({"paytab": {
            "proof": settled.proof,
            "allowance": settled.allowance.to_string(),
            "acceptedCumulative": settled.cumulative.to_string(),
            "generation": settled.generation.to_string(),
        }})
    }

    /// Parses and checks a receipt against chain state and the accepted
    /// watermark, holding its allowance's lock (kept until the new watermark
    /// is committed).
    async fn admit(
        &self,
        request: &PaymentRequest,
        now: i64,
        count: Count,
    ) -> Result<Admitted<'_>, Rejection> {
        check_program(request)?;
        let signed = SignedReceipt::from_payload(&request.payment.payload)?;
        self.check_signature(&signed).await?;
        let terms = self.terms(request, now);
        let _serial = self.watermarks.lock(&signed.receipt.allowance).await;
        let (state, prior) = self.evaluate(&signed, &terms, count).await?;
        Ok(Admitted {
            signed,
            terms,
            state,
            prior,
            _serial,
        })
    }

    async fn check_signature(&self, signed: &SignedReceipt) -> Result<(), Rejection> {
        let valid = self
            .signatures
            .verify(
                signed.signer.to_bytes(),
                signed.receipt.to_bytes().to_vec(),
                signed.signature,
            )
            .await;
        if valid {
            Ok(())
        } else {
            Err(Rejection::new(
                "invalid_escrow_payload_signature",
                "the receipt signature does not verify",
            ))
        }
    }

    fn terms(&self, request: &PaymentRequest, now: i64) -> Terms {
        Terms {
            amount: request.requirement.amount,
            asset: request.requirement.asset,
            pay_to: request.requirement.pay_to,
            delegate: self.delegate,
            now,
            expiry_margin_secs: self.expiry_margin_secs,
        }
    }

    /// Loads chain state and the accepted watermark and checks the receipt
    /// against both (hold the allowance's lock); returns the state and the
    /// stored watermark it was checked against. A refusal that newer chain
    /// state could lift (a raised cap, a new session key) is checked once
    /// more against a fresh read.
    async fn evaluate(
        &self,
        signed: &SignedReceipt,
        terms: &Terms,
        count: Count,
    ) -> Result<(Arc<AllowanceState>, u64), Rejection> {
        let address = signed.receipt.allowance;
        let mut fresh = false;
        let mut state = self.allowance_state(&address, false).await?;
        loop {
            match self.check(signed, terms, &state, count).await {
                Err(rejection) if !fresh && rules::may_pass_on_fresh_state(&rejection) => {
                    fresh = true;
                    state = self.allowance_state(&address, true).await?;
                }
                Err(rejection) => return Err(rejection.with_payer(state.escrow.owner)),
                Ok(prior) => return Ok((state, prior)),
            }
        }
    }

    /// Checks the receipt's authority and count; returns the stored
    /// watermark the count was checked against. A count refused against the
    /// cached watermark is checked again against the store's, which another
    /// facilitator on the same database may have moved.
    async fn check(
        &self,
        signed: &SignedReceipt,
        terms: &Terms,
        state: &AllowanceState,
        count: Count,
    ) -> Result<u64, Rejection> {
        rules::check_authority(signed, state, terms)?;
        if let (Count::Assumed, Some(assumed)) =
            (count, signed.receipt.cumulative.checked_sub(terms.amount))
        {
            if assumed >= state.allowance.claimed {
                // The commit stores it only if `assumed` is the stored watermark.
                return self
                    .check_count(signed, terms, state, assumed)
                    .await
                    .map(|()| assumed);
            }
        }
        let mut cached = self.stored_accepted(state, false).await?;
        if cached < state.allowance.claimed {
            // Claimed beyond the cached watermark: accepted since, elsewhere.
            cached = self.stored_accepted(state, true).await?;
        }
        match self.check_count(signed, terms, state, cached).await {
            Err(rejection) if rejection.reason == rules::STALE => {
                let stored = self.stored_accepted(state, true).await?;
                if stored == cached {
                    return Err(rejection);
                }
                self.check_count(signed, terms, state, stored)
                    .await
                    .map(|()| stored)
            }
            outcome => outcome.map(|()| cached),
        }
    }

    /// Checks a receipt again after its commit found the watermark moved by
    /// another facilitator: the stored watermark to commit on top of, or the
    /// refusal (the duplicate with its proof if this very receipt was
    /// accepted there, else the stale count to resume from). Gives up as
    /// stale after a few rounds of losing to other instances.
    async fn recheck(
        &self,
        signed: &SignedReceipt,
        terms: &Terms,
        state: &AllowanceState,
        attempts: usize,
    ) -> Result<u64, Rejection> {
        let stored = self.stored_accepted(state, true).await?;
        self.check_count(signed, terms, state, stored).await?;
        if attempts >= MAX_COMMIT_ATTEMPTS {
            return Err(rules::stale(
                stored.max(state.allowance.claimed),
                state.allowance.generation,
                signed.receipt.cumulative,
            ));
        }
        Ok(stored)
    }

    /// Checks the receipt's count against the stored watermark `stored`:
    /// a receipt accepted before is refused as a duplicate with its proof.
    async fn check_count(
        &self,
        signed: &SignedReceipt,
        terms: &Terms,
        state: &AllowanceState,
        stored: u64,
    ) -> Result<(), Rejection> {
        let accepted = stored.max(state.allowance.claimed);
        if signed.receipt.cumulative <= accepted {
            if let Some(proof) = self.accepted_before(signed).await? {
                // The proof recovers a lost answer; the count lets another
                // device that signed the same count resync.
                let mut duplicate = Rejection::duplicate(
                    "this receipt was accepted before; its proof is in extensions.paytab.proof",
                    Some(&proof),
                );
                duplicate.extensions = Some(json!({"paytab": {
                    "proof": proof,
                    "acceptedCumulative": accepted.to_string(),
                    "generation": state.allowance.generation.to_string(),
                }}));
                return Err(duplicate);
            }
        }
        rules::check_amount(signed, state, terms, accepted)
    }

    async fn allowance_state(
        &self,
        address: &Pubkey,
        fresh: bool,
    ) -> Result<Arc<AllowanceState>, Rejection> {
        self.chain
            .allowance(address, fresh)
            .await
            .map_err(Rejection::verify_error)?
            .ok_or_else(|| {
                Rejection::new(
                    "invalid_escrow_payload_allowance_not_found",
                    format!("no paytab allowance at {address}"),
                )
            })
    }

    /// The accepted watermark stored for the allowance's current generation
    /// (0 when none): the cached copy, or the store's when `fresh` or when
    /// none is cached.
    async fn stored_accepted(&self, state: &AllowanceState, fresh: bool) -> Result<u64, Rejection> {
        let generation = state.allowance.generation;
        let cached = if fresh {
            None
        } else {
            self.watermarks
                .get(&state.address)
                .filter(|known| known.generation == generation)
        };
        let known = match cached {
            Some(known) => known,
            None => {
                let stored = self
                    .store
                    .watermark(&state.address)
                    .await
                    .map_err(Rejection::verify_error)?
                    .filter(|stored| stored.generation == generation)
                    .unwrap_or(Watermark {
                        generation,
                        accepted: 0,
                        claimed: 0,
                    });
                self.watermarks.set(state.address, stored);
                stored
            }
        };
        Ok(known.accepted)
    }

    /// The proof issued for this exact receipt, if it was accepted.
    async fn accepted_before(&self, signed: &SignedReceipt) -> Result<Option<String>, Rejection> {
        let receipt = signed.receipt;
        let stored = self
            .store
            .receipt(&receipt.allowance, receipt.generation, receipt.cumulative)
            .await
            .map_err(Rejection::verify_error)?;
        Ok(stored
            .filter(|stored| stored.signature == signed.signature_base58())
            .map(|stored| stored.proof))
    }
}

/// An offer naming another program (`extra.programId`) is not one this
/// facilitator settles; an offer naming none is taken to mean paytab's.
fn check_program(request: &PaymentRequest) -> Result<(), Rejection> {
    match request.requirement.extra.get("programId") {
        None => Ok(()),
        Some(program) if program.as_str() == Some(paytab_protocol::schemes::PAYTAB_PROGRAM_ID) => {
            Ok(())
        }
        Some(_) => Err(Rejection::new(
            "invalid_payment_requirements",
            "extra.programId names another program than the paytab program this facilitator settles for",
        )),
    }
}

/// A failed commit: 503 when the database said no (nothing was stored),
/// 504 when the commit's outcome is unknown.
fn commit_rejection(error: CommitError) -> Rejection {
    if error.outcome_known {
        Rejection::settle_error(error)
    } else {
        Rejection::outcome_unknown(error)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_program_id_on_the_wire_is_the_programs_own() {
        assert_eq!(
            paytab::ID.to_string(),
            paytab_protocol::schemes::PAYTAB_PROGRAM_ID
        );
    }
}
