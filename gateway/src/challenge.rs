//! The challenges a 402 carries: x402 v2 (`PAYMENT-REQUIRED`, base64 JSON),
//! an x402 v1 body (`accepts`), and MPP `WWW-Authenticate: Payment` challenges
//! whose ids are HMACs over their parameters, so they need no server state.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use paytab_protocol::clock::rfc3339;
use paytab_protocol::mpp::ChallengeParams;
use paytab_protocol::networks::{mpp_network_name, v1_network_name};
use paytab_protocol::schemes::{self, PAYTAB_PROGRAM_ID};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::config::{PayScheme, PaymentTerms};

/// One priced request to challenge.
#[derive(Debug, Clone)]
pub struct Priced<'a> {
    /// Payment terms.
    pub terms: &'a PaymentTerms,
    /// The absolute URL requested.
    pub url: &'a str,
    /// Raw units.
    pub price: u64,
    /// What is sold.
    pub description: &'a str,
    /// MIME type of the response.
    pub mime_type: &'a str,
    /// The route's x402 bazaar extension, if any.
    pub bazaar: Option<&'a std::sync::Arc<Value>>,
}

fn scheme_name(scheme: PayScheme) -> Option<&'static str> {
    match scheme {
        PayScheme::Escrow => Some(schemes::PAYTAB_ESCROW),
        PayScheme::Exact => Some("exact"),
        PayScheme::Mpp => None,
    }
}

fn extra(terms: &PaymentTerms, scheme: PayScheme) -> Value {
    match scheme {
        PayScheme::Exact => json!({"feePayer": terms.fee_payer.map(|key| key.to_string())}),
        _ => json!({
            "delegate": terms.delegate.map(|key| key.to_string()),
            "programId": PAYTAB_PROGRAM_ID,
        }),
    }
}

/// The x402 v2 requirements, one per accepted x402 scheme, preferred first.
pub fn requirements_v2(priced: &Priced) -> Vec<Value> {
    priced
        .terms
        .schemes
        .iter()
        .filter_map(|scheme| Some(requirement_v2(priced, scheme_name(*scheme)?, *scheme)))
        .collect()
}

/// The x402 v2 `exact` requirement of `priced`, whether or not x402 `exact`
/// is offered: an MPP charge settles as one.
pub fn exact_requirement(priced: &Priced) -> Value {
    requirement_v2(priced, "exact", PayScheme::Exact)
}

fn requirement_v2(priced: &Priced, name: &str, scheme: PayScheme) -> Value {
    let terms = priced.terms;
    json!({
        "scheme": name,
        "network": terms.network,
        "amount": priced.price.to_string(),
        "asset": terms.asset.to_string(),
        "payTo": terms.pay_to.to_string(),
        "maxTimeoutSeconds": terms.max_timeout_seconds,
        "extra": extra(terms, scheme),
    })
}

/// The x402 v2 `PaymentRequired` object.
pub fn payment_required_v2(priced: &Priced, error: &str) -> Value {
    let mut required = json!({
        "x402Version": 2,
        "error": error,
        "resource": {
            "url": priced.url,
            "description": priced.description,
            "mimeType": priced.mime_type,
        },
        "accepts": requirements_v2(priced),
    });
    if let Some(bazaar) = priced.bazaar {
        required["extensions"] = json!({"bazaar": bazaar.as_ref()});
    }
    required
}

/// The `PAYMENT-REQUIRED` header value: base64 of the JSON.
pub fn header_value(payment_required: &Value) -> String {
    STANDARD.encode(payment_required.to_string())
}

/// The x402 v1 body: the same options with v1 field names.
pub fn v1_body(priced: &Priced, error: &str) -> Value {
    let terms = priced.terms;
    let network = v1_network_name(&terms.network).unwrap_or(&terms.network);
    let accepts: Vec<Value> = terms
        .schemes
        .iter()
        .filter_map(|scheme| {
            Some(json!({
                "scheme": scheme_name(*scheme)?,
                "network": network,
                "maxAmountRequired": priced.price.to_string(),
                "resource": priced.url,
                "description": priced.description,
                "mimeType": priced.mime_type,
                "payTo": terms.pay_to.to_string(),
                "maxTimeoutSeconds": terms.max_timeout_seconds,
                "asset": terms.asset.to_string(),
                "extra": extra(terms, *scheme),
            }))
        })
        .collect();
    json!({"x402Version": 1, "error": error, "accepts": accepts})
}

/// The parameters of one MPP challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppChallenge {
    /// HMAC over the other parameters.
    pub id: String,
    /// The protection space (the gateway's public URL).
    pub realm: String,
    /// `solana`.
    pub method: String,
    /// `charge`.
    pub intent: String,
    /// base64url (no padding) of the canonical request JSON.
    pub request: String,
    /// RFC 3339 expiry.
    pub expires: String,
    /// base64url of the JCS JSON `{"nonce": …}`: 16 random bytes, so that no
    /// two challenges share an id even when issued in the same second for
    /// the same terms (empty in a credential that echoes none).
    pub opaque: String,
}

/// Who pays a charge's transaction fees, and so how its credential comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeMode {
    /// The facilitator (`feePayer: true`): the client sends the transaction
    /// it signed as payer, and the facilitator co-signs and sends it (pull).
    FacilitatorPays,
    /// The client: it sends its signed transaction (pull) or, once it sent
    /// it, the signature (push). The transfer carries `externalId`, unique
    /// to the challenge, as its memo, so no one else's transfer can answer it.
    ClientPays {
        /// The challenge's `externalId`.
        external_id: String,
    },
}

impl ChargeMode {
    /// A client-paid mode with a fresh random `externalId`.
    pub fn client_pays() -> Self {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        Self::ClientPays {
            external_id: format!("paytab-{}", URL_SAFE_NO_PAD.encode(nonce)),
        }
    }

    /// The mode a challenge's `request` parameter was issued in, if it is
    /// base64url JSON of a charge request.
    pub fn of_request(request: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(request.trim_end_matches('=')).ok()?;
        let request: Value = serde_json::from_slice(&bytes).ok()?;
        if request["methodDetails"]["feePayer"] == true {
            return Some(Self::FacilitatorPays);
        }
        Some(Self::ClientPays {
            external_id: request["externalId"].as_str()?.to_string(),
        })
    }

    /// The memo the transfer must carry, if any.
    pub fn external_id(&self) -> Option<&str> {
        match self {
            Self::FacilitatorPays => None,
            Self::ClientPays { external_id } => Some(external_id),
        }
    }
}

/// The MPP Solana `charge` request object (keys sorted, so its JSON is canonical).
pub fn mpp_request(priced: &Priced, mode: &ChargeMode) -> Value {
    let terms = priced.terms;
    let mut details = Map::new();
    details.insert("network".into(), json!(mpp_network_name(&terms.network)));
    details.insert("decimals".into(), json!(terms.decimals));
    details.insert(
        "tokenProgram".into(),
        json!(terms.token_program.to_string()),
    );
    if let (ChargeMode::FacilitatorPays, Some(fee_payer)) = (mode, terms.fee_payer) {
        details.insert("feePayer".into(), json!(true));
        details.insert("feePayerKey".into(), json!(fee_payer.to_string()));
    }
    let mut request = json!({
        "amount": priced.price.to_string(),
        "currency": terms.asset.to_string(),
        "recipient": terms.pay_to.to_string(),
        "description": priced.description,
        "methodDetails": Value::Object(details),
    });
    if let Some(external_id) = mode.external_id() {
        request["externalId"] = json!(external_id);
    }
    request
}

/// The challenge's `request` parameter: base64url (no padding) of [`mpp_request`].
pub fn mpp_request_parameter(priced: &Priced, mode: &ChargeMode) -> String {
    URL_SAFE_NO_PAD.encode(mpp_request(priced, mode).to_string())
}

impl MppChallenge {
    /// A challenge for `priced` in `mode`, expiring `ttl_secs` after `now`,
    /// with a fresh random nonce, its id keyed by `secret`.
    pub fn new(
        priced: &Priced,
        mode: &ChargeMode,
        realm: &str,
        secret: &[u8],
        now: i64,
        ttl_secs: i64,
    ) -> Self {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let opaque = opaque_of(&URL_SAFE_NO_PAD.encode(nonce));
        Self::with_opaque(
            priced,
            mode,
            realm,
            secret,
            now.saturating_add(ttl_secs),
            opaque,
        )
    }

    /// A challenge expiring at `expires_at` carrying `opaque` (vectors and tests).
    pub fn with_opaque(
        priced: &Priced,
        mode: &ChargeMode,
        realm: &str,
        secret: &[u8],
        expires_at: i64,
        opaque: String,
    ) -> Self {
        let mut challenge = Self {
            id: String::new(),
            realm: realm.to_string(),
            method: "solana".into(),
            intent: "charge".into(),
            request: mpp_request_parameter(priced, mode),
            expires: rfc3339(expires_at),
            opaque,
        };
        challenge.id = challenge.expected_id(secret);
        challenge
    }

    /// The id these parameters must carry under `secret`.
    pub fn expected_id(&self, secret: &[u8]) -> String {
        self.mac(secret).map_or_else(String::new, |mac| {
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        })
    }

    /// Whether the id was issued under `secret` for exactly these parameters
    /// (compared in constant time).
    pub fn is_authentic(&self, secret: &[u8]) -> bool {
        let Some(mac) = self.mac(secret) else {
            return false;
        };
        URL_SAFE_NO_PAD
            .decode(&self.id)
            .is_ok_and(|tag| mac.verify_slice(&tag).is_ok())
    }

    /// HMAC-SHA256 under `secret` over every parameter but the id, as the
    /// MPP core draft recommends: seven slots joined by `|` (realm, method,
    /// intent, request, expires, digest, opaque; absent ones empty; this
    /// gateway issues no digest).
    fn mac(&self, secret: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        let slots = [
            self.realm.as_str(),
            &self.method,
            &self.intent,
            &self.request,
            &self.expires,
            "",
            &self.opaque,
        ];
        mac.update(slots.join("|").as_bytes());
        Some(mac)
    }

    /// The `WWW-Authenticate` header value.
    pub fn header_value(&self) -> String {
        format!(
            "Payment id=\"{}\", realm=\"{}\", method=\"{}\", intent=\"{}\", request=\"{}\", expires=\"{}\", opaque=\"{}\"",
            self.id, self.realm, self.method, self.intent, self.request, self.expires, self.opaque
        )
    }
}

/// The `opaque` parameter carrying `nonce`: base64url of `{"nonce":"…"}`.
pub fn opaque_of(nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "nonce": nonce }).to_string())
}

impl From<&MppChallenge> for ChallengeParams {
    /// The parameters a credential answering this challenge echoes.
    fn from(challenge: &MppChallenge) -> Self {
        Self {
            id: challenge.id.clone(),
            realm: challenge.realm.clone(),
            method: challenge.method.clone(),
            intent: challenge.intent.clone(),
            request: challenge.request.clone(),
            expires: Some(challenge.expires.clone()),
            opaque: Some(challenge.opaque.clone()).filter(|opaque| !opaque.is_empty()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn terms() -> PaymentTerms {
        PaymentTerms::sample(&[PayScheme::Escrow, PayScheme::Exact, PayScheme::Mpp])
    }

    fn priced(terms: &PaymentTerms) -> Priced<'_> {
        Priced {
            terms,
            url: "https://api.example.com/v1/quotes/SOL",
            price: 10_000,
            description: "A quote",
            mime_type: "application/json",
            bazaar: None,
        }
    }

    #[test]
    fn the_v2_challenge_offers_escrow_then_exact_and_round_trips_through_its_header() {
        let terms = terms();
        let required = payment_required_v2(&priced(&terms), "payment required");
        let accepts = required["accepts"].as_array().unwrap();
        assert_eq!(accepts.len(), 2);
        assert_eq!(accepts[0]["scheme"], "paytab-escrow");
        assert_eq!(accepts[0]["extra"]["programId"], PAYTAB_PROGRAM_ID);
        assert_eq!(accepts[1]["scheme"], "exact");
        assert_eq!(
            accepts[1]["extra"]["feePayer"],
            terms.fee_payer.unwrap().to_string()
        );
        assert_eq!(accepts[0]["amount"], "10000");
        let decoded: Value =
            serde_json::from_slice(&STANDARD.decode(header_value(&required)).unwrap()).unwrap();
        assert_eq!(decoded, required);
    }

    #[test]
    fn the_v1_body_uses_plain_network_names_and_max_amount_required() {
        let terms = terms();
        let body = v1_body(&priced(&terms), "payment required");
        assert_eq!(body["x402Version"], 1);
        assert_eq!(body["accepts"][0]["network"], "solana-devnet");
        assert_eq!(body["accepts"][0]["maxAmountRequired"], "10000");
        assert_eq!(
            body["accepts"][0]["resource"],
            "https://api.example.com/v1/quotes/SOL"
        );
    }

    #[test]
    fn an_mpp_challenge_id_authenticates_exactly_its_parameters() {
        let terms = terms();
        let challenge = MppChallenge::new(
            &priced(&terms),
            &ChargeMode::FacilitatorPays,
            "https://api.example.com",
            b"secret",
            1_790_000_000,
            300,
        );
        assert!(challenge.is_authentic(b"secret"));
        assert!(!challenge.is_authentic(b"other secret"));
        let mut cheaper = challenge.clone();
        cheaper.request = URL_SAFE_NO_PAD.encode(r#"{"amount":"1"}"#);
        assert!(!cheaper.is_authentic(b"secret"));
        assert_eq!(challenge.expires, "2026-09-21T14:18:20Z");
        let request: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&challenge.request).unwrap()).unwrap();
        assert_eq!(request["methodDetails"]["network"], "devnet");
        assert_eq!(
            request["methodDetails"]["tokenProgram"],
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
        );
        assert_eq!(request["methodDetails"]["feePayer"], true);
        assert_eq!(request["amount"], "10000");
        assert_eq!(
            ChargeMode::of_request(&challenge.request),
            Some(ChargeMode::FacilitatorPays)
        );
        assert!(challenge.header_value().starts_with("Payment id=\""));
    }

    #[test]
    fn the_mpp_challenge_vector_matches_the_specification() {
        let vector = paytab_protocol::doc_vectors::vector("mpp-challenge-1");
        let terms = terms();
        let secret = b"paytab-vector-secret-0123456789abcdef";
        let challenge = MppChallenge::with_opaque(
            &priced(&terms),
            &ChargeMode::FacilitatorPays,
            "https://api.example.com",
            secret,
            1_790_000_300,
            opaque_of("AAECAwQFBgcICQoLDA0ODw"),
        );
        assert_eq!(challenge.request, vector["request"]);
        assert_eq!(challenge.expires, vector["expires"]);
        assert_eq!(challenge.opaque, vector["opaque"]);
        assert_eq!(challenge.id, vector["id"]);
    }

    #[test]
    fn two_challenges_for_the_same_terms_in_the_same_second_have_different_ids() {
        let terms = terms();
        let issue = || {
            MppChallenge::new(
                &priced(&terms),
                &ChargeMode::FacilitatorPays,
                "https://api.example.com",
                b"secret",
                1_790_000_000,
                300,
            )
        };
        let (first, second) = (issue(), issue());
        assert_eq!(
            (&first.request, &first.expires),
            (&second.request, &second.expires)
        );
        assert_ne!(
            first.id, second.id,
            "one payer's credential must not use up another's challenge"
        );
        let mut swapped = first.clone();
        swapped.opaque = second.opaque.clone();
        assert!(
            !swapped.is_authentic(b"secret"),
            "the nonce is bound to the id"
        );
    }

    #[test]
    fn a_client_paid_challenge_names_a_fresh_external_id_and_no_fee_payer() {
        let terms = terms();
        let (first, second) = (ChargeMode::client_pays(), ChargeMode::client_pays());
        assert_ne!(first, second);
        let request = mpp_request(&priced(&terms), &first);
        assert_eq!(request["externalId"], first.external_id().unwrap());
        assert!(request["methodDetails"].get("feePayer").is_none());
        assert!(request["methodDetails"].get("feePayerKey").is_none());
        let parameter = mpp_request_parameter(&priced(&terms), &first);
        assert_eq!(ChargeMode::of_request(&parameter), Some(first));
    }
}
