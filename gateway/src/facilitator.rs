//! The gateway's calls to its facilitator: `/supported`, `/verify`,
//! `/settle` and (paytab's own) `/keys`, with their answers sorted into what
//! the paywall must do next.

use std::collections::HashMap;
use std::time::Duration;

use paytab_protocol::keys::{KeySet, PublishedKey};
use paytab_protocol::networks::normalise_network;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use solana_pubkey::Pubkey;

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

/// One kind of payment a facilitator serves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupportedKind {
    /// x402 version.
    pub x402_version: u64,
    /// Scheme, e.g. `exact`.
    pub scheme: String,
    /// Network (CAIP-2 after [`Supported::parse`]).
    pub network: String,
    /// Scheme-specific terms, e.g. `feePayer`.
    #[serde(default)]
    pub extra: Value,
}

/// What a facilitator serves: `GET /supported`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Supported {
    /// Kinds of payment.
    #[serde(default)]
    pub kinds: Vec<SupportedKind>,
    /// Signing addresses by network pattern (e.g. `solana:*`).
    #[serde(default)]
    pub signers: HashMap<String, Vec<String>>,
}

impl Supported {
    /// Reads a `/supported` answer, naming networks by their CAIP-2 ids.
    pub fn parse(answer: Value) -> Result<Self, String> {
        let mut supported: Self =
            serde_json::from_value(answer).map_err(|error| error.to_string())?;
        for kind in &mut supported.kinds {
            kind.network = normalise_network(&kind.network);
        }
        Ok(supported)
    }

    /// The kind of `scheme` on `network` for x402 `version`.
    pub fn kind(&self, version: u64, scheme: &str, network: &str) -> Option<&SupportedKind> {
        self.kinds.iter().find(|kind| {
            kind.x402_version == version && kind.scheme == scheme && kind.network == network
        })
    }

    /// The Solana networks served for x402 `version`, in the order listed.
    pub fn solana_networks(&self, version: u64) -> Vec<String> {
        let mut networks: Vec<String> = Vec::new();
        for kind in &self.kinds {
            if kind.x402_version == version
                && kind.network.starts_with("solana:")
                && !networks.contains(&kind.network)
            {
                networks.push(kind.network.clone());
            }
        }
        networks
    }

    /// Whether `key` is one of the facilitator's signers on `network`.
    pub fn signs_with(&self, network: &str, key: &Pubkey) -> bool {
        let key = key.to_string();
        [network, "solana:*"].iter().any(|pattern| {
            self.signers
                .get(*pattern)
                .is_some_and(|signers| signers.contains(&key))
        })
    }
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

    /// `GET /supported`.
    pub async fn supported(&self) -> Result<Supported, FacilitatorError> {
        let answer = self
            .get("/supported")
            .await?
            .ok_or_else(|| FacilitatorError::NotDone("GET /supported answered 404".into()))?;
        Supported::parse(answer)
            .map_err(|error| FacilitatorError::NotDone(format!("GET /supported: {error}")))
    }

    /// `GET /keys` (paytab's proof keys), as a key set; `None` when the
    /// facilitator has no such endpoint (404: a standard x402 facilitator).
    /// A malformed key is refused, not skipped.
    pub async fn keys(&self) -> Result<Option<KeySet>, FacilitatorError> {
        let Some(answer) = self.get("/keys").await? else {
            return Ok(None);
        };
        let published: Vec<PublishedKey> = serde_json::from_value(answer["keys"].clone())
            .map_err(|error| FacilitatorError::NotDone(format!("GET /keys: {error}")))?;
        let mut keys = KeySet::default();
        for key in &published {
            keys.insert_published(key)
                .map_err(|error| FacilitatorError::NotDone(format!("GET /keys: {error}")))?;
        }
        Ok(Some(keys))
    }

    /// A GET answering JSON; `None` on 404.
    async fn get(&self, path: &str) -> Result<Option<Value>, FacilitatorError> {
        let not_done = |error: reqwest::Error| {
            FacilitatorError::NotDone(format!("GET {path}: {}", error.without_url()))
        };
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(not_done)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = response
            .error_for_status()
            .map_err(not_done)?
            .json()
            .await
            .map_err(not_done)?;
        Ok(Some(answer))
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
