//! Serving a paid answer: the standard path's settlement after the upstream
//! answered, the proof it returned checked here and its id reserved fresh,
//! then the identities used up and the answer sent with the settlement
//! headers of its protocol. Anything else releases the payment and says
//! whether it was charged.

use axum::body::Body;
use axum::http::{HeaderValue, Response};
use paytab_protocol::clock::unix_now;
use paytab_protocol::proof::{Binding, Proof, Settlement};
use serde_json::{json, Value};

use super::respond::{not_charged, response_header, with_header, V2_RESPONSE_HEADER};
use super::{Identities, Paywall, Refusal, Reply};
use crate::mpp;

/// A verified standard-path payment waiting for its settlement.
pub(super) struct Settling {
    /// What it reserved.
    pub ids: Identities,
    /// The protocol the answer speaks.
    pub reply: Reply,
    /// What its proof must be bound to.
    pub binding: Binding,
    /// The route's price.
    pub price: u64,
}

impl Paywall {
    /// Settles a verified payment and serves the answer if, and only if, its
    /// proof's id was never used.
    pub(super) async fn settle_and_serve(
        &self,
        pending: Settling,
        body: &Value,
        response: Response<Body>,
    ) -> Response<Body> {
        use crate::facilitator::{FacilitatorError, Settlement};
        let refuse = |refusal: Refusal| self.refuse_after_upstream(&pending, &refusal);
        let (token, answer) = match self.facilitator.settle(body).await {
            Ok(Settlement::Settled { answer, proof }) => (proof, Some(answer)),
            Ok(Settlement::Duplicate { proof }) => (proof, None),
            Ok(Settlement::Refused { reason, message }) => {
                self.release(&pending.ids).await;
                return refuse(Refusal::refused(
                    &reason,
                    format!("the payment did not settle: {message}"),
                ));
            }
            Err(FacilitatorError::NotDone(error)) => {
                tracing::warn!(%error, "settlement not done");
                self.release(&pending.ids).await;
                return refuse(Refusal::Unavailable("the payment could not be settled"));
            }
            Err(FacilitatorError::Unknown(error)) => {
                tracing::warn!(%error, "settlement outcome unknown");
                self.release(&pending.ids).await;
                return refuse(Refusal::OutcomeUnknown);
            }
        };
        let Some(proof) = token.and_then(|token| {
            self.check_proof(&token, pending.price, pending.binding, unix_now())
                .inspect_err(|refusal| tracing::warn!(%refusal, "settlement proof refused"))
                .ok()
        }) else {
            // Settled, but without a proof for this request: the answer stays here.
            self.release(&pending.ids).await;
            return refuse(Refusal::AlreadyUsed(None));
        };
        let mut ids = pending.ids.clone();
        if let Err(refusal) = self.spend_proof(&mut ids, &proof, unix_now()).await {
            self.release(&pending.ids).await;
            return refuse(refusal);
        }
        self.serve(&ids, &proof, pending.reply, answer, response)
            .await
    }

    /// Uses up the proof (and challenge) of a paid request, then hands out
    /// its answer with the settlement headers of its protocol.
    pub(super) async fn serve(
        &self,
        ids: &Identities,
        proof: &Proof,
        reply: Reply,
        answer: Option<Value>,
        response: Response<Body>,
    ) -> Response<Body> {
        if let Err(error) = self
            .reservations
            .consume(&ids.spent, proof.expires_at)
            .await
        {
            tracing::error!(%error, "a used payment could not be recorded; the answer is withheld");
            self.release(ids).await;
            let refusal = match reply {
                Reply::Proof => Refusal::Unavailable("the proof could not be recorded as used"),
                _ => Refusal::OutcomeUnknown,
            };
            return refusal.plain(reply == Reply::Mpp);
        }
        if let Err(error) = self.reservations.release(&ids.held).await {
            tracing::warn!(%error, "could not release a reservation");
        }
        let reference = settlement_reference(&proof.settlement);
        match reply {
            Reply::Mpp => {
                let mut response = response;
                if let Ok(value) = HeaderValue::from_str(&mpp::receipt(&reference, unix_now())) {
                    response.headers_mut().insert(mpp::RECEIPT_HEADER, value);
                }
                response
            }
            Reply::Proof | Reply::X402(_) => {
                let header_name = match reply {
                    Reply::X402(version) => response_header(version),
                    _ => V2_RESPONSE_HEADER,
                };
                let settled = answer.unwrap_or_else(|| {
                    json!({
                        "success": true,
                        "transaction": reference,
                        "network": proof.network,
                        "payer": proof.payer.to_string(),
                    })
                });
                with_header(response, header_name, &settled)
            }
        }
    }

    /// The refusal sent instead of an upstream answer that was not paid for.
    fn refuse_after_upstream(&self, pending: &Settling, refusal: &Refusal) -> Response<Body> {
        let mut response = refusal.plain(pending.reply == Reply::Mpp);
        if let Reply::X402(version) = pending.reply {
            let reason = match refusal {
                Refusal::Refused { code, .. } => code.as_str(),
                Refusal::OutcomeUnknown => "settlement_outcome_unknown",
                Refusal::AlreadyUsed(_) => "duplicate_settlement",
                _ => "settlement_unavailable",
            };
            response = with_header(
                response,
                response_header(version),
                &not_charged(&self.config.terms.network, reason),
            );
        }
        response
    }
}

/// The settlement a proof names: a transaction signature, or `allowance:cumulative`.
fn settlement_reference(settlement: &Settlement) -> String {
    match settlement {
        Settlement::Transaction(signature) => bs58::encode(signature).into_string(),
        Settlement::Receipt {
            allowance,
            cumulative,
        } => format!("{allowance}:{cumulative}"),
    }
}
