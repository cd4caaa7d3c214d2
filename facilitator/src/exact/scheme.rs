//! Verifying and settling x402 `exact` payments and MPP charge transactions
//! (their rules differ, [`super::rules`] and [`super::charge`]): check every
//! rule, co-sign as fee payer (unless the client paid the fees), simulate,
//! send, wait for `confirmed`, and prove the payment.
//!
//! Each transfer is recorded (pending) before it is sent, and ends once:
//! settled with one proof, or failed. A payment seen before is answered from
//! that record: settled ones as `duplicate_settlement` with their proof, and
//! unfinished ones (a lost answer, a crash) are looked up on chain, sent again
//! while they can still land, and finished here.

use std::sync::Arc;
use std::time::Duration;

use paytab_protocol::proof::{Scheme, Settlement};
use serde_json::Value;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{RpcSendTransactionConfig, RpcSimulateTransactionConfig};
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;

use super::charge::{self, check_charge_transaction, ChargeRequirement};
use super::rules::{
    check_transaction, decode_transaction, ExactLimits, ExactRequirement, ExactTransfer,
};
use crate::proofs::{binding_for, ProofClaim, ProofIssuer};
use crate::rejection::Rejection;
use crate::store::{Store, TransferRecord, TransferStatus};
use crate::x402::PaymentRequest;
use crate::x402::Requirement;

/// The scheme's name on the wire.
pub const SCHEME: &str = "exact";

/// How often a sent transaction's status is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A transfer that passed every rule and simulated, co-signed by the fee payer.
#[derive(Debug, Clone)]
pub struct ExactVerified {
    /// What it transfers.
    pub transfer: ExactTransfer,
    /// The transaction with both signatures.
    pub transaction: VersionedTransaction,
}

/// A confirmed transfer.
#[derive(Debug, Clone)]
pub struct ExactSettled {
    /// The transfer authority.
    pub payer: Pubkey,
    /// Raw units moved.
    pub amount: u64,
    /// The transaction signature.
    pub signature: Signature,
    /// The proof for the gateway.
    pub proof: String,
}

/// The `exact` scheme, and MPP charges.
pub struct ExactScheme {
    pub(super) rpc: Arc<RpcClient>,
    fee_payer: Arc<Keypair>,
    pub(super) store: Store,
    proofs: Arc<ProofIssuer>,
    pub(super) limits: ExactLimits,
    confirm_timeout: Duration,
}

impl ExactScheme {
    /// The scheme paying fees with `fee_payer`, within `limits`.
    pub fn new(
        rpc: Arc<RpcClient>,
        fee_payer: Arc<Keypair>,
        store: Store,
        proofs: Arc<ProofIssuer>,
        limits: ExactLimits,
        confirm_timeout: Duration,
    ) -> Self {
        Self {
            rpc,
            fee_payer,
            store,
            proofs,
            limits,
            confirm_timeout,
        }
    }

    /// The ceilings a client-paid transaction is held to: x402's own (its
    /// fees are not the facilitator's).
    pub(super) fn limits_for_client_paid(&self) -> ExactLimits {
        ExactLimits {
            max_compute_unit_limit: super::rules::X402_MAX_COMPUTE_UNIT_LIMIT,
            max_compute_unit_price_micro_lamports:
                super::rules::X402_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
        }
    }

    /// The fee payer's address (`extra.feePayer`).
    pub fn fee_payer(&self) -> Pubkey {
        self.fee_payer.pubkey()
    }

    /// Checks every rule and simulates the co-signed transaction; a
    /// transfer settled before is refused as a duplicate with its proof.
    pub async fn verify(&self, request: &PaymentRequest) -> Result<ExactVerified, Rejection> {
        let verified = self.co_sign(request)?;
        let payer = verified.transfer.payer;
        let signature = signature_of(&verified)?;
        let known = self
            .store
            .transfer(&signature.to_string())
            .await
            .map_err(Rejection::verify_error)?;
        match known {
            Some((TransferStatus::Settled, proof)) => {
                return Err(duplicate(proof.as_deref()).with_payer(payer))
            }
            Some((TransferStatus::Failed, _)) => return Err(failed_before().with_payer(payer)),
            Some((TransferStatus::Pending, _)) => {
                // Sent before, not finished: settling it again finishes it.
                match self
                    .lookup(&signature)
                    .await
                    .map_err(Rejection::verify_error)?
                {
                    Some(Ok(())) => return Ok(verified),
                    Some(Err(error)) => return Err(failed_on_chain(&error).with_payer(payer)),
                    None => {}
                }
            }
            None => {}
        }
        self.simulate(&verified.transaction)
            .await
            .map_err(|rejection| rejection.with_payer(payer))?;
        Ok(verified)
    }

    /// Checks every rule and co-signs as fee payer (the signature, and so the
    /// transaction id, is deterministic); a client-paid charge is already signed.
    fn co_sign(&self, request: &PaymentRequest) -> Result<ExactVerified, Rejection> {
        let wire = request
            .payment
            .payload
            .get("transaction")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Rejection::new(
                    "invalid_payload",
                    "payload.transaction must be a base64 string",
                )
            })?;
        let mut transaction = decode_transaction(wire).map_err(rule_rejection)?;
        let transfer = if request.requirement.scheme == charge::SCHEME {
            let requirement = self.charge_requirement(request)?;
            let limits = match requirement.fee_payer {
                Some(_) => self.limits,
                None => self.limits_for_client_paid(),
            };
            let transfer = check_charge_transaction(&transaction, &requirement, &limits)
                .map_err(rule_rejection)?;
            if requirement.fee_payer.is_none() {
                return Ok(ExactVerified {
                    transfer,
                    transaction,
                });
            }
            transfer
        } else {
            let requirement = self.requirement(request)?;
            check_transaction(&transaction, &requirement, &self.limits).map_err(rule_rejection)?
        };
        let message = transaction.message.serialize();
        let fee_payer_signature = self.fee_payer.sign_message(&message);
        match transaction.signatures.first_mut() {
            Some(slot) => *slot = fee_payer_signature,
            None => {
                return Err(rule_rejection(
                    super::rules::ExactRuleError::UnexpectedSigner,
                ))
            }
        }
        Ok(ExactVerified {
            transfer,
            transaction,
        })
    }

    /// Checks, records the transfer as pending, simulates, sends, waits for
    /// `confirmed`, and proves the payment. A transfer seen before is
    /// answered from its record (see the module documentation).
    pub async fn settle(
        &self,
        request: &PaymentRequest,
        now: i64,
    ) -> Result<ExactSettled, Rejection> {
        let verified = self.co_sign(request)?;
        let transfer = verified.transfer.clone();
        let payer = transfer.payer;
        let signature = signature_of(&verified)?;
        let first_seen = self
            .store
            .begin_transfer(&TransferRecord {
                signature: signature.to_string(),
                payer,
                pay_to: request.requirement.pay_to,
                mint: transfer.mint,
                amount: transfer.amount,
                status: TransferStatus::Pending,
                created_at: now,
            })
            .await
            .map_err(Rejection::settle_error)?;
        if !first_seen {
            return self
                .resume(request, &verified, &signature, now)
                .await
                .map_err(|rejection| rejection.with_payer(payer));
        }
        if let Err(rejection) = self.simulate(&verified.transaction).await {
            // It was never sent, so the same transaction may be tried again.
            self.store
                .forget_transfer(&signature.to_string())
                .await
                .map_err(Rejection::settle_error)?;
            return Err(rejection.with_payer(payer));
        }
        self.send_and_confirm(&verified.transaction, &signature)
            .await
            .map_err(|rejection| rejection.with_payer(payer))?;
        self.prove(&request.requirement, request, &transfer, &signature, now)
            .await
            .map_err(|rejection| rejection.with_payer(payer))
    }

    /// A transfer recorded before: its stored outcome, or, while unfinished,
    /// its outcome on chain (sending it again while it can still land).
    async fn resume(
        &self,
        request: &PaymentRequest,
        verified: &ExactVerified,
        signature: &Signature,
        now: i64,
    ) -> Result<ExactSettled, Rejection> {
        let known = self
            .store
            .transfer(&signature.to_string())
            .await
            .map_err(Rejection::settle_error)?;
        match known {
            Some((TransferStatus::Settled, proof)) => return Err(duplicate(proof.as_deref())),
            Some((TransferStatus::Failed, _)) => return Err(failed_before()),
            Some((TransferStatus::Pending, _)) => {}
            None => {
                return Err(Rejection::settle_error(
                    "a transfer record vanished while being settled",
                ))
            }
        }
        match self
            .lookup(signature)
            .await
            .map_err(Rejection::outcome_unknown)?
        {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                self.finish(signature, TransferStatus::Failed, None).await?;
                return Err(failed_on_chain(&error));
            }
            None => {
                let blockhash = *verified.transaction.message.recent_blockhash();
                let landable = self
                    .rpc
                    .is_blockhash_valid(&blockhash, CommitmentConfig::processed())
                    .await
                    .map_err(Rejection::outcome_unknown)?;
                if !landable {
                    self.finish(signature, TransferStatus::Failed, None).await?;
                    return Err(Rejection::new(
                        "transaction_expired",
                        "the transaction never landed and its blockhash expired; nothing was charged",
                    ));
                }
                self.send_and_confirm(&verified.transaction, signature)
                    .await?;
            }
        }
        self.prove(
            &request.requirement,
            request,
            &verified.transfer,
            signature,
            now,
        )
        .await
    }

    /// Issues the proof of a confirmed transfer and records it: the first
    /// to record wins, any other caller gets the recorded proof as a duplicate.
    pub(super) async fn prove(
        &self,
        requirement: &Requirement,
        request: &PaymentRequest,
        transfer: &ExactTransfer,
        signature: &Signature,
        now: i64,
    ) -> Result<ExactSettled, Rejection> {
        let proof = self
            .proofs
            .issue(
                ProofClaim {
                    scheme: if request.requirement.scheme == charge::SCHEME {
                        Scheme::MppCharge
                    } else {
                        Scheme::Exact
                    },
                    payer: transfer.payer,
                    pay_to: requirement.pay_to,
                    asset: transfer.mint,
                    amount: transfer.amount,
                    binding: binding_for(
                        request.binding.as_ref(),
                        request.payment.resource.as_deref(),
                    ),
                    settlement: Settlement::Transaction((*signature).into()),
                },
                now,
            )
            // Landed on chain but not proven here: a retry finishes it.
            .map_err(Rejection::outcome_unknown)?;
        let recorded = self
            .store
            .finish_transfer(
                &signature.to_string(),
                TransferStatus::Settled,
                Some(&proof),
            )
            .await
            .map_err(Rejection::outcome_unknown)?;
        if !recorded {
            let stored = self
                .store
                .transfer(&signature.to_string())
                .await
                .map_err(Rejection::outcome_unknown)?;
            return Err(match stored {
                Some((TransferStatus::Settled, proof)) => duplicate(proof.as_deref()),
                _ => failed_before(),
            });
        }
        Ok(ExactSettled {
            payer: transfer.payer,
            amount: transfer.amount,
            signature: *signature,
            proof,
        })
    }

    fn requirement(&self, request: &PaymentRequest) -> Result<ExactRequirement, Rejection> {
        let fee_payer = self.named_fee_payer(request)?.ok_or_else(|| {
            Rejection::new(
                "invalid_payment_requirements",
                "extra.feePayer must name the facilitator's fee payer",
            )
        })?;
        Ok(ExactRequirement {
            asset: request.requirement.asset,
            pay_to: request.requirement.pay_to,
            amount: request.requirement.amount,
            fee_payer,
            memo: required_memo(request)?,
        })
    }

    /// A charge's requirement: the facilitator pays the fees only when
    /// `extra.feePayer` names it.
    pub(super) fn charge_requirement(
        &self,
        request: &PaymentRequest,
    ) -> Result<ChargeRequirement, Rejection> {
        Ok(ChargeRequirement {
            asset: request.requirement.asset,
            pay_to: request.requirement.pay_to,
            amount: request.requirement.amount,
            fee_payer: self.named_fee_payer(request)?,
            memo: required_memo(request)?,
        })
    }

    /// `extra.feePayer`, which must be this facilitator's if present.
    fn named_fee_payer(&self, request: &PaymentRequest) -> Result<Option<Pubkey>, Rejection> {
        let Some(named) = request
            .requirement
            .extra
            .get("feePayer")
            .filter(|value| !value.is_null())
        else {
            return Ok(None);
        };
        let fee_payer = named
            .as_str()
            .and_then(|text| text.parse::<Pubkey>().ok())
            .ok_or_else(|| {
                Rejection::new(
                    "invalid_payment_requirements",
                    "extra.feePayer must be a base58 address",
                )
            })?;
        if fee_payer != self.fee_payer() {
            return Err(Rejection::new(
                "invalid_payment_requirements",
                format!(
                    "extra.feePayer {fee_payer} is not this facilitator's fee payer {}",
                    self.fee_payer()
                ),
            ));
        }
        Ok(Some(fee_payer))
    }

    async fn simulate(&self, transaction: &VersionedTransaction) -> Result<(), Rejection> {
        let config = RpcSimulateTransactionConfig {
            sig_verify: true,
            commitment: Some(CommitmentConfig::confirmed()),
            ..RpcSimulateTransactionConfig::default()
        };
        let simulation = self
            .rpc
            .simulate_transaction_with_config(transaction, config)
            .await
            .map_err(Rejection::verify_error)?;
        match simulation.value.err {
            None => Ok(()),
            Some(error) => Err(Rejection::new(
                "transaction_simulation_failed",
                format!("the transaction fails in simulation: {error}"),
            )),
        }
    }

    async fn send_and_confirm(
        &self,
        transaction: &VersionedTransaction,
        signature: &Signature,
    ) -> Result<(), Rejection> {
        let config = RpcSendTransactionConfig {
            skip_preflight: true,
            ..RpcSendTransactionConfig::default()
        };
        // Whether a failed send reached the chain is unknown: the transfer
        // stays pending and a retry looks it up.
        self.rpc
            .send_transaction_with_config(transaction, config)
            .await
            .map_err(Rejection::outcome_unknown)?;
        let deadline = tokio::time::Instant::now() + self.confirm_timeout;
        loop {
            match self
                .lookup(signature)
                .await
                .map_err(Rejection::outcome_unknown)?
            {
                Some(Ok(())) => return Ok(()),
                Some(Err(error)) => {
                    self.finish(signature, TransferStatus::Failed, None).await?;
                    return Err(failed_on_chain(&error));
                }
                None => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Rejection::outcome_unknown(format!(
                    "transaction {signature} not confirmed in time"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The transaction's outcome once `confirmed`: `Ok`, or the chain's error.
    pub(super) async fn lookup(
        &self,
        signature: &Signature,
    ) -> Result<Option<Result<(), String>>, solana_rpc_client_api::client_error::Error> {
        let statuses = self.rpc.get_signature_statuses(&[*signature]).await?;
        Ok(match statuses.value.into_iter().next().flatten() {
            Some(status) if status.err.is_some() => Some(Err(status
                .err
                .map(|error| error.to_string())
                .unwrap_or_default())),
            Some(status) if status.satisfies_commitment(CommitmentConfig::confirmed()) => {
                Some(Ok(()))
            }
            _ => None,
        })
    }

    /// Records that a pending transfer failed.
    async fn finish(
        &self,
        signature: &Signature,
        status: TransferStatus,
        proof: Option<&str>,
    ) -> Result<(), Rejection> {
        self.store
            .finish_transfer(&signature.to_string(), status, proof)
            .await
            .map(|_| ())
            .map_err(Rejection::settle_error)
    }
}

/// `extra.memo`, if the requirement names one.
fn required_memo(request: &PaymentRequest) -> Result<Option<String>, Rejection> {
    match request.requirement.extra.get("memo") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(memo)) => Ok(Some(memo.clone())),
        Some(_) => Err(Rejection::new(
            "invalid_payment_requirements",
            "extra.memo must be a string",
        )),
    }
}

/// The fee payer's signature: the transaction's id, known before sending.
fn signature_of(verified: &ExactVerified) -> Result<Signature, Rejection> {
    verified
        .transaction
        .signatures
        .first()
        .copied()
        .ok_or_else(|| Rejection::settle_error("co-signed transaction has no signature"))
}

pub(super) fn duplicate(proof: Option<&str>) -> Rejection {
    Rejection::duplicate(
        "this transaction was settled before; its proof is in extensions.paytab.proof",
        proof,
    )
}

pub(super) fn failed_before() -> Rejection {
    Rejection::new(
        "transaction_failed",
        "this transaction failed before; nothing was charged",
    )
}

pub(super) fn failed_on_chain(error: &str) -> Rejection {
    Rejection::new(
        "transaction_failed",
        format!("the transaction failed on chain: {error}; nothing was charged"),
    )
}

pub(super) fn rule_rejection(error: super::rules::ExactRuleError) -> Rejection {
    Rejection::new(error.reason(), error.to_string())
}
