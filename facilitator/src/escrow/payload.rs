//! The `escrow` scheme's payload: a payer-signed usage receipt, as JSON.
//!
//! ```json
//! {"allowance": "<base58>", "generation": "345678901", "cumulative": "1250000",
//!  "expiresAt": 1790000000, "signer": "<base58>", "signature": "<base58, 64 bytes>"}
//! ```
//! Amounts and generations are decimal strings (they may exceed 2^53); the
//! signature covers the receipt's 58-byte form (`docs/protocol.md` §1).

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use paytab::receipt::Receipt;
use serde_json::{json, Map, Value};
use solana_pubkey::Pubkey;

use crate::rejection::Rejection;
use crate::x402::decimal_u64;

/// A receipt with its signer and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// Who signed it (the escrow owner or its session key).
    pub signer: Pubkey,
    /// Ed25519 signature over the receipt bytes.
    pub signature: [u8; 64],
}

impl SignedReceipt {
    /// Reads a payload object; every field is required and checked.
    pub fn from_payload(payload: &Map<String, Value>) -> Result<Self, Rejection> {
        let receipt = Receipt {
            allowance: address(payload, "allowance")?,
            generation: decimal(payload, "generation")?,
            cumulative: decimal(payload, "cumulative")?,
            expires_at: payload
                .get("expiresAt")
                .and_then(Value::as_i64)
                .ok_or_else(|| malformed("expiresAt must be an integer (0 = never)"))?,
        };
        let signature = payload
            .get("signature")
            .and_then(Value::as_str)
            .and_then(|text| bs58::decode(text).into_vec().ok())
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .ok_or_else(|| malformed("signature must be 64 bytes in base58"))?;
        Ok(Self {
            receipt,
            signer: address(payload, "signer")?,
            signature,
        })
    }

    /// The payload object for this receipt.
    pub fn to_payload(&self) -> Value {
        json!({
            "allowance": self.receipt.allowance.to_string(),
            "generation": self.receipt.generation.to_string(),
            "cumulative": self.receipt.cumulative.to_string(),
            "expiresAt": self.receipt.expires_at,
            "signer": self.signer.to_string(),
            "signature": bs58::encode(self.signature).into_string(),
        })
    }

    /// The signature in base58.
    pub fn signature_base58(&self) -> String {
        bs58::encode(self.signature).into_string()
    }

    /// Checks the signature over the receipt bytes, on its own (the
    /// facilitator batches its checks in [`crate::signatures`]).
    pub fn verify_signature(&self) -> Result<(), Rejection> {
        let key = VerifyingKey::from_bytes(&self.signer.to_bytes())
            .map_err(|_| bad_signature("the signer is not a valid Ed25519 key"))?;
        key.verify(
            &self.receipt.to_bytes(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| bad_signature("the receipt signature does not verify"))
    }
}

fn address(payload: &Map<String, Value>, field: &str) -> Result<Pubkey, Rejection> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| malformed(&format!("{field} must be a base58 address")))
}

fn decimal(payload: &Map<String, Value>, field: &str) -> Result<u64, Rejection> {
    payload
        .get(field)
        .and_then(Value::as_str)
        .and_then(decimal_u64)
        .ok_or_else(|| malformed(&format!("{field} must be a decimal string")))
}

fn malformed(detail: &str) -> Rejection {
    Rejection::new("invalid_payload", format!("escrow payload: {detail}"))
}

fn bad_signature(detail: &str) -> Rejection {
    Rejection::new("invalid_escrow_payload_signature", detail.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The JSON block after `<!-- vector: NAME -->` in docs/protocol.md.
    fn documented(name: &str) -> Value {
        let doc = include_str!("../../../docs/protocol.md");
        let marker = format!("<!-- vector: {name} -->");
        let block = &doc[doc.find(&marker).unwrap()..];
        let start = block.find("```json\n").unwrap() + "```json\n".len();
        let end = start + block[start..].find("```").unwrap();
        serde_json::from_str(&block[start..end]).unwrap()
    }

    #[test]
    fn the_documented_payload_is_receipt_vector_one_and_verifies() {
        let payload = documented("escrow-payload-1");
        let signed = SignedReceipt::from_payload(payload.as_object().unwrap()).unwrap();
        assert_eq!(
            signed.receipt.allowance.to_string(),
            "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
        );
        assert_eq!(signed.receipt.generation, 345_678_901);
        assert_eq!(signed.receipt.cumulative, 1_250_000);
        assert_eq!(signed.receipt.expires_at, 1_790_000_000);
        let secret = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        assert_eq!(signed.signer.to_bytes(), secret.verifying_key().to_bytes());
        signed.verify_signature().unwrap();
        assert_eq!(signed.to_payload(), payload);
    }

    #[test]
    fn a_payload_with_any_field_changed_no_longer_verifies() {
        let payload = documented("escrow-payload-1");
        for (field, value) in [
            ("cumulative", json!("1250001")),
            ("generation", json!("345678902")),
            ("expiresAt", json!(0)),
            (
                "allowance",
                json!("GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB"),
            ),
        ] {
            let mut changed = payload.clone();
            changed[field] = value;
            let signed = SignedReceipt::from_payload(changed.as_object().unwrap()).unwrap();
            assert_eq!(
                signed.verify_signature().unwrap_err().reason,
                "invalid_escrow_payload_signature",
                "{field}"
            );
        }
    }
}
