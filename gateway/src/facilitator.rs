//! The gateway's calls to its facilitator: `/verify`, `/settle` and `/keys`,
//! with their answers sorted into what the paywall must do next.

use std::time::Duration;

use paytab_protocol::keys::{KeySet, PublishedKey};
use reqwest::StatusCode;
use serde_json::Value;

/// The facilitator's reason for a payment it has settled before.
pub const DUPLICATE: &str = "duplicate_settlement";

/// A call that did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum FacilitatorError {
    /// Nothing was done: the facilitator was not reached, or said it did nothing.
    #[error("facilitator unavailable: {0}")]
    NotDone(String),
    /// The request may have been acted on, but its outcome is unknown.
    #[error("facilitator outcome unknown: {0}")]
    Unknown(String),
}

/// The facilitator's judgement of a payment (`/verify`).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It may be settled.
    Valid,
    /// It was settled before; `proof` is the proof issued then, if any.
    Duplicate {
        /// The stored proof.
        proof: Option<String>,
        /// `extensions` of the answer (for escrow, where the count stands).
        extensions: Option<Value>,
    },
    /// It is refused.
    Invalid {
        /// x402 reason code.
        reason: String,
        /// Human-readable detail.
        message: String,
        /// `extensions` of the answer (e.g. `paytab.acceptedCumulative`).
        extensions: Option<Value>,
    },
}

/// The facilitator's answer to `/settle`.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Settled now.
    Settled {
        /// The whole `SettlementResponse`.
        answer: Value,
        /// The proof of this settlement.
        proof: Option<String>,
    },
    /// Settled before; `proof` is the proof issued then, if any.
    Duplicate {
        /// The stored proof.
        proof: Option<String>,
    },
    /// Refused: nothing was charged.
    Refused {
        /// x402 reason code.
        reason: String,
        /// Human-readable detail.
        message: String,
    },
}

/// A facilitator at one base URL.
#[derive(Debug, Clone)]
pub struct FacilitatorClient {
    base: String,
    http: reqwest::Client,
    api_key: Option<String>,
}

impl FacilitatorClient {
    /// A client for `base` (no trailing slash) with a per-call `timeout`,
    /// presenting `api_key` as a bearer token when given.
    pub fn new(
        base: &str,
        timeout: Duration,
        api_key: Option<String>,
    ) -> Result<Self, FacilitatorError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| FacilitatorError::NotDone(error.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            api_key,
        })
    }

    /// `POST /verify`. Every failure is [`FacilitatorError::NotDone`]: verifying charges nothing.
    pub async fn verify(&self, body: &Value) -> Result<Verdict, FacilitatorError> {
        let answer = self
            .post("/verify", body)
            .await
            .map_err(|error| match error {
                FacilitatorError::Unknown(message) => FacilitatorError::NotDone(message),
                not_done => not_done,
            })?;
        if answer["isValid"] == true {
            return Ok(Verdict::Valid);
        }
        let reason = text(&answer["invalidReason"], "invalid_payment");
        let extensions = answer
            .get("extensions")
            .filter(|extensions| extensions.is_object())
            .cloned();
        if reason == DUPLICATE {
            return Ok(Verdict::Duplicate {
                proof: proof_of(&answer),
                extensions,
            });
        }
        Ok(Verdict::Invalid {
            message: text(
                &answer["invalidMessage"],
                "the facilitator refused the payment",
            ),
            reason,
            extensions,
        })
    }

    /// `POST /settle`.
    pub async fn settle(&self, body: &Value) -> Result<Settlement, FacilitatorError> {
        let answer = self.post("/settle", body).await?;
        if answer["success"] == true {
            return Ok(Settlement::Settled {
                proof: proof_of(&answer),
                answer,
            });
        }
        let reason = text(&answer["errorReason"], "settlement_refused");
        if reason == DUPLICATE {
            return Ok(Settlement::Duplicate {
                proof: proof_of(&answer),
            });
        }
        Ok(Settlement::Refused {
            message: text(&answer["errorMessage"], &reason),
            reason,
        })
    }

    /// `GET /keys`, as a key set; a malformed key is refused, not skipped.
    pub async fn keys(&self) -> Result<KeySet, FacilitatorError> {
        let answer: Value = self
            .http
            .get(format!("{}/keys", self.base))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| FacilitatorError::NotDone(error.to_string()))?
            .json()
            .await
            .map_err(|error| FacilitatorError::NotDone(error.to_string()))?;
        let published: Vec<PublishedKey> = serde_json::from_value(answer["keys"].clone())
            .map_err(|error| FacilitatorError::NotDone(error.to_string()))?;
        let mut keys = KeySet::default();
        for key in &published {
            keys.insert_published(key)
                .map_err(|error| FacilitatorError::NotDone(error.to_string()))?;
        }
        Ok(keys)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, FacilitatorError> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|error| {
            // Not even connected: the request was never sent.
            let connect = error.is_connect();
            let message = error.without_url().to_string();
            if connect {
                FacilitatorError::NotDone(message)
            } else {
                FacilitatorError::Unknown(message)
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            let message = format!("{path} answered {status}: {}", truncate(&detail));
            // 4xx: refused before anything was done; 503: the facilitator says
            // it did nothing. Any other 5xx leaves the outcome unknown.
            return Err(
                if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
                    FacilitatorError::NotDone(message)
                } else {
                    FacilitatorError::Unknown(message)
                },
            );
        }
        response
            .json()
            .await
            .map_err(|error| FacilitatorError::Unknown(format!("{path}: {}", error.without_url())))
    }
}

fn text(value: &Value, default: &str) -> String {
    value.as_str().unwrap_or(default).to_string()
}

/// The proof an answer carries in `extensions.paytab.proof`.
fn proof_of(answer: &Value) -> Option<String> {
    answer["extensions"]["paytab"]["proof"]
        .as_str()
        .map(str::to_string)
}

fn truncate(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(200)
        .map_or(text.len(), |(index, _)| index);
    &text[..end]
}
