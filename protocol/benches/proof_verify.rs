//! Proof verification throughput on one core: `cargo bench -p paytab-protocol`.
//!
//! Prints checks per second for the full check a gateway runs on a proof
//! (decode, key lookup, signature, time window).

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
    let token = Proof {
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
    }
    .sign(&key)
    .expect("the bench proof signs");

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
}
