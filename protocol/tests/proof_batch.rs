//! Proof batches: every proof of a batch verifies on its own, one signature
//! check serves the whole batch, and no change to a proof, a path or a
//! signature gets through, with or without the set of verified roots.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use paytab_protocol::proof_batch::{root_of, sign_batch, VerifiedRoots, MAX_BATCH};
use paytab_protocol::{Binding, KeyId, KeySet, Proof, ProofError, Scheme, Settlement};
use solana_pubkey::Pubkey;

const NOW: i64 = 1_790_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keys() -> KeySet {
    let mut keys = KeySet::default();
    keys.insert(key(7).verifying_key(), NOW - 3_600, None);
    keys
}

/// The documented proof with id `09` × 16, then its siblings with ids
/// counting up from `0a`.
fn proofs(count: usize) -> Vec<Proof> {
    (0..count)
        .map(|index| Proof {
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
            id: [9 + index as u8; 16],
            settlement: Settlement::Receipt {
                allowance: Pubkey::new_from_array([4; 32]),
                cumulative: 250_000 + index as u64 * 10_000,
            },
        })
        .collect()
}

/// `token` with the byte at `at` (from its end when negative) changed.
fn tampered(token: &str, at: isize) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    let index = if at < 0 {
        bytes.len() - at.unsigned_abs()
    } else {
        at as usize
    };
    bytes[index] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn every_proof_of_a_batch_of_any_size_verifies_on_its_own() {
    for count in [2, 3, 5, 8, 31, 32, MAX_BATCH] {
        let batch = proofs(count);
        let tokens = sign_batch(&batch, &key(7)).unwrap();
        assert_eq!(tokens.len(), count);
        for (token, proof) in tokens.iter().zip(&batch) {
            let verified = Proof::verify(token, &keys(), NOW).unwrap();
            assert_eq!(verified.id, proof.id, "batch of {count}");
            assert_eq!(verified.settlement, proof.settlement);
            assert!(
                token.len() <= paytab_protocol::proof::MAX_TOKEN_LEN,
                "{}",
                token.len()
            );
        }
    }
}

#[test]
fn a_batch_of_one_is_a_single_proof_and_more_than_sixty_four_are_refused() {
    let one = sign_batch(&proofs(1), &key(7)).unwrap();
    assert_eq!(one[0], proofs(1)[0].sign(&key(7)).unwrap());
    assert!(sign_batch(&proofs(MAX_BATCH + 1), &key(7)).is_err());
}

#[test]
fn the_proofs_of_one_batch_cost_one_signature_check_with_the_verified_roots() {
    let tokens = sign_batch(&proofs(32), &key(7)).unwrap();
    let roots = VerifiedRoots::new(16);
    for token in &tokens {
        Proof::verify_with(token, &keys(), NOW, Some(&roots)).unwrap();
    }
    assert_eq!(roots.len(), 1, "one root for the batch");
    // Another batch, another root; the set stays within its size.
    for _ in 0..20 {
        let more = sign_batch(&proofs(2), &key(7)).unwrap();
        Proof::verify_with(&more[0], &keys(), NOW, Some(&roots)).unwrap();
    }
    assert!(roots.len() <= 16);
}

#[test]
fn a_changed_proof_path_or_signature_is_refused_even_when_its_root_was_verified() {
    let tokens = sign_batch(&proofs(5), &key(7)).unwrap();
    let roots = VerifiedRoots::default();
    Proof::verify_with(&tokens[0], &keys(), NOW, Some(&roots)).unwrap();
    // Byte 50 is inside the leaf (the payer); -70 inside the last path
    // entry's hash; -1 the signature's last byte.
    for at in [50, -70, -1] {
        let changed = tampered(&tokens[1], at);
        for roots in [None, Some(&roots)] {
            assert!(
                Proof::verify_with(&changed, &keys(), NOW, roots).is_err(),
                "byte {at} changed, roots {}",
                roots.is_some()
            );
        }
    }
}

#[test]
fn a_batch_signed_by_an_unknown_key_or_out_of_its_time_is_refused() {
    let foreign = sign_batch(&proofs(3), &key(8)).unwrap();
    assert!(matches!(
        Proof::verify(&foreign[2], &keys(), NOW),
        Err(ProofError::UnknownKey(_))
    ));
    let tokens = sign_batch(&proofs(3), &key(7)).unwrap();
    assert_eq!(
        Proof::verify(&tokens[2], &keys(), NOW + 300),
        Err(ProofError::Expired(NOW + 300))
    );
}

#[test]
fn a_path_longer_than_six_levels_is_refused_unread() {
    let tokens = sign_batch(&proofs(2), &key(7)).unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(&tokens[0]).unwrap();
    let leaf_len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
    bytes[4 + leaf_len] = 7;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    assert_eq!(
        Proof::verify(&token, &keys(), NOW),
        Err(ProofError::Malformed("proof batch path too long"))
    );
}

#[test]
fn the_documented_batch_vector_matches() {
    let vector = paytab_protocol::doc_vectors::vector("proof-batch-1");
    let field = |name: &str| {
        vector
            .get(name)
            .unwrap_or_else(|| panic!("vector lacks {name}"))
            .clone()
    };
    let tokens = sign_batch(&proofs(3), &key(7)).unwrap();
    let root: String = root_of(&tokens[0])
        .unwrap()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        field("root"),
        root,
        "docs/protocol.md disagrees with the code"
    );
    assert_eq!(root_of(&tokens[2]).unwrap(), root_of(&tokens[0]).unwrap());
    assert_eq!(
        field("token0"),
        tokens[0],
        "docs/protocol.md disagrees with the code"
    );
    assert_eq!(
        field("token2"),
        tokens[2],
        "docs/protocol.md disagrees with the code"
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_after_the_batch_magic_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)
    ) {
        let mut token = vec![0x50, 0x20];
        token.extend(bytes);
        let token = URL_SAFE_NO_PAD.encode(token);
        let _ = Proof::verify_with(&token, &keys(), NOW, Some(&VerifiedRoots::default()));
    }
}
