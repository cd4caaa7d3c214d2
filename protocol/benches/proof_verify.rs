//! Proof verification throughput on one core: `cargo bench -p paytab-protocol`.
//!
//! Prints checks per second for the full check a gateway runs on a proof
//! (decode, key lookup, signature, time window), one proof at a time and in
//! batches of 64 verified together (ed25519-dalek batch verification), as a
//! gateway under load could group concurrent requests.

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use paytab_protocol::{Binding, KeyId, KeySet, Proof, Scheme, Settlement};
use solana_pubkey::Pubkey;

const NOW: i64 = 1_790_000_000;
const ROUNDS: u32 = 5;
const CHECKS_PER_ROUND: u32 = 20_000;

fn main() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut keys = KeySet::default();
    keys.insert(key.verifying_key(), 0, None);
    let proof = Proof {
        key_id: KeyId([0; 8]),
        scheme: Scheme::Escrow,
        network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".to_string(),
        payer: Pubkey::new_from_array([1; 32]),
        pay_to: Pubkey::new_from_array([2; 32]),
        asset: Pubkey::new_from_array([3; 32]),
        amount: 10_000,
        binding: Binding::request("GET", "https://api.example.com/v1/quote"),
        issued_at: NOW,
        expires_at: NOW + 300,
        id: [9; 16],
        settlement: Settlement::Receipt {
            allowance: Pubkey::new_from_array([4; 32]),
            cumulative: 250_000,
        },
    };
    let token = proof.sign(&key).expect("the bench proof signs");

    let mut best = 0.0f64;
    for round in 1..=ROUNDS {
        let started = Instant::now();
        for _ in 0..CHECKS_PER_ROUND {
            let verified = Proof::verify(black_box(&token), &keys, NOW);
            assert!(verified.is_ok());
        }
        let per_second = f64::from(CHECKS_PER_ROUND) / started.elapsed().as_secs_f64();
        best = best.max(per_second);
        println!("round {round}: {per_second:>9.0} proof checks/s on one core");
    }
    println!("best: {best:.0} proof checks/s per core (target >= 30000)");

    for batch in BATCHES {
        let tokens: Vec<String> = (0..batch)
            .map(|index| {
                let mut distinct = proof.clone();
                distinct.id[..4].copy_from_slice(&index.to_le_bytes());
                distinct.sign(&key).expect("the bench proof signs")
            })
            .collect();
        let mut best = 0.0f64;
        for round in 1..=ROUNDS {
            let started = Instant::now();
            for _ in 0..CHECKS_PER_ROUND / batch {
                assert!(check_batch(black_box(&tokens), &keys));
            }
            let per_second =
                f64::from(CHECKS_PER_ROUND / batch * batch) / started.elapsed().as_secs_f64();
            best = best.max(per_second);
            println!(
                "round {round}: {per_second:>9.0} proof checks/s on one core, batches of {batch}"
            );
        }
        println!("best: {best:.0} proof checks/s per core in batches of {batch}");
    }
}

/// Batch sizes measured.
const BATCHES: [u32; 2] = [64, 256];

/// Decodes every token, looks up its key, checks its time window, and verifies
/// all signatures together.
fn check_batch(tokens: &[String], keys: &KeySet) -> bool {
    let mut messages = Vec::with_capacity(tokens.len());
    let mut signatures = Vec::with_capacity(tokens.len());
    let mut verifying_keys = Vec::with_capacity(tokens.len());
    for token in tokens {
        let Ok((proof, signed, signature)) = Proof::decode(token) else {
            return false;
        };
        let Some(key) = keys.valid_at(&proof.key_id, NOW) else {
            return false;
        };
        if NOW >= proof.expires_at {
            return false;
        }
        messages.push(signed);
        signatures.push(signature);
        verifying_keys.push(*key);
    }
    let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &verifying_keys).is_ok()
}
