//! A payment's identity, derived from the payment itself, never chosen by the
//! client: what the gateway reserves before the upstream runs and consumes
//! once the answer is served.
//!
//! Each identity is SHA-256 over a domain tag and the payment's defining
//! bytes, so two kinds never collide:
//!
//! | payment | identity over |
//! |---|---|
//! | facilitator proof | its 16-byte id |
//! | escrow receipt | allowance, generation, cumulative (one count is one payment, whoever signed it) |
//! | transaction (`exact`, MPP charge) | the message bytes: signatures excluded, so a re-signed copy is the same payment |
//! | MPP challenge | its id (every credential single-use) |
//! | sign-in | the nonce |

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use solana_pubkey::Pubkey;

use crate::reservations::PaymentId;

/// Largest transaction accepted, bytes (Solana's packet size).
const MAX_TRANSACTION_BYTES: usize = 1232;

fn tagged(tag: &str, parts: &[&[u8]]) -> PaymentId {
    let mut hash = Sha256::new();
    hash.update(b"paytab/payment-id/");
    hash.update(tag.as_bytes());
    hash.update([0]);
    for part in parts {
        hash.update(part);
    }
    hash.finalize().into()
}

/// A facilitator proof, by its id.
pub fn proof(id: &[u8; 16]) -> PaymentId {
    tagged("proof", &[id])
}

/// An escrow receipt for `cumulative` on `allowance` of `generation`.
pub fn escrow_receipt(allowance: &Pubkey, generation: u64, cumulative: u64) -> PaymentId {
    tagged(
        "escrow",
        &[
            allowance.as_ref(),
            &generation.to_le_bytes(),
            &cumulative.to_le_bytes(),
        ],
    )
}

/// An MPP challenge, by its id.
pub fn mpp_challenge(id: &str) -> PaymentId {
    tagged("mpp-challenge", &[id.as_bytes()])
}

/// A settlement a facilitator reported without a proof, by its reference
/// (a transaction signature).
pub fn settlement(reference: &str) -> PaymentId {
    tagged("settlement", &[reference.as_bytes()])
}

/// A sign-in, by its nonce id.
pub fn sign_in(nonce_id: &[u8; 16]) -> PaymentId {
    tagged("sign-in", &[nonce_id])
}

/// A Solana transaction (base64 of its wire form), by its message.
pub fn transaction(base64: &str) -> Result<PaymentId, String> {
    let wire = STANDARD
        .decode(base64.trim())
        .map_err(|_| "the transaction is not base64".to_string())?;
    if wire.len() > MAX_TRANSACTION_BYTES {
        return Err(format!(
            "the transaction is longer than {MAX_TRANSACTION_BYTES} bytes"
        ));
    }
    let (signatures, prefix) =
        short_vec_length(&wire).ok_or("the transaction is truncated".to_string())?;
    let message = wire
        .get(prefix + signatures * 64..)
        .filter(|message| !message.is_empty())
        .ok_or("the transaction is truncated".to_string())?;
    Ok(tagged("transaction", &[message]))
}

/// Solana's compact-u16 length prefix: the value and how many bytes it took.
fn short_vec_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (index, byte) in bytes.iter().take(3).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

/// The identities of an x402 payment payload (`PAYMENT-SIGNATURE` /
/// `X-PAYMENT`): an escrow receipt or an `exact` transaction.
pub fn of_x402(scheme: &str, payload: &Value) -> Result<Vec<PaymentId>, String> {
    match scheme {
        "exact" => {
            let wire = payload["transaction"]
                .as_str()
                .ok_or("payload.transaction must be a base64 string")?;
            Ok(vec![transaction(wire)?])
        }
        paytab_protocol::schemes::PAYTAB_ESCROW => {
            let allowance = payload["allowance"]
                .as_str()
                .and_then(|text| text.parse::<Pubkey>().ok())
                .ok_or("payload.allowance must be a base58 address")?;
            let number = |field: &str| {
                payload[field]
                    .as_str()
                    .and_then(|text| text.parse::<u64>().ok())
                    .ok_or(format!("payload.{field} must be a decimal string"))
            };
            Ok(vec![escrow_receipt(
                &allowance,
                number("generation")?,
                number("cumulative")?,
            )])
        }
        other => Err(format!("scheme {other:?} is not offered here")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(signatures: u8, message: &[u8]) -> String {
        let mut bytes = vec![signatures];
        bytes.extend(std::iter::repeat_n(7u8, usize::from(signatures) * 64));
        bytes.extend_from_slice(message);
        STANDARD.encode(bytes)
    }

    #[test]
    fn a_transaction_is_identified_by_its_message_not_its_signatures() {
        let signed = wire(2, b"message");
        let mut resigned = STANDARD.decode(&signed).unwrap();
        resigned[1] = 0;
        let resigned = STANDARD.encode(resigned);
        assert_eq!(transaction(&signed), transaction(&resigned));
        assert_ne!(transaction(&signed), transaction(&wire(2, b"other")));
        for bad in [
            "%%",
            "",
            &STANDARD.encode([2u8; 100]),
            &STANDARD.encode([0x80u8; 3]),
        ] {
            assert!(transaction(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_escrow_receipt_is_identified_by_its_count_whoever_signed_it() {
        let allowance = Pubkey::new_from_array([4; 32]);
        let payload = json!({"allowance": allowance.to_string(), "generation": "7", "cumulative": "100",
                             "signer": "x", "signature": "y"});
        let resigned = json!({"allowance": allowance.to_string(), "generation": "7", "cumulative": "100",
                              "signer": "z", "signature": "w"});
        assert_eq!(
            of_x402("paytab-escrow", &payload),
            of_x402("paytab-escrow", &resigned)
        );
        assert_eq!(
            of_x402("paytab-escrow", &payload).unwrap(),
            vec![escrow_receipt(&allowance, 7, 100)]
        );
        assert_ne!(
            escrow_receipt(&allowance, 7, 100),
            escrow_receipt(&allowance, 7, 101)
        );
        assert!(of_x402("paytab-escrow", &json!({"allowance": "x"})).is_err());
        assert!(of_x402("escrow", &payload).is_err(), "not paytab's scheme");
        assert!(of_x402("upto", &payload).is_err());
    }

    #[test]
    fn the_escrow_identity_vector_matches_the_specification() {
        let vector = paytab_protocol::doc_vectors::vector("payment-id-escrow-1");
        let allowance: Pubkey = vector["allowance"].parse().unwrap();
        assert_eq!(allowance, Pubkey::new_from_array([4; 32]));
        let id = escrow_receipt(
            &allowance,
            vector["generation"].parse().unwrap(),
            vector["cumulative"].parse().unwrap(),
        );
        let hex: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, vector["id"]);
    }

    #[test]
    fn identities_of_different_kinds_never_collide() {
        let id = [1u8; 16];
        assert_ne!(proof(&id), sign_in(&id));
        assert_ne!(mpp_challenge("a"), tagged("proof", &[b"a"]));
    }
}
