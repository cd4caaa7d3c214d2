//! Serving a paid answer: the standard path's settlement after the upstream
//! answered, the proof it returned checked here and its id reserved fresh,
//! then the identities used up and the answer sent with the settlement
//! headers of its protocol. Anything else releases the payment and says
//! whether it was charged.
//!
//! A standard x402 facilitator returns no proof: its `success: true` is
//! taken as the proof, and the payment itself (not only its proof) is used
//! up, so it can buy no second answer (nor recover a lost one).

use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response};
use paytab_protocol::clock::unix_now;
use paytab_protocol::proof::{Proof, Settlement};
use serde_json::Value;

use super::respond::{response_header, with_header, V2_RESPONSE};
use super::{Identities, Paying, Paywall, Refusal, Reply};
use crate::{identity, mpp};

/// How long a payment settled without a proof stays used, seconds: far
/// beyond the life of the transaction's blockhash, after which it cannot be
/// settled again anyway.
const SETTLED_WITHOUT_PROOF_USED_FOR: i64 = 24 * 60 * 60;

/// What paid for an answer, as the answer's headers name it.
pub(super) struct Paid {
    /// A transaction signature, or `allowance:cumulative`.
    reference: String,
    /// CAIP-2 network.
    network: String,
    /// Who paid, if known.
    payer: Option<String>,
    /// Until when what paid stays used (unix seconds).
    used_until: i64,
}

/// The x402 `SettlementResponse` of an answer paid without a facilitator's
/// answer at hand (a proof).
#[derive(serde::Serialize)]
struct Settled<'a> {
    success: bool,
    transaction: &'a str,
    network: &'a str,
    payer: Option<&'a str>,
}

impl Paid {
    /// Paid by a checked proof.
    pub(super) fn by_proof(proof: &Proof) -> Self {
        Self {
            reference: settlement_reference(&proof.settlement),
            network: proof.network.clone(),
            payer: Some(proof.payer.to_string()),
            used_until: proof.expires_at,
        }
    }

    /// Paid by a settlement a facilitator reported without a proof.
    fn by_settlement(answer: &Value, network: &str, now: i64) -> Option<Self> {
        let reference = answer["transaction"]
            .as_str()
            .filter(|reference| !reference.is_empty())?;
        Some(Self {
            reference: reference.to_string(),
            network: answer["network"].as_str().unwrap_or(network).to_string(),
            payer: answer["payer"].as_str().map(str::to_string),
            used_until: now.saturating_add(SETTLED_WITHOUT_PROOF_USED_FOR),
        })
    }
}

impl Paywall {
    /// Settles a verified payment and serves the answer if, and only if, its
    /// proof's id was never used.
    pub(super) async fn settle_and_serve(
        &self,
        pending: Paying,
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
        if !self.issues_proofs {
            return self.serve_without_proof(pending, answer, response).await;
        }
        let Some(proof) = token.and_then(|token| {
            self.check_proof(&token, pending.sold.price, pending.binding, unix_now())
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
        self.serve(&pending, &ids, &Paid::by_proof(&proof), answer, response)
            .await
    }

    /// A settlement by a facilitator that issues no proofs: the payment and
    /// its transaction are used up with the answer. A settlement reported
    /// before (`duplicate_settlement`) buys nothing here.
    async fn serve_without_proof(
        &self,
        pending: Paying,
        answer: Option<Value>,
        response: Response<Body>,
    ) -> Response<Body> {
        let now = unix_now();
        let Some(paid) = answer
            .as_ref()
            .and_then(|answer| Paid::by_settlement(answer, &self.terms.network, now))
        else {
            self.release(&pending.ids).await;
            return self.refuse_after_upstream(&pending, &Refusal::AlreadyUsed(None));
        };
        let mut ids = pending.ids.clone();
        let settled = identity::settlement(&paid.reference);
        if let Err(refusal) = self.reserve_ids(&[settled], now).await {
            self.release(&pending.ids).await;
            return self.refuse_after_upstream(&pending, &refusal);
        }
        ids.spent.append(&mut ids.held);
        ids.spent.push(settled);
        self.serve(&pending, &ids, &paid, answer, response).await
    }

    /// Uses up what paid for a request (its proof, an MPP challenge), then
    /// hands out its answer with the settlement headers of its protocol.
    pub(super) async fn serve(
        &self,
        paying: &Paying,
        ids: &Identities,
        paid: &Paid,
        answer: Option<Value>,
        response: Response<Body>,
    ) -> Response<Body> {
        let reply = paying.reply;
        if let Err(error) = self.reservations.consume(&ids.spent, paid.used_until).await {
            tracing::error!(%error, "a used payment could not be recorded; the answer is withheld");
            self.release(ids).await;
            let refusal = match reply {
                Reply::Proof => Refusal::Unavailable("the proof could not be recorded as used"),
                _ => Refusal::OutcomeUnknown,
            };
            return self.refuse_after_upstream(paying, &refusal);
        }
        if let Err(error) = self.reservations.release(&ids.held).await {
            tracing::warn!(%error, "could not release a reservation");
        }
        let reference = &paid.reference;
        match reply {
            Reply::Mpp => {
                let mut response = response;
                let challenge_id = paying.challenge_id.as_deref().unwrap_or_default();
                if let Ok(value) =
                    HeaderValue::from_str(&mpp::receipt(reference, challenge_id, unix_now()))
                {
                    response.headers_mut().insert(mpp::RECEIPT_HEADER, value);
                }
                response
            }
            Reply::Proof | Reply::X402(_) => {
                let header_name = match reply {
                    Reply::X402(version) => response_header(version),
                    _ => V2_RESPONSE,
                };
                match &answer {
                    Some(settled) => with_header(response, header_name, settled),
                    None => with_header(
                        response,
                        header_name,
                        &Settled {
                            success: true,
                            transaction: reference,
                            network: &paid.network,
                            payer: paid.payer.as_deref(),
                        },
                    ),
                }
            }
        }
    }

    /// The refusal sent instead of an upstream answer that was not paid
    /// for, in the payment's protocol with fresh challenges.
    fn refuse_after_upstream(&self, paying: &Paying, refusal: &Refusal) -> Response<Body> {
        let priced = paying.sold.priced(&self.terms);
        let challenges = self.challenges(&priced, unix_now());
        match paying.reply {
            Reply::Mpp => refusal.mpp(&challenges),
            reply => refusal.x402(&challenges, &HeaderMap::new(), reply),
        }
    }
}

/// The settlement a proof names: a transaction signature, or `allowance:cumulative`.
fn settlement_reference(settlement: &Settlement) -> String {
    match settlement {
        Settlement::Transaction(signature) => bs58::encode(signature).into_string(),
        Settlement::Receipt {
            allowance,
            cumulative,
        } => {
            let mut reference = String::with_capacity(64);
            let _ = write!(reference, "{allowance}:{cumulative}");
            reference
        }
    }
}
