//! MPP charges in push mode (`{type: "signature"}`): the client sent and paid
//! for the transaction itself and names its signature. The facilitator reads
//! it from the chain once `confirmed`, checks it as a charge (it must carry
//! the challenge's memo, so no one else's transfer can be presented), and
//! proves it once: the signature is recorded, and every later presentation
//! is a duplicate.

use serde_json::{json, Value};
use solana_rpc_client_api::request::RpcRequest;
use solana_signature::Signature;
use solana_transaction_status_client_types::EncodedConfirmedTransactionWithStatusMeta;

use super::charge::check_charge_transaction;
use super::rules::ExactTransfer;
use super::scheme::{
    duplicate, failed_before, failed_on_chain, rule_rejection, ExactScheme, ExactSettled,
};
use crate::rejection::Rejection;
use crate::store::{TransferRecord, TransferStatus};
use crate::x402::PaymentRequest;

/// Whether a charge payload names a transaction already sent.
pub fn is_pushed(request: &PaymentRequest) -> bool {
    request.payment.payload.get("type").and_then(Value::as_str) == Some("signature")
}

impl ExactScheme {
    /// Checks a pushed charge: confirmed, successful, paying this
    /// requirement, and never settled here before.
    pub async fn verify_pushed(
        &self,
        request: &PaymentRequest,
    ) -> Result<ExactTransfer, Rejection> {
        let signature = pushed_signature(request)?;
        if let Some((TransferStatus::Settled, proof)) = self
            .store
            .transfer(&signature.to_string())
            .await
            .map_err(Rejection::verify_error)?
        {
            return Err(duplicate(proof.as_deref()));
        }
        self.confirmed_charge(request, &signature).await
    }

    /// Settles a pushed charge: the first to record its signature proves it.
    pub async fn settle_pushed(
        &self,
        request: &PaymentRequest,
        now: i64,
    ) -> Result<ExactSettled, Rejection> {
        let signature = pushed_signature(request)?;
        let transfer = self.confirmed_charge(request, &signature).await?;
        let payer = transfer.payer;
        self.store
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
        match self
            .store
            .transfer(&signature.to_string())
            .await
            .map_err(Rejection::settle_error)?
        {
            Some((TransferStatus::Settled, proof)) => Err(duplicate(proof.as_deref())),
            Some((TransferStatus::Failed, _)) => Err(failed_before()),
            // Confirmed on chain: proving it is all that is left, and only
            // one of several concurrent settlements records its proof.
            _ => {
                self.prove(&request.requirement, request, &transfer, &signature, now)
                    .await
            }
        }
        .map_err(|rejection| rejection.with_payer(payer))
    }

    /// The pushed transaction, once confirmed, checked as a charge.
    async fn confirmed_charge(
        &self,
        request: &PaymentRequest,
        signature: &Signature,
    ) -> Result<ExactTransfer, Rejection> {
        let requirement = self.charge_requirement(request)?;
        if requirement.fee_payer.is_some() || requirement.memo.is_none() {
            return Err(Rejection::new(
                "invalid_payment_requirements",
                "a charge sent by the client is paid by it (no extra.feePayer) and bound by extra.memo",
            ));
        }
        let found: Option<EncodedConfirmedTransactionWithStatusMeta> = self
            .rpc
            .send(
                RpcRequest::GetTransaction,
                json!([signature.to_string(), {
                    "encoding": "base64",
                    "commitment": "confirmed",
                    "maxSupportedTransactionVersion": 0,
                }]),
            )
            .await
            .map_err(Rejection::verify_error)?;
        let found = found.ok_or_else(|| {
            Rejection::new(
                "transaction_not_found",
                format!("transaction {signature} is not confirmed; send the credential again once it is"),
            )
        })?;
        if let Some(error) = found
            .transaction
            .meta
            .as_ref()
            .and_then(|meta| meta.err.as_ref())
        {
            return Err(failed_on_chain(&error.to_string()));
        }
        let transaction = found.transaction.transaction.decode().ok_or_else(|| {
            Rejection::verify_error(format!("transaction {signature} could not be decoded"))
        })?;
        if transaction.signatures.first() != Some(signature) {
            return Err(Rejection::new(
                "invalid_payload",
                "the signature is not the transaction's id",
            ));
        }
        check_charge_transaction(&transaction, &requirement, &self.limits_for_client_paid())
            .map_err(rule_rejection)
    }
}

fn pushed_signature(request: &PaymentRequest) -> Result<Signature, Rejection> {
    request
        .payment
        .payload
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            Rejection::new(
                "invalid_payload",
                "payload.signature must be a base58 transaction signature",
            )
        })
}
