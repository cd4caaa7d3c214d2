//! Proof verification throughput on one core: `cargo bench -p paytab-protocol`.
//!
//! Prints checks per second for the full check a gateway runs on a proof
//! (decode, key lookup, signature, time window) with the key's precomputed
//! tables, and for comparison the same check with ed25519-dalek's plain
//! `VerifyingKey::verify`.

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::{SigningKey, Verifier};
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

    keys.warm();
    let precomputed = measure("precomputed tables", || {
        Proof::verify(black_box(&token), &keys, NOW).is_ok()
    });
    let plain = measure("plain verify", || plain_check(black_box(&token), &keys));
    println!(
        "proof check per core: {precomputed:.0}/s with precomputed tables (target >= 30000), \
         {plain:.0}/s with the plain check ({:.2}x)",
        precomputed / plain
    );
}

/// Runs `check` in rounds on this thread and returns the best rate per second.
fn measure(label: &str, mut check: impl FnMut() -> bool) -> f64 {
    let mut best = 0.0f64;
    for round in 1..=ROUNDS {
        let started = Instant::now();
        for _ in 0..CHECKS_PER_ROUND {
            assert!(check(), "the bench proof verifies");
        }
        let per_second = f64::from(CHECKS_PER_ROUND) / started.elapsed().as_secs_f64();
        best = best.max(per_second);
        println!("{label}, round {round}: {per_second:>9.0} proof checks/s on one core");
    }
    best
}

/// The same check as [`Proof::verify`] with ed25519-dalek's own verification.
fn plain_check(token: &str, keys: &KeySet) -> bool {
    let Ok((proof, signed, signature)) = Proof::decode(token) else {
        return false;
    };
    let Some(key) = keys.valid_at(&proof.key_id, NOW) else {
        return false;
    };
    key.key().verify(&signed, &signature).is_ok() && NOW < proof.expires_at
}
