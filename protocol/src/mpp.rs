//! MPP `Authorization: Payment` credentials: what a client sends to answer a
//! `WWW-Authenticate: Payment` challenge (`docs/protocol.md` §7).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

/// The parameters of an MPP challenge, echoed verbatim in a credential.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ChallengeParams {
    /// Challenge id.
    pub id: String,
    /// Protection space.
    pub realm: String,
    /// Payment method (`solana`).
    pub method: String,
    /// Intent (`charge`).
    pub intent: String,
    /// base64url of the request JSON.
    pub request: String,
    /// RFC 3339 expiry, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Server correlation data, if given (returned unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque: Option<String>,
}

impl ChallengeParams {
    /// The `Authorization` value `Payment <base64url JSON>` answering this
    /// challenge from `source` with `payload` (for a Solana charge,
    /// `{"type": "transaction", "transaction": <base64>}`).
    pub fn authorization(&self, source: &str, payload: &Value) -> String {
        let credential = json!({"challenge": self, "source": source, "payload": payload});
        format!("Payment {}", URL_SAFE_NO_PAD.encode(credential.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_echoes_the_challenge_and_omits_an_absent_expiry() {
        let params = ChallengeParams {
            id: "id".into(),
            realm: "https://api.example.com".into(),
            method: "solana".into(),
            intent: "charge".into(),
            request: "e30".into(),
            expires: None,
            opaque: None,
        };
        let header = params.authorization("payer", &json!({"type": "transaction"}));
        let token = header.strip_prefix("Payment ").unwrap();
        let credential: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap();
        assert_eq!(
            credential,
            json!({
                "challenge": {
                    "id": "id", "realm": "https://api.example.com", "method": "solana",
                    "intent": "charge", "request": "e30",
                },
                "source": "payer",
                "payload": {"type": "transaction"},
            })
        );
    }
}
