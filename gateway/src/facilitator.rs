//! The gateway's calls to its facilitator: `/verify`, `/settle` and `/keys`.

use std::time::Duration;

use paytab_protocol::keys::{KeySet, PublishedKey};
use serde_json::Value;

/// The facilitator could not be asked, or answered nonsense.
#[derive(Debug, thiserror::Error)]
pub enum FacilitatorError {
    /// The request failed (connection, timeout, status).
    #[error("facilitator request failed: {0}")]
    Http(String),
    /// The answer was not what the API promises.
    #[error("facilitator answered unexpectedly: {0}")]
    Answer(String),
}

/// A facilitator at one base URL.
#[derive(Debug, Clone)]
pub struct FacilitatorClient {
    base: String,
    http: reqwest::Client,
}

impl FacilitatorClient {
    /// A client for `base` (no trailing slash) with a per-call `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, FacilitatorError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| FacilitatorError::Http(error.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// `POST /verify`.
    pub async fn verify(&self, body: &Value) -> Result<Value, FacilitatorError> {
        self.post("/verify", body).await
    }

    /// `POST /settle`.
    pub async fn settle(&self, body: &Value) -> Result<Value, FacilitatorError> {
        self.post("/settle", body).await
    }

    /// `GET /keys`, as a key set; a malformed key is refused, not skipped.
    pub async fn keys(&self) -> Result<KeySet, FacilitatorError> {
        let answer: Value = self
            .http
            .get(format!("{}/keys", self.base))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| FacilitatorError::Http(error.to_string()))?
            .json()
            .await
            .map_err(|error| FacilitatorError::Answer(error.to_string()))?;
        let published: Vec<PublishedKey> = serde_json::from_value(answer["keys"].clone())
            .map_err(|error| FacilitatorError::Answer(error.to_string()))?;
        let mut keys = KeySet::default();
        for key in &published {
            keys.insert_published(key)
                .map_err(|error| FacilitatorError::Answer(error.to_string()))?;
        }
        Ok(keys)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, FacilitatorError> {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| FacilitatorError::Http(error.to_string()))?
            .json()
            .await
            .map_err(|error| FacilitatorError::Answer(error.to_string()))
    }
}
