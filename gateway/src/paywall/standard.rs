//! The standard path: an x402 payment (`PAYMENT-SIGNATURE` / `X-PAYMENT`) or
//! an MPP credential, reserved by its identities and verified by the
//! facilitator before the upstream runs.

use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab_protocol::proof::Binding;
use serde_json::{json, Value};

use super::{problem, Finish, Gate, Identities, Paying, Paywall, Pending, Refusal, Reply, Sold};
use crate::challenge::ChargeMode;
use crate::challenge::{self, Priced};
use crate::config::PayScheme;
use crate::facilitator::Verdict;
use crate::identity;
use crate::mpp::{self, ChargePayload, MppRefusal};

/// Largest payment header accepted, bytes.
const MAX_PAYMENT_HEADER: usize = 16 * 1024;

/// What a verified payment is checked against.
struct Checked<'a> {
    ids: Identities,
    body: Value,
    reply: Reply,
    binding: Binding,
    priced: &'a Priced<'a>,
    challenge_id: Option<String>,
}

impl Paywall {
    /// An x402 payment of `version`.
    pub(super) async fn admit_x402(
        &self,
        encoded: &str,
        version: u8,
        priced: &Priced<'_>,
        method: &str,
        headers: &HeaderMap,
        now: i64,
    ) -> Gate {
        let malformed = |reason: &str| {
            Gate::Stop(problem(
                StatusCode::BAD_REQUEST,
                "malformed_payment",
                reason,
            ))
        };
        let payload = match decode_payment_header(encoded, version) {
            Ok(payload) => payload,
            Err(reason) => return malformed(&reason),
        };
        let challenges = self.challenges(priced, now);
        let Some(requirement) = matching_requirement(&payload, version, priced) else {
            return Gate::Stop(
                Refusal::refused(
                    "invalid_payment_requirements",
                    "the payment does not match any option this route offers",
                )
                .x402(&challenges, headers, Reply::X402(version)),
            );
        };
        let scheme = requirement["scheme"].as_str().unwrap_or_default();
        let ids = match identity::of_x402(scheme, &payload["payload"]) {
            Ok(ids) => ids,
            Err(reason) => return malformed(&reason),
        };
        let body = json!({
            "x402Version": version,
            "paymentPayload": payload,
            "paymentRequirements": requirement,
            "paytab": {"method": method, "url": priced.url},
        });
        let checked = Checked {
            ids: Identities {
                held: ids,
                spent: Vec::new(),
            },
            body,
            reply: Reply::X402(version),
            binding: Binding::request(method, priced.url),
            priced,
            challenge_id: None,
        };
        match self.verify_reserved(checked, now).await {
            Ok(pending) => Gate::Pass(Some(pending)),
            Err(refusal) => Gate::Stop(refusal.x402(&challenges, headers, Reply::X402(version))),
        }
    }

    /// An MPP credential answering one of this gateway's charge challenges.
    pub(super) async fn admit_mpp(
        &self,
        authorization: &str,
        priced: &Priced<'_>,
        now: i64,
    ) -> Gate {
        let challenges = self.challenges(priced, now);
        let refused = |refusal: MppRefusal| Gate::Stop(challenges.mpp_refusal(&refusal));
        let credential = match mpp::parse_credential(authorization) {
            Ok(credential) => credential,
            Err(refusal) => return refused(refusal),
        };
        if !priced.terms.schemes.contains(&PayScheme::Mpp) {
            return refused(MppRefusal::MethodUnsupported(
                "this route does not take MPP payments".into(),
            ));
        }
        let mode =
            match mpp::check_challenge(&credential, priced, &self.public_url, &self.secret, now) {
                Ok(mode) => mode,
                Err(refusal) => return refused(refusal),
            };
        if mode != ChargeMode::FacilitatorPays && !self.terms.settles_charges {
            return refused(MppRefusal::InvalidChallenge(
                "this gateway no longer takes client-paid charges; answer a fresh challenge".into(),
            ));
        }
        let payment = match &credential.payload {
            ChargePayload::Transaction(transaction) => identity::transaction(transaction),
            ChargePayload::Signature(signature) => Ok(identity::settlement(signature)),
        };
        let payment = match payment {
            Ok(id) => id,
            Err(reason) => return refused(MppRefusal::Malformed(reason)),
        };
        let checked = Checked {
            // Each MPP challenge is single-use: answered, it is used up.
            ids: Identities {
                held: vec![payment],
                spent: vec![identity::mpp_challenge(&credential.challenge.id)],
            },
            body: mpp::facilitator_body(&credential, &mode, priced, self.terms.settles_charges),
            reply: Reply::Mpp,
            binding: Binding::challenge(&credential.challenge.id),
            priced,
            challenge_id: Some(credential.challenge.id.clone()),
        };
        match self.verify_reserved(checked, now).await {
            Ok(pending) => Gate::Pass(Some(pending)),
            Err(refusal) => Gate::Stop(refusal.mpp(&challenges)),
        }
    }

    /// Reserves the payment's identities, then asks the facilitator. A
    /// payment settled before is taken on with the proof issued then, if that
    /// proof never bought an answer.
    async fn verify_reserved(&self, checked: Checked<'_>, now: i64) -> Result<Pending, Refusal> {
        let Checked {
            mut ids,
            body,
            reply,
            binding,
            priced,
            challenge_id,
        } = checked;
        self.reserve(&ids, now).await?;
        let verdict = match self.facilitator.verify(&body).await {
            Ok(verdict) => verdict,
            Err(error) => {
                tracing::warn!(%error, "verification not done");
                self.release(&ids).await;
                return Err(Refusal::Unavailable("the payment could not be checked"));
            }
        };
        let finish = match verdict {
            Verdict::Valid => Finish::Settle { body },
            Verdict::Duplicate {
                proof: Some(token),
                extensions,
            } => {
                // Settled before: its answer is recovered once, with the proof issued then.
                let spent = match self.check_proof(&token, priced.price, binding, now) {
                    Ok(proof) => self
                        .spend_proof(&mut ids, &proof, now)
                        .await
                        .map(|()| proof),
                    Err(refusal) => {
                        tracing::debug!(%refusal, "a settled payment's proof does not pay for this request");
                        Err(Refusal::AlreadyUsed(None))
                    }
                };
                match spent {
                    Ok(proof) => Finish::Proof(Box::new(proof)),
                    Err(refusal) => {
                        self.release(&ids).await;
                        return Err(match refusal {
                            // e.g. `paytab.acceptedCumulative`, for a client to resync its receipts.
                            Refusal::AlreadyUsed(_) => Refusal::AlreadyUsed(extensions),
                            other => other,
                        });
                    }
                }
            }
            Verdict::Duplicate { proof: None, .. } => {
                self.release(&ids).await;
                return Err(Refusal::InFlight);
            }
            Verdict::Invalid {
                reason,
                message,
                extensions,
            } => {
                self.release(&ids).await;
                return Err(Refusal::Refused {
                    code: reason,
                    message,
                    extensions,
                });
            }
        };
        Ok(Pending {
            finish,
            paying: Paying {
                ids,
                reply,
                binding,
                sold: Sold::of(priced),
                challenge_id,
            },
        })
    }
}

/// Decodes a `PAYMENT-SIGNATURE` / `X-PAYMENT` header: base64 of a JSON object
/// whose `x402Version` is `version`.
pub fn decode_payment_header(encoded: &str, version: u8) -> Result<Value, String> {
    if encoded.len() > MAX_PAYMENT_HEADER {
        return Err(format!(
            "payment header longer than {MAX_PAYMENT_HEADER} bytes"
        ));
    }
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "payment header is not base64".to_string())?;
    let payload: Value = serde_json::from_slice(&bytes)
        .map_err(|_| "payment header is not base64 of JSON".to_string())?;
    if !payload.is_object() {
        return Err("payment header must hold a JSON object".into());
    }
    if payload["x402Version"].as_u64() != Some(u64::from(version)) {
        return Err(format!("payment header must carry x402Version {version}"));
    }
    if !payload["payload"].is_object() {
        return Err("payment header lacks a payload object".into());
    }
    Ok(payload)
}

/// The requirement of this route the payment chose: v2 echoes it in
/// `accepted`; v1 names its scheme and network.
fn matching_requirement(payload: &Value, version: u8, priced: &Priced) -> Option<Value> {
    if version == 2 {
        let accepted = &payload["accepted"];
        return challenge::requirements_v2(priced)
            .into_iter()
            .find(|offered| offered == accepted);
    }
    let body = challenge::v1_body(priced, "");
    body["accepts"]
        .as_array()?
        .iter()
        .find(|offered| {
            offered["scheme"] == payload["scheme"] && offered["network"] == payload["network"]
        })
        .cloned()
}
