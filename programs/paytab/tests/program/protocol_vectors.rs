//! The test vectors in docs/protocol.md: each is recomputed from its inputs and
//! must match the document byte for byte, and its signature must verify on chain.

use std::collections::HashMap;

use anchor_lang::prelude::Pubkey;
use paytab::receipt::{BatchAttestation, Receipt};
use solana_keypair::Keypair;
use solana_signer::Signer;

const PROTOCOL_DOC: &str = include_str!("../../../../docs/protocol.md");

/// The `key value` lines of the text block that follows `<!-- vector: NAME -->`.
fn vector(name: &str) -> HashMap<String, String> {
    let marker = format!("<!-- vector: {name} -->");
    let start = PROTOCOL_DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/protocol.md has no vector {name}"));
    let block = PROTOCOL_DOC[start..]
        .split("```")
        .nth(1)
        .expect("a fenced block follows the marker");
    block
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(char::is_whitespace))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn field<'a>(vector: &'a HashMap<String, String>, key: &str) -> &'a str {
    vector
        .get(key)
        .unwrap_or_else(|| panic!("vector lacks {key}"))
}

fn signer(vector: &HashMap<String, String>) -> Keypair {
    let seed = field(vector, "signer_seed");
    let bytes: Vec<u8> = (0..seed.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&seed[i..i + 2], 16).unwrap())
        .collect();
    Keypair::new_from_array(bytes.try_into().unwrap())
}

/// Checks the signer, message and signature lines of `vector` against `message`.
fn check_signed(vector: &HashMap<String, String>, message: &[u8]) {
    let signer = signer(vector);
    let signature = signer.sign_message(message);
    let computed = format!(
        "signer_pubkey {}\nmessage {}\nsignature {}",
        signer.pubkey(),
        hex(message),
        hex(signature.as_ref())
    );
    let documented = format!(
        "signer_pubkey {}\nmessage {}\nsignature {}",
        field(vector, "signer_pubkey"),
        field(vector, "message"),
        field(vector, "signature")
    );
    assert_eq!(
        documented, computed,
        "docs/protocol.md disagrees with the code"
    );
    let verify = crate::ix::ed25519_verify(&signer, message);
    let (key, signed) = paytab::ed25519::parse_canonical(&verify.data).unwrap();
    assert_eq!((key, signed), (signer.pubkey(), message));
}

#[test]
fn the_receipt_vector_matches_the_encoder() {
    let v = vector("receipt-1");
    let receipt = Receipt {
        allowance: field(&v, "allowance").parse::<Pubkey>().unwrap(),
        generation: field(&v, "generation").parse().unwrap(),
        cumulative: field(&v, "cumulative").parse().unwrap(),
        expires_at: field(&v, "expires_at").parse().unwrap(),
    };
    let bytes = receipt.to_bytes();
    check_signed(&v, &bytes);
    assert_eq!(Receipt::parse(&bytes), Ok(receipt));
}

#[test]
fn the_batch_attestation_vector_matches_the_encoder() {
    let v = vector("batch-1");
    let entries: Vec<(Pubkey, u64, u64)> = (1..=2)
        .map(|i| {
            (
                field(&v, &format!("allowance_{i}")).parse().unwrap(),
                field(&v, &format!("generation_{i}")).parse().unwrap(),
                field(&v, &format!("cumulative_{i}")).parse().unwrap(),
            )
        })
        .collect();
    let expires_at = field(&v, "expires_at").parse().unwrap();
    let bytes = BatchAttestation::encode(expires_at, &entries);
    check_signed(&v, &bytes);
    let parsed = BatchAttestation::parse(&bytes).unwrap();
    assert_eq!(hex(&parsed.entries_hash), field(&v, "entries_hash"));
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed.cumulative(1), Some(entries[1].2));
}

#[test]
fn the_canonical_ed25519_head_vector_matches() {
    let v = vector("ed25519-head-58");
    assert_eq!(hex(&paytab::ed25519::canonical_head(58)), field(&v, "head"));
}
