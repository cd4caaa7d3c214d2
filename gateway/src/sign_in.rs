//! x402 `sign-in-with-x` for Solana on sign-in routes: the caller proves it
//! holds a wallet by signing a Sign-In-With-Solana message. Authentication
//! only: nothing is paid and no facilitator is involved.
//!
//! The challenge needs no server state: its nonce is an HMAC over the URI and
//! issue time, so a signed answer proves the gateway issued it. A nonce is
//! accepted once (the replay cache), within five minutes of its issue.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use paytab_protocol::clock::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use solana_pubkey::Pubkey;

/// The request header carrying a signed sign-in message.
pub const SIGN_IN_HEADER: &str = "sign-in-with-x";
/// The extension's key in `PaymentRequired.extensions`.
pub const EXTENSION: &str = "sign-in-with-x";
/// The header the upstream receives with the signed-in address; the gateway
/// removes any such header a client sends.
pub const SIGNED_IN_HEADER: &str = "paytab-signed-in";
/// How long a challenge may be answered, seconds.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Clock skew tolerated on `issuedAt`, seconds.
const CLOCK_SKEW_SECS: i64 = 5;
/// Largest header accepted, bytes.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// What a sign-in is checked against: this gateway's public origin and network.
#[derive(Debug, Clone)]
pub struct SignInTerms<'a> {
    /// The public origin, `scheme://host[:port]`.
    pub origin: &'a str,
    /// The CAIP-2 network the signature is for.
    pub network: &'a str,
    /// Keys the nonces.
    pub secret: &'a [u8],
}

/// A verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The wallet that signed.
    pub address: Pubkey,
    /// The nonce's replay-cache id.
    pub nonce_id: [u8; 16],
    /// When the nonce stops being acceptable anyway (unix seconds).
    pub usable_until: i64,
}

/// Why a sign-in was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    /// The header is not base64 JSON of the expected fields.
    #[error("malformed sign-in: {0}")]
    Malformed(String),
    /// A field does not match this gateway (domain, URI, chain, version, nonce).
    #[error("sign-in for another site or challenge: {0}")]
    Mismatch(String),
    /// Outside its time window.
    #[error("sign-in expired or not yet valid: {0}")]
    Expired(String),
    /// The signature does not verify for the address.
    #[error("the sign-in signature does not verify for {0}")]
    BadSignature(String),
    /// The nonce was used before.
    #[error("this sign-in was already used; request the resource again for a new challenge")]
    Replayed,
}

impl<'a> SignInTerms<'a> {
    /// The host (and port) of the origin: the SIWS `domain`.
    pub fn domain(&self) -> &'a str {
        self.origin
            .split_once("://")
            .map_or(self.origin, |(_, host)| host)
    }

    /// The `extensions["sign-in-with-x"]` object for a challenge on `uri` at `now`.
    pub fn extension(&self, uri: &str, now: i64) -> Value {
        let issued_at = rfc3339(now);
        json!({
            "info": {
                "domain": self.domain(),
                "uri": uri,
                "version": "1",
                "nonce": self.nonce(uri, &issued_at),
                "issuedAt": issued_at,
                "expirationTime": rfc3339(now.saturating_add(CHALLENGE_TTL_SECS)),
                "statement": format!("Sign in to {}", self.domain()),
                "resources": [uri],
            },
            "supportedChains": [{
                "chainId": self.network,
                "type": "ed25519",
                "signatureScheme": "siws",
            }],
        })
    }

    /// 32 hex digits: HMAC-SHA256 under the secret over the URI and issue time.
    fn nonce(&self, uri: &str, issued_at: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.secret) else {
            return String::new();
        };
        for part in [EXTENSION, uri, issued_at] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Checks a `SIGN-IN-WITH-X` header at `now`: fields, nonce, times and
    /// signature. Whether the nonce was used before is the caller's to check.
    pub fn verify(&self, header: &str, now: i64) -> Result<SignedIn, SignInRefusal> {
        let fields = SignInFields::parse(header)?;
        let mismatch = |what: String| Err(SignInRefusal::Mismatch(what));
        if fields.domain != self.domain() {
            return mismatch(format!("domain {} is not {}", fields.domain, self.domain()));
        }
        if !same_origin(&fields.uri, self.origin) {
            return mismatch(format!("uri {} is not on {}", fields.uri, self.origin));
        }
        if fields.version != "1" {
            return mismatch(format!("version {} is not 1", fields.version));
        }
        if fields.chain_id != self.network || fields.signature_type != "ed25519" {
            return mismatch(format!(
                "chain {} ({}) is not {} (ed25519)",
                fields.chain_id, fields.signature_type, self.network
            ));
        }
        if fields.nonce != self.nonce(&fields.uri, &fields.issued_at) {
            return mismatch(
                "the nonce was not issued by this gateway for this URI and time".into(),
            );
        }
        let issued_at = instant("issuedAt", &fields.issued_at)?;
        if issued_at > now + CLOCK_SKEW_SECS {
            return Err(SignInRefusal::Expired(format!(
                "issued in the future ({})",
                fields.issued_at
            )));
        }
        let usable_until = issued_at.saturating_add(CHALLENGE_TTL_SECS);
        if now >= usable_until {
            return Err(SignInRefusal::Expired(format!(
                "issued at {}, over five minutes ago",
                fields.issued_at
            )));
        }
        if let Some(expiration) = &fields.expiration_time {
            if now >= instant("expirationTime", expiration)? {
                return Err(SignInRefusal::Expired(format!("expired at {expiration}")));
            }
        }
        if let Some(not_before) = &fields.not_before {
            if now < instant("notBefore", not_before)? {
                return Err(SignInRefusal::Expired(format!(
                    "not valid before {not_before}"
                )));
            }
        }
        let address = fields.address_key()?;
        let signature = fields.signature()?;
        let key = VerifyingKey::from_bytes(&address.to_bytes())
            .map_err(|_| SignInRefusal::BadSignature(fields.address.clone()))?;
        key.verify_strict(fields.message().as_bytes(), &signature)
            .map_err(|_| SignInRefusal::BadSignature(fields.address.clone()))?;
        Ok(SignedIn {
            address,
            nonce_id: nonce_id(&fields.nonce),
            usable_until,
        })
    }
}

/// The fields of a `SIGN-IN-WITH-X` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInFields {
    /// The site's host.
    pub domain: String,
    /// The signing wallet, base58.
    pub address: String,
    /// The URI signed in to.
    pub uri: String,
    /// `1`.
    pub version: String,
    /// CAIP-2 chain id.
    pub chain_id: String,
    /// `ed25519` for Solana.
    pub signature_type: String,
    /// The server's nonce.
    pub nonce: String,
    /// RFC 3339 issue time.
    pub issued_at: String,
    /// RFC 3339 expiry, if any.
    pub expiration_time: Option<String>,
    /// RFC 3339 start, if any.
    pub not_before: Option<String>,
    /// A human-readable purpose, if any.
    pub statement: Option<String>,
    /// A correlation id, if any.
    pub request_id: Option<String>,
    /// Resources the sign-in covers.
    pub resources: Vec<String>,
    /// The signature, base58.
    pub signature: String,
}

impl SignInFields {
    /// Fills every field from a challenge's `info` and `supportedChains[0]`
    /// for `address` (the signature is left empty).
    pub fn answering(extension: &Value, address: &Pubkey) -> Result<Self, SignInRefusal> {
        let info = &extension["info"];
        let chain = &extension["supportedChains"][0];
        let required = |value: &Value, name: &str| -> Result<String, SignInRefusal> {
            value[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SignInRefusal::Malformed(format!("{name} must be a string")))
        };
        let optional = |name: &str| info[name].as_str().map(str::to_string);
        Ok(Self {
            domain: required(info, "domain")?,
            address: address.to_string(),
            uri: required(info, "uri")?,
            version: required(info, "version")?,
            chain_id: required(chain, "chainId")?,
            signature_type: required(chain, "type")?,
            nonce: required(info, "nonce")?,
            issued_at: required(info, "issuedAt")?,
            expiration_time: optional("expirationTime"),
            not_before: optional("notBefore"),
            statement: optional("statement"),
            request_id: optional("requestId"),
            resources: string_list(&info["resources"])?,
            signature: String::new(),
        })
    }

    /// Parses a header value: base64 of the JSON object.
    pub fn parse(header: &str) -> Result<Self, SignInRefusal> {
        let malformed = |reason: &str| SignInRefusal::Malformed(reason.to_string());
        if header.len() > MAX_HEADER_LEN {
            return Err(malformed("header longer than 8 KiB"));
        }
        let bytes = STANDARD
            .decode(header.trim())
            .map_err(|_| malformed("not base64"))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| malformed("not base64 of JSON"))?;
        let required = |name: &str| -> Result<String, SignInRefusal> {
            value[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| SignInRefusal::Malformed(format!("{name} must be a string")))
        };
        let optional = |name: &str| -> Result<Option<String>, SignInRefusal> {
            match &value[name] {
                Value::Null => Ok(None),
                Value::String(text) => Ok(Some(text.clone())),
                _ => Err(SignInRefusal::Malformed(format!("{name} must be a string"))),
            }
        };
        Ok(Self {
            domain: required("domain")?,
            address: required("address")?,
            uri: required("uri")?,
            version: required("version")?,
            chain_id: required("chainId")?,
            signature_type: required("type")?,
            nonce: required("nonce")?,
            issued_at: required("issuedAt")?,
            expiration_time: optional("expirationTime")?,
            not_before: optional("notBefore")?,
            statement: optional("statement")?,
            request_id: optional("requestId")?,
            resources: string_list(&value["resources"])?,
            signature: required("signature")?,
        })
    }

    /// The header value: base64 of the JSON object.
    pub fn header_value(&self) -> String {
        let mut value = json!({
            "domain": self.domain,
            "address": self.address,
            "uri": self.uri,
            "version": self.version,
            "chainId": self.chain_id,
            "type": self.signature_type,
            "nonce": self.nonce,
            "issuedAt": self.issued_at,
            "signatureScheme": "siws",
            "signature": self.signature,
        });
        let optional = [
            ("expirationTime", &self.expiration_time),
            ("notBefore", &self.not_before),
            ("statement", &self.statement),
            ("requestId", &self.request_id),
        ];
        for (name, field) in optional {
            if let Some(text) = field {
                value[name] = json!(text);
            }
        }
        if !self.resources.is_empty() {
            value["resources"] = json!(self.resources);
        }
        STANDARD.encode(value.to_string())
    }

    /// The Sign-In-With-Solana message the signature covers.
    pub fn message(&self) -> String {
        let mut lines = vec![
            format!(
                "{} wants you to sign in with your Solana account:",
                self.domain
            ),
            self.address.clone(),
            String::new(),
        ];
        if let Some(statement) = self.statement.as_deref().filter(|text| !text.is_empty()) {
            lines.push(statement.to_string());
            lines.push(String::new());
        }
        let chain_reference = self
            .chain_id
            .split_once(':')
            .map_or(self.chain_id.as_str(), |(_, reference)| reference);
        lines.push(format!("URI: {}", self.uri));
        lines.push(format!("Version: {}", self.version));
        lines.push(format!("Chain ID: {chain_reference}"));
        lines.push(format!("Nonce: {}", self.nonce));
        lines.push(format!("Issued At: {}", self.issued_at));
        let optional = [
            ("Expiration Time", &self.expiration_time),
            ("Not Before", &self.not_before),
            ("Request ID", &self.request_id),
        ];
        for (label, field) in optional {
            if let Some(text) = field.as_deref().filter(|text| !text.is_empty()) {
                lines.push(format!("{label}: {text}"));
            }
        }
        if !self.resources.is_empty() {
            lines.push("Resources:".into());
            lines.extend(
                self.resources
                    .iter()
                    .map(|resource| format!("- {resource}")),
            );
        }
        lines.join("\n")
    }

    fn address_key(&self) -> Result<Pubkey, SignInRefusal> {
        self.address
            .parse()
            .map_err(|_| SignInRefusal::Malformed("address is not a base58 Solana address".into()))
    }

    fn signature(&self) -> Result<Signature, SignInRefusal> {
        let bytes: [u8; 64] = bs58::decode(&self.signature)
            .into_vec()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                SignInRefusal::Malformed("signature is not 64 bytes of base58".into())
            })?;
        Ok(Signature::from_bytes(&bytes))
    }
}

/// Whether `uri` is on `origin` (same scheme, host and port).
fn same_origin(uri: &str, origin: &str) -> bool {
    uri == origin
        || uri
            .strip_prefix(origin)
            .is_some_and(|rest| rest.starts_with(['/', '?', '#']))
}

fn instant(name: &str, text: &str) -> Result<i64, SignInRefusal> {
    parse_rfc3339(text).ok_or_else(|| SignInRefusal::Malformed(format!("{name} is not RFC 3339")))
}

fn string_list(value: &Value) -> Result<Vec<String>, SignInRefusal> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| SignInRefusal::Malformed("resources must be strings".into()))
            })
            .collect(),
        _ => Err(SignInRefusal::Malformed("resources must be a list".into())),
    }
}

/// The replay-cache id of a nonce, apart from proof ids.
fn nonce_id(nonce: &str) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(EXTENSION)
        .chain_update(nonce)
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    const NOW: i64 = 1_790_000_000;
    const URI: &str = "https://api.example.com/v1/account";

    fn terms() -> SignInTerms<'static> {
        SignInTerms {
            origin: "https://api.example.com",
            network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
            secret: b"a secret of at least thirty-two characters",
        }
    }

    fn wallet() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    fn address(key: &SigningKey) -> Pubkey {
        Pubkey::new_from_array(key.verifying_key().to_bytes())
    }

    fn signed(fields: &mut SignInFields, key: &SigningKey) -> String {
        fields.signature =
            bs58::encode(key.sign(fields.message().as_bytes()).to_bytes()).into_string();
        fields.header_value()
    }

    fn answer(key: &SigningKey) -> SignInFields {
        SignInFields::answering(&terms().extension(URI, NOW), &address(key)).unwrap()
    }

    #[test]
    fn the_message_follows_the_sign_in_with_solana_layout() {
        let fields = SignInFields {
            domain: "api.example.com".into(),
            address: "BSmWDgE9ex6dZYbiTsJGcwMEgFp8q4aWh92hdErQPeVW".into(),
            uri: "https://api.example.com/premium-data".into(),
            version: "1".into(),
            chain_id: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into(),
            signature_type: "ed25519".into(),
            nonce: "a1b2c3d4e5f67890a1b2c3d4e5f67890".into(),
            issued_at: "2024-01-15T10:30:00.000Z".into(),
            expiration_time: Some("2024-01-15T10:35:00.000Z".into()),
            statement: Some("Sign in to access premium data".into()),
            resources: vec!["https://api.example.com/premium-data".into()],
            ..SignInFields::default()
        };
        assert_eq!(
            fields.message(),
            "api.example.com wants you to sign in with your Solana account:\n\
             BSmWDgE9ex6dZYbiTsJGcwMEgFp8q4aWh92hdErQPeVW\n\
             \n\
             Sign in to access premium data\n\
             \n\
             URI: https://api.example.com/premium-data\n\
             Version: 1\n\
             Chain ID: 5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp\n\
             Nonce: a1b2c3d4e5f67890a1b2c3d4e5f67890\n\
             Issued At: 2024-01-15T10:30:00.000Z\n\
             Expiration Time: 2024-01-15T10:35:00.000Z\n\
             Resources:\n\
             - https://api.example.com/premium-data"
        );
    }

    #[test]
    fn a_signed_answer_to_the_challenge_signs_in_its_wallet() {
        let key = wallet();
        let header = signed(&mut answer(&key), &key);
        let signed_in = terms().verify(&header, NOW + 30).unwrap();
        assert_eq!(signed_in.address, address(&key));
        assert_eq!(signed_in.usable_until, NOW + CHALLENGE_TTL_SECS);
    }

    #[test]
    fn a_signature_by_another_wallet_is_refused() {
        let (key, stranger) = (wallet(), SigningKey::from_bytes(&[6; 32]));
        let header = signed(&mut answer(&key), &stranger);
        assert!(matches!(
            terms().verify(&header, NOW),
            Err(SignInRefusal::BadSignature(_))
        ));
    }

    #[test]
    fn changed_fields_an_invented_nonce_or_another_site_are_refused() {
        let key = wallet();
        let changes: [fn(&mut SignInFields); 6] = [
            |fields| fields.domain = "evil.example.com".into(),
            |fields| fields.uri = "https://evil.example.com/v1/account".into(),
            |fields| fields.chain_id = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into(),
            |fields| fields.nonce = "00112233445566778899aabbccddeeff".into(),
            |fields| fields.issued_at = rfc3339(NOW + 1),
            |fields| fields.version = "2".into(),
        ];
        for change in changes {
            let mut fields = answer(&key);
            change(&mut fields);
            let header = signed(&mut fields, &key);
            assert!(
                matches!(
                    terms().verify(&header, NOW),
                    Err(SignInRefusal::Mismatch(_))
                ),
                "{fields:?}"
            );
        }
    }

    #[test]
    fn a_stale_or_expired_sign_in_is_refused() {
        let key = wallet();
        let header = signed(&mut answer(&key), &key);
        assert!(matches!(
            terms().verify(&header, NOW + CHALLENGE_TTL_SECS),
            Err(SignInRefusal::Expired(_))
        ));
        let mut early = answer(&key);
        early.not_before = Some(rfc3339(NOW + 60));
        let header = signed(&mut early, &key);
        assert!(matches!(
            terms().verify(&header, NOW),
            Err(SignInRefusal::Expired(_))
        ));
    }

    #[test]
    fn malformed_headers_are_refused_without_panicking() {
        let key = wallet();
        let mut bad_signature = answer(&key);
        bad_signature.signature = "not base58 !".into();
        for header in [
            String::new(),
            "%%%".to_string(),
            STANDARD.encode("[]"),
            STANDARD.encode(r#"{"domain": 7}"#),
            bad_signature.header_value(),
            "A".repeat(9 * 1024),
        ] {
            assert!(
                matches!(
                    terms().verify(&header, NOW),
                    Err(SignInRefusal::Malformed(_))
                ),
                "{header:.40}"
            );
        }
    }

    #[test]
    fn the_nonce_vector_matches_the_specification() {
        let vector = crate::doc_vectors::vector("siwx-nonce-1");
        let terms = SignInTerms {
            secret: b"paytab-vector-secret-0123456789abcdef",
            ..terms()
        };
        assert_eq!(terms.nonce(URI, &vector["issuedAt"]), vector["nonce"]);
    }
}
