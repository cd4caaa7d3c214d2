//! x402 `sign-in-with-x` for Solana on sign-in routes: the caller proves it
//! holds a wallet by signing a Sign-In-With-Solana message. Authentication
//! only: nothing is paid and no facilitator is involved.
//!
//! The challenge needs no server state: its nonce is an HMAC over the URI and
//! issue time, so a signed answer proves the gateway issued it. A nonce is
//! accepted once (the replay cache), within five minutes of its issue.

use ed25519_dalek::VerifyingKey;
use hmac::{Hmac, Mac};
use paytab_protocol::clock::{parse_rfc3339, rfc3339};
pub use paytab_protocol::sign_in::{MalformedSignIn, SignInFields};
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

impl From<MalformedSignIn> for SignInRefusal {
    fn from(malformed: MalformedSignIn) -> Self {
        Self::Malformed(malformed.0)
    }
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
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
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
        let vector = paytab_protocol::doc_vectors::vector("siwx-nonce-1");
        let terms = SignInTerms {
            secret: b"paytab-vector-secret-0123456789abcdef",
            ..terms()
        };
        assert_eq!(terms.nonce(URI, &vector["issuedAt"]), vector["nonce"]);
    }
}
