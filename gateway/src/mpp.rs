//! MPP credentials: `Authorization: Payment <base64url JSON>` answering one of
//! this gateway's Solana `charge` challenges.
//!
//! Two challenges are offered (ADR 0017). In one the facilitator pays the
//! fees (`feePayer: true`): the credential carries the payer-signed
//! transaction (`type: "transaction"`, pull). In the other the client pays
//! them: the credential carries its fully signed transaction, or the
//! signature of one it already sent (`type: "signature"`, push), whose memo
//! is the challenge's `externalId`. A paytab facilitator judges either by the
//! draft's instruction allow-list (`paytab-mpp-charge`); a standard one only
//! the first, as an x402 `exact` payment. The proof is bound to the challenge
//! id; the paid response carries `Payment-Receipt` naming the challenge.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Response, StatusCode};
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab_protocol::clock::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};

use crate::challenge::{self, ChargeMode, MppChallenge, Priced};

/// The MPP receipt header on a paid response.
pub const RECEIPT_HEADER: &str = "payment-receipt";
/// Where MPP problem types live.
const PROBLEM_BASE: &str = "https://paymentauth.org/problems/";
/// The facilitator-side scheme of an MPP Solana charge (a paytab extension).
pub const CHARGE_SCHEME: &str = "paytab-mpp-charge";
/// Largest credential accepted, bytes of header value.
const MAX_CREDENTIAL_LEN: usize = 16 * 1024;

/// What a Solana `charge` credential pays with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargePayload {
    /// Base64 of the signed transaction, for the facilitator to send (pull).
    Transaction(String),
    /// Base58 signature of a transaction the client sent (push).
    Signature(String),
}

/// A credential for a Solana `charge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppCredential {
    /// The challenge it answers, as echoed.
    pub challenge: MppChallenge,
    /// The payer, if the client named it.
    pub source: Option<String>,
    /// The payment.
    pub payload: ChargePayload,
}

/// Why a credential was refused; each is an MPP problem type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MppRefusal {
    /// The header is not a credential.
    #[error("{0}")]
    Malformed(String),
    /// The echoed challenge was not issued here, or for other terms.
    #[error("{0}")]
    InvalidChallenge(String),
    /// The challenge has expired.
    #[error("the challenge expired at {0}; request the resource again for a new one")]
    Expired(String),
    /// Another method, intent or payload type than this gateway takes.
    #[error("{0}")]
    MethodUnsupported(String),
    /// The facilitator refused the payment.
    #[error("{0}")]
    VerificationFailed(String),
}

impl MppRefusal {
    /// The problem type's last path segment.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-credential",
            Self::InvalidChallenge(_) => "invalid-challenge",
            Self::Expired(_) => "payment-expired",
            Self::MethodUnsupported(_) => "method-unsupported",
            Self::VerificationFailed(_) => "verification-failed",
        }
    }

    /// 400 for a method this gateway does not take, 402 otherwise (a
    /// malformed credential too); every answer carries fresh challenges.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodUnsupported(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::PAYMENT_REQUIRED,
        }
    }

    /// The RFC 9457 problem details response.
    pub fn response(&self) -> Response<Body> {
        let status = self.status();
        let body = json!({
            "type": format!("{PROBLEM_BASE}{}", self.problem_type()),
            "title": status.canonical_reason().unwrap_or("Payment Required"),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Parses an `Authorization` value `Payment <base64url JSON>`.
pub fn parse_credential(authorization: &str) -> Result<MppCredential, MppRefusal> {
    let malformed = |reason: &str| MppRefusal::Malformed(reason.to_string());
    if authorization.len() > MAX_CREDENTIAL_LEN {
        return Err(malformed("the credential is longer than 16 KiB"));
    }
    let (scheme, token) = authorization
        .trim()
        .split_once(' ')
        .ok_or_else(|| malformed("expected `Payment <base64url credential>`"))?;
    if !scheme.eq_ignore_ascii_case("payment") {
        return Err(malformed("expected the `Payment` authentication scheme"));
    }
    let token = token.trim();
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .or_else(|_| URL_SAFE.decode(token))
        .map_err(|_| malformed("the credential is not base64url"))?;
    let credential: Value = serde_json::from_slice(&bytes)
        .map_err(|_| malformed("the credential is not base64url of JSON"))?;
    let challenge = &credential["challenge"];
    let field = |name: &str| -> Result<String, MppRefusal> {
        challenge[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed(&format!("challenge.{name} must be a string")))
    };
    let challenge = MppChallenge {
        id: field("id")?,
        realm: field("realm")?,
        method: field("method")?,
        intent: field("intent")?,
        request: field("request")?,
        expires: field("expires")?,
        opaque: match &challenge["opaque"] {
            Value::Null => String::new(),
            Value::String(opaque) => opaque.clone(),
            _ => return Err(malformed("challenge.opaque must be a string")),
        },
    };
    let source = match &credential["source"] {
        Value::Null => None,
        Value::String(source) => Some(source.clone()),
        _ => return Err(malformed("source must be a string")),
    };
    let payload = &credential["payload"];
    let text = |name: &str, what: &str| -> Result<String, MppRefusal> {
        payload[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed(&format!("payload.{name} must be {what}")))
    };
    let payload = match payload["type"].as_str() {
        Some("transaction") => ChargePayload::Transaction(text("transaction", "a base64 string")?),
        Some("signature") => ChargePayload::Signature(text("signature", "a base58 string")?),
        Some(other) => {
            return Err(MppRefusal::MethodUnsupported(format!(
                "payload type \"{other}\" is not a Solana charge payload"
            )))
        }
        None => return Err(malformed("payload.type must be a string")),
    };
    Ok(MppCredential {
        challenge,
        source,
        payload,
    })
}

/// Checks that the credential answers a challenge this gateway issued for
/// this route's terms (`priced`), under `secret`, and that it has not
/// expired; returns the challenge's mode.
pub fn check_challenge(
    credential: &MppCredential,
    priced: &Priced,
    realm: &str,
    secret: &[u8],
    now: i64,
) -> Result<ChargeMode, MppRefusal> {
    let challenge = &credential.challenge;
    if challenge.method != "solana" || challenge.intent != "charge" {
        return Err(MppRefusal::MethodUnsupported(format!(
            "this gateway takes method \"solana\" with intent \"charge\", not \"{}\" / \"{}\"",
            challenge.method, challenge.intent
        )));
    }
    if !challenge.is_authentic(secret) {
        return Err(MppRefusal::InvalidChallenge(
            "the challenge id was not issued by this gateway for these parameters".into(),
        ));
    }
    let mode = ChargeMode::of_request(&challenge.request).ok_or_else(|| {
        MppRefusal::InvalidChallenge("the challenge's request is not a charge request".into())
    })?;
    if challenge.realm != realm
        || challenge.request != challenge::mpp_request_parameter(priced, &mode)
    {
        return Err(MppRefusal::InvalidChallenge(
            "the challenge was issued for other terms than this route's".into(),
        ));
    }
    let expires = parse_rfc3339(&challenge.expires)
        .ok_or_else(|| MppRefusal::InvalidChallenge("challenge.expires is not RFC 3339".into()))?;
    if now >= expires {
        return Err(MppRefusal::Expired(challenge.expires.clone()));
    }
    if mode == ChargeMode::FacilitatorPays
        && matches!(credential.payload, ChargePayload::Signature(_))
    {
        return Err(MppRefusal::VerificationFailed(
            "this challenge's fees are paid by the server (feePayer): send the signed transaction \
             (payload type \"transaction\"), not the signature of one already sent"
                .into(),
        ));
    }
    Ok(mode)
}

/// The facilitator `verify`/`settle` body for `credential` in `mode`, its
/// proof bound to the challenge id: a `paytab-mpp-charge` when the
/// facilitator settles charges, else an x402 `exact` payment.
pub fn facilitator_body(
    credential: &MppCredential,
    mode: &ChargeMode,
    priced: &Priced,
    settles_charges: bool,
) -> Value {
    let (requirement, payload) = if settles_charges {
        let mut requirement = challenge::exact_requirement(priced);
        requirement["scheme"] = json!(CHARGE_SCHEME);
        requirement["extra"] = match mode {
            ChargeMode::FacilitatorPays => {
                json!({"feePayer": priced.terms.fee_payer.map(|key| key.to_string())})
            }
            ChargeMode::ClientPays { external_id } => json!({"memo": external_id}),
        };
        let payload = match &credential.payload {
            ChargePayload::Transaction(transaction) => {
                json!({"type": "transaction", "transaction": transaction})
            }
            ChargePayload::Signature(signature) => {
                json!({"type": "signature", "signature": signature})
            }
        };
        (requirement, payload)
    } else {
        let transaction = match &credential.payload {
            ChargePayload::Transaction(transaction) => transaction.as_str(),
            ChargePayload::Signature(_) => "",
        };
        (
            challenge::exact_requirement(priced),
            json!({"transaction": transaction}),
        )
    };
    json!({
        "x402Version": 2,
        "paymentPayload": {
            "x402Version": 2,
            "resource": {"url": priced.url},
            "accepted": requirement,
            "payload": payload,
        },
        "paymentRequirements": requirement,
        "paytab": {"challengeId": credential.challenge.id},
    })
}

/// The `Payment-Receipt` value for a settled charge: base64url JSON.
pub fn receipt(reference: &str, challenge_id: &str, now: i64) -> String {
    let receipt = json!({
        "status": "success",
        "method": "solana",
        "timestamp": rfc3339(now),
        "reference": reference,
        "challengeId": challenge_id,
    });
    URL_SAFE_NO_PAD.encode(receipt.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use paytab_protocol::mpp::ChallengeParams;
    use solana_pubkey::Pubkey;

    use super::*;
    use crate::config::{PayScheme, PaymentTerms};

    const SECRET: &[u8] = b"a secret of at least thirty-two characters";
    const REALM: &str = "https://api.example.com";
    const NOW: i64 = 1_790_000_000;

    fn terms() -> PaymentTerms {
        PaymentTerms::sample(&[PayScheme::Mpp])
    }

    fn priced(terms: &PaymentTerms, price: u64) -> Priced<'_> {
        Priced {
            terms,
            url: "https://api.example.com/v1/quote",
            price,
            description: "A quote",
            mime_type: "application/json",
            bazaar: None,
        }
    }

    fn authorization(challenge: &MppChallenge, payload: Value) -> String {
        ChallengeParams::from(challenge).authorization("payer", &payload)
    }

    fn issued(terms: &PaymentTerms) -> MppChallenge {
        MppChallenge::new(
            &priced(terms, 10_000),
            &ChargeMode::FacilitatorPays,
            REALM,
            SECRET,
            NOW,
            300,
        )
    }

    fn issued_client_paid(terms: &PaymentTerms, mode: &ChargeMode) -> MppChallenge {
        MppChallenge::new(&priced(terms, 10_000), mode, REALM, SECRET, NOW, 300)
    }

    #[test]
    fn a_credential_for_an_issued_challenge_parses_and_checks() {
        let terms = terms();
        let challenge = issued(&terms);
        let header = authorization(
            &challenge,
            json!({"type": "transaction", "transaction": "AQID"}),
        );
        let credential = parse_credential(&header).unwrap();
        assert_eq!(credential.challenge, challenge);
        assert_eq!(
            credential.payload,
            ChargePayload::Transaction("AQID".into())
        );
        assert_eq!(credential.source.as_deref(), Some("payer"));
        let mode = check_challenge(
            &credential,
            &priced(&terms, 10_000),
            REALM,
            SECRET,
            NOW + 10,
        )
        .unwrap();
        assert_eq!(mode, ChargeMode::FacilitatorPays);
    }

    #[test]
    fn a_pushed_signature_answers_a_client_paid_challenge_and_settles_as_a_charge_bound_by_its_memo(
    ) {
        let terms = terms();
        let mode = ChargeMode::client_pays();
        let challenge = issued_client_paid(&terms, &mode);
        let header = authorization(
            &challenge,
            json!({"type": "signature", "signature": "5sig"}),
        );
        let credential = parse_credential(&header).unwrap();
        let checked =
            check_challenge(&credential, &priced(&terms, 10_000), REALM, SECRET, NOW).unwrap();
        assert_eq!(checked, mode);
        let body = facilitator_body(&credential, &checked, &priced(&terms, 10_000), true);
        assert_eq!(body["paymentRequirements"]["scheme"], CHARGE_SCHEME);
        assert_eq!(
            body["paymentRequirements"]["extra"],
            json!({"memo": mode.external_id().unwrap()})
        );
        assert_eq!(
            body["paymentPayload"]["payload"],
            json!({"type": "signature", "signature": "5sig"})
        );
    }

    #[test]
    fn a_pushed_signature_cannot_answer_a_challenge_whose_fees_the_server_pays() {
        let terms = terms();
        let header = authorization(
            &issued(&terms),
            json!({"type": "signature", "signature": "5x"}),
        );
        let credential = parse_credential(&header).unwrap();
        let refusal =
            check_challenge(&credential, &priced(&terms, 10_000), REALM, SECRET, NOW).unwrap_err();
        assert_eq!(refusal.problem_type(), "verification-failed");
        assert!(refusal.to_string().contains("feePayer"));
    }

    #[test]
    fn without_charge_support_the_facilitator_body_is_an_exact_payment_bound_to_the_challenge() {
        let terms = terms();
        let challenge = issued(&terms);
        let header = authorization(
            &challenge,
            json!({"type": "transaction", "transaction": "AQID"}),
        );
        let credential = parse_credential(&header).unwrap();
        let body = facilitator_body(
            &credential,
            &ChargeMode::FacilitatorPays,
            &priced(&terms, 10_000),
            false,
        );
        assert_eq!(body["paymentRequirements"]["scheme"], "exact");
        assert_eq!(body["paymentRequirements"]["amount"], "10000");
        assert_eq!(
            body["paymentRequirements"]["extra"]["feePayer"],
            Pubkey::new_from_array([9; 32]).to_string()
        );
        assert_eq!(
            body["paymentPayload"]["accepted"],
            body["paymentRequirements"]
        );
        assert_eq!(body["paytab"]["challengeId"], challenge.id.as_str());
    }

    #[test]
    fn a_forged_expired_or_foreign_challenge_is_refused_with_its_problem_type() {
        let terms = terms();
        let challenge = issued(&terms);
        let transaction = json!({"type": "transaction", "transaction": "AQID"});

        let mut forged = challenge.clone();
        forged.request = URL_SAFE_NO_PAD.encode(r#"{"amount":"1"}"#);
        let credential = parse_credential(&authorization(&forged, transaction.clone())).unwrap();
        let refusal =
            check_challenge(&credential, &priced(&terms, 10_000), REALM, SECRET, NOW).unwrap_err();
        assert_eq!(refusal.problem_type(), "invalid-challenge");

        let credential = parse_credential(&authorization(&challenge, transaction)).unwrap();
        let refusal = check_challenge(
            &credential,
            &priced(&terms, 10_000),
            REALM,
            SECRET,
            NOW + 300,
        )
        .unwrap_err();
        assert_eq!(refusal.problem_type(), "payment-expired");

        let refusal =
            check_challenge(&credential, &priced(&terms, 20_000), REALM, SECRET, NOW).unwrap_err();
        assert_eq!(
            refusal.problem_type(),
            "invalid-challenge",
            "another route's price"
        );

        let refusal = check_challenge(
            &credential,
            &priced(&terms, 10_000),
            REALM,
            b"another secret",
            NOW,
        )
        .unwrap_err();
        assert_eq!(refusal.problem_type(), "invalid-challenge");
    }

    #[test]
    fn malformed_credentials_get_402_and_a_reason() {
        let terms = terms();
        let challenge = issued(&terms);
        for header in [
            "Payment".to_string(),
            "Bearer abc".to_string(),
            "Payment !!!".to_string(),
            format!("Payment {}", URL_SAFE_NO_PAD.encode("not json")),
            format!("Payment {}", URL_SAFE_NO_PAD.encode(r#"{"challenge":{}}"#)),
            authorization(&challenge, json!({"transaction": "AQID"})),
            authorization(&challenge, json!({"type": "transaction", "transaction": 7})),
            format!("Payment {}", "A".repeat(17 * 1024)),
        ] {
            let refusal = parse_credential(&header).unwrap_err();
            assert_eq!(
                refusal.status(),
                StatusCode::PAYMENT_REQUIRED,
                "{header:.60}: {refusal}"
            );
            assert_eq!(refusal.problem_type(), "malformed-credential");
        }
    }

    #[test]
    fn the_receipt_is_base64url_json_naming_the_transaction_and_the_challenge() {
        let decoded: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(receipt("5sig", "ch1", NOW)).unwrap())
                .unwrap();
        assert_eq!(
            decoded,
            json!({"status": "success", "method": "solana", "timestamp": "2026-09-21T14:13:20Z", "reference": "5sig", "challengeId": "ch1"})
        );
    }
}
