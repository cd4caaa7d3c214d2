//! Proofs: signing, verification, every refusal, keys, and the documented vector.

use ed25519_dalek::SigningKey;
use paytab_protocol::keys::KeyError;
use paytab_protocol::{Binding, KeyId, KeySet, Proof, ProofError, Scheme, Settlement};
use proptest::prelude::*;
use solana_pubkey::Pubkey;

const NOW: i64 = 1_790_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keys_with(signing: &[&SigningKey]) -> KeySet {
    let mut keys = KeySet::default();
    for key in signing {
        keys.insert(key.verifying_key(), NOW - 3_600, None);
    }
    keys
}

fn proof() -> Proof {
    Proof {
        key_id: KeyId([0; 8]),
        scheme: Scheme::Escrow,
        network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".to_string(),
        payer: Pubkey::new_from_array([1; 32]),
        pay_to: Pubkey::new_from_array([2; 32]),
        asset: Pubkey::new_from_array([3; 32]),
        amount: 10_000,
        binding: Binding::request("GET", "https://api.example.com/v1/quote?symbol=SOL"),
        issued_at: NOW,
        expires_at: NOW + 300,
        id: [9; 16],
        settlement: Settlement::Receipt {
            allowance: Pubkey::new_from_array([4; 32]),
            cumulative: 250_000,
        },
    }
}

#[test]
fn a_signed_proof_verifies_and_reads_back_what_was_signed() {
    let signer = key(7);
    let token = proof().sign(&signer).unwrap();

    let verified = Proof::verify(&token, &keys_with(&[&signer]), NOW + 10).unwrap();

    assert_eq!(
        verified,
        Proof {
            key_id: KeyId::of(&signer.verifying_key()),
            ..proof()
        }
    );
    assert!(
        token.len() <= paytab_protocol::proof::MAX_TOKEN_LEN,
        "a proof fits a header: {} chars",
        token.len()
    );
}

#[test]
fn transaction_settlements_round_trip_too() {
    let signer = key(7);
    let exact = Proof {
        scheme: Scheme::Exact,
        settlement: Settlement::Transaction([5; 64]),
        ..proof()
    };
    let token = exact.sign(&signer).unwrap();
    let verified = Proof::verify(&token, &keys_with(&[&signer]), NOW).unwrap();
    assert_eq!(verified.settlement, Settlement::Transaction([5; 64]));
    assert_eq!(verified.scheme, Scheme::Exact);
}

#[test]
fn changing_any_byte_of_a_proof_makes_it_refused() {
    let signer = key(7);
    let keys = keys_with(&[&signer]);
    let token = proof().sign(&signer).unwrap();
    let (_, signed, signature) = Proof::decode(&token).unwrap();
    let mut bytes = signed.clone();
    bytes.extend_from_slice(&signature.to_bytes());
    use base64::Engine;
    for index in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[index] ^= 0x01;
        let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered);
        assert!(
            Proof::verify(&tampered, &keys, NOW).is_err(),
            "byte {index} changed yet accepted"
        );
    }
}

#[test]
fn an_expired_proof_is_refused() {
    let signer = key(7);
    let token = proof().sign(&signer).unwrap();
    assert_eq!(
        Proof::verify(&token, &keys_with(&[&signer]), NOW + 300),
        Err(ProofError::Expired(NOW + 300))
    );
}

#[test]
fn a_proof_issued_in_the_future_is_refused() {
    let signer = key(7);
    let token = Proof {
        issued_at: NOW + 60,
        expires_at: NOW + 600,
        ..proof()
    }
    .sign(&signer)
    .unwrap();
    assert_eq!(
        Proof::verify(&token, &keys_with(&[&signer]), NOW),
        Err(ProofError::NotYetValid(NOW + 60))
    );
}

#[test]
fn a_proof_signed_by_an_unknown_key_is_refused() {
    let token = proof().sign(&key(8)).unwrap();
    let result = Proof::verify(&token, &keys_with(&[&key(7)]), NOW);
    assert!(matches!(result, Err(ProofError::UnknownKey(_))));
}

#[test]
fn a_proof_whose_key_id_names_another_key_is_refused() {
    // Signed by key 8, but claiming key 7's id.
    let signer = key(8);
    let mut forged = proof();
    forged.key_id = KeyId::of(&key(7).verifying_key());
    let token = forged.sign(&signer).unwrap();
    let (claimed, ..) = Proof::decode(&token).unwrap();
    assert_eq!(
        claimed.key_id,
        KeyId::of(&signer.verifying_key()),
        "sign sets the key id"
    );
    let result = Proof::verify(&token, &keys_with(&[&key(7)]), NOW);
    assert!(matches!(result, Err(ProofError::UnknownKey(_))));
}

#[test]
fn rotated_keys_are_both_accepted_until_the_old_one_retires() {
    let (old, new) = (key(7), key(8));
    let mut keys = KeySet::default();
    keys.insert(old.verifying_key(), NOW - 3_600, Some(NOW + 100));
    keys.insert(new.verifying_key(), NOW, None);
    let old_token = proof().sign(&old).unwrap();
    let new_token = proof().sign(&new).unwrap();

    assert!(Proof::verify(&old_token, &keys, NOW).is_ok());
    assert!(Proof::verify(&new_token, &keys, NOW).is_ok());
    assert!(matches!(
        Proof::verify(&old_token, &keys, NOW + 101),
        Err(ProofError::UnknownKey(_))
    ));
    assert!(Proof::verify(&new_token, &keys, NOW + 101).is_ok());
}

#[test]
fn published_keys_round_trip_and_a_wrong_key_id_is_refused() {
    let keys = keys_with(&[&key(7), &key(8)]);
    let published = keys.published();
    assert_eq!(published.len(), 2);
    let mut copy = KeySet::default();
    for key in &published {
        copy.insert_published(key).unwrap();
    }
    assert_eq!(copy.published(), published);
    let json = serde_json::to_value(&published[0]).unwrap();
    assert!(json.get("keyId").is_some() && json.get("publicKey").is_some());

    let mut wrong = published[0].clone();
    wrong.key_id = "0000000000000000".to_string();
    assert!(matches!(
        copy.insert_published(&wrong),
        Err(KeyError::KeyIdMismatch(_))
    ));
    wrong.public_key = "not-base58!".to_string();
    assert!(matches!(
        copy.insert_published(&wrong),
        Err(KeyError::InvalidKey(_))
    ));
}

#[test]
fn bindings_separate_methods_urls_and_challenges() {
    let get = Binding::request("GET", "https://a.example/x");
    assert_eq!(get, Binding::request("get", "https://a.example/x"));
    assert_ne!(get, Binding::request("POST", "https://a.example/x"));
    assert_ne!(get, Binding::request("GET", "https://a.example/y"));
    assert_ne!(Binding::challenge("abc"), Binding::request("abc", ""));
}

#[test]
fn an_overlong_network_id_cannot_be_signed() {
    let long = Proof {
        network: "x".repeat(65),
        ..proof()
    };
    assert!(matches!(long.sign(&key(7)), Err(ProofError::Malformed(_))));
}

#[test]
fn malformed_tokens_get_a_clear_reason() {
    let keys = keys_with(&[&key(7)]);
    for (token, reason) in [
        ("", "too short"),
        ("%%%", "not base64url"),
        (&"A".repeat(800), "token too long"),
    ] {
        assert_eq!(
            Proof::verify(token, &keys, NOW),
            Err(ProofError::Malformed(reason)),
            "{token:.20}"
        );
    }
}

proptest! {
    #[test]
    fn arbitrary_tokens_never_panic(token in "[A-Za-z0-9_-]{0,800}") {
        let _ = Proof::verify(&token, &keys_with(&[&key(7)]), NOW);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        use base64::Engine;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let _ = Proof::decode(&token);
    }
}

#[test]
fn the_proof_vector_matches_the_encoder() {
    let vector = paytab_protocol::doc_vectors::vector("proof-1");
    let field = |name: &str| {
        vector
            .get(name)
            .unwrap_or_else(|| panic!("vector lacks {name}"))
            .clone()
    };
    let token = proof().sign(&key(7)).unwrap();
    assert_eq!(
        field("token"),
        token,
        "docs/protocol.md disagrees with the code"
    );
    assert_eq!(field("key_id"), KeyId::of(&key(7).verifying_key()).to_hex());
    let binding: String = proof()
        .binding
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(field("binding"), binding);
}
