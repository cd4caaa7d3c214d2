//! A signed publication: the manifest's JSON, when it was published, and the
//! provider's Ed25519 signature over both.
//!
//! The signed message is `"paytab/manifest/v1\n" ‖ publishedAt (decimal) ‖
//! "\n" ‖ JCS(manifest)`, where JCS is the RFC 8785 canonical JSON of the
//! manifest object exactly as sent (keys sorted, no whitespace; manifests hold
//! no fractional numbers). The signer must be the manifest's `payTo`: only
//! the payee can list a service that pays it.

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};
use solana_pubkey::Pubkey;

use super::fields::{Manifest, ManifestError, Naming};

/// Domain separation for manifest signatures.
pub const DOMAIN: &[u8] = b"paytab/manifest/v1\n";

/// A manifest as published: what was signed, by whom, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The manifest object exactly as signed.
    pub manifest_json: Value,
    /// The manifest it reads as.
    pub manifest: Manifest,
    /// Unix seconds the provider signed it.
    pub published_at: i64,
    /// The signing key (the manifest's `payTo`).
    pub signer: Pubkey,
    /// Ed25519 signature over [`signing_message`].
    pub signature: [u8; 64],
}

/// Why a publication was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicationError {
    /// The body is not a publication.
    #[error("{0}")]
    Malformed(String),
    /// The manifest inside it is not usable.
    #[error("manifest field {0}")]
    Manifest(#[from] ManifestError),
    /// The signature does not verify for the signer over this manifest.
    #[error("the signature does not verify: the manifest was changed after signing, or signed by another key")]
    BadSignature,
    /// The signer is not the payee its endpoints pay.
    #[error("signed by {signer}, but the manifest pays {pay_to}: only the payee can publish its service")]
    SignerNotPayee {
        /// Who signed.
        signer: Pubkey,
        /// Who is paid.
        pay_to: Pubkey,
    },
}

/// RFC 8785 canonical JSON of `value` (integers only).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_canonical(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The bytes a provider signs to publish `manifest_json` at `published_at`.
pub fn signing_message(manifest_json: &Value, published_at: i64) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(published_at.to_string().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(canonical_json(manifest_json).as_bytes());
    message
}

impl Publication {
    /// A publication of `manifest` at `published_at`, signed by `sign` (which
    /// returns the signer and its signature over the message it is given).
    pub fn sign(
        manifest: &Manifest,
        published_at: i64,
        sign: impl FnOnce(&[u8]) -> (Pubkey, [u8; 64]),
    ) -> Self {
        let manifest_json = manifest.to_value();
        let (signer, signature) = sign(&signing_message(&manifest_json, published_at));
        Self {
            manifest_json,
            manifest: manifest.clone(),
            published_at,
            signer,
            signature,
        }
    }

    /// Its wire form: `{manifest, publishedAt, signer, signature}`.
    pub fn to_json(&self) -> Value {
        json!({
            "manifest": self.manifest_json,
            "publishedAt": self.published_at,
            "signer": self.signer.to_string(),
            "signature": bs58::encode(self.signature).into_string(),
        })
    }

    /// Reads a publication and checks it: the manifest's fields, the
    /// signature (strict Ed25519), and that the signer is the payee.
    pub fn verify(body: &Value) -> Result<Self, PublicationError> {
        let malformed = |message: &str| PublicationError::Malformed(message.to_string());
        let manifest_json = body
            .get("manifest")
            .filter(|manifest| manifest.is_object())
            .ok_or_else(|| malformed("manifest must be the manifest object"))?
            .clone();
        let published_at = body
            .get("publishedAt")
            .and_then(Value::as_i64)
            .ok_or_else(|| malformed("publishedAt must be unix seconds"))?;
        let signer: Pubkey = body
            .get("signer")
            .and_then(Value::as_str)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| malformed("signer must be a base58 Solana address"))?;
        let signature: [u8; 64] = body
            .get("signature")
            .and_then(Value::as_str)
            .and_then(|text| bs58::decode(text).into_vec().ok())
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| malformed("signature must be 64 bytes in base58"))?;
        let manifest = Manifest::from_value(&manifest_json, Naming::Camel)?;
        let key = VerifyingKey::from_bytes(&signer.to_bytes())
            .map_err(|_| PublicationError::BadSignature)?;
        key.verify_strict(
            &signing_message(&manifest_json, published_at),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| PublicationError::BadSignature)?;
        if signer != manifest.pay_to {
            return Err(PublicationError::SignerNotPayee {
                signer,
                pay_to: manifest.pay_to,
            });
        }
        Ok(Self {
            manifest_json,
            manifest,
            published_at,
            signer,
            signature,
        })
    }
}
