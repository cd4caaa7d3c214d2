//! What claiming costs the facilitator: transactions and lamports to claim
//! 1,000 allowances (of 1,000 payers) with legacy transactions and with
//! address lookup tables, on the embedded localnet.
//!
//! `cargo bench -p paytab-facilitator --bench claims_cost [-- ALLOWANCES]`
//!
//! Rounds, each after one more receipt per allowance: (1) legacy transactions
//! only; (2) lookup tables, created in that round; (3) the same tables
//! reused; then the tables idle out: deactivated, and closed once their
//! deactivation slot is no longer recent, which returns their rent.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{bodies, setup, Setup};
use paytab_facilitator::chain::ChainReader;
use paytab_facilitator::claimer::{ClaimRound, Claimer, ClaimerConfig, TableConfig};
use paytab_facilitator::{Facilitator, Settings};
use serde_json::Value;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

const API_KEY: &str = "bench-api-key";

/// Settles receipt number `step` of every payer.
async fn settle_all(setup: &Setup, facilitator: &Facilitator, step: u64) {
    let http = reqwest::Client::new();
    let url = format!("{}/settle", facilitator.url());
    for payer in 0..setup.payers.len() {
        let body = bodies(setup, payer, step - 1, 1).remove(0);
        let answer: Value = http
            .post(&url)
            .bearer_auth(API_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["success"], true, "{answer}");
    }
}

fn claimer(setup: &Setup, facilitator: &Facilitator, tables: Option<TableConfig>) -> Claimer {
    let rpc = Arc::new(RpcClient::new_with_commitment(
        setup.localnet.rpc_url(),
        CommitmentConfig::confirmed(),
    ));
    Claimer::new(
        Arc::new(ChainReader::new(rpc, Duration::ZERO)),
        facilitator.store().clone(),
        Arc::new(setup.facilitator_key.insecure_clone()),
        ClaimerConfig {
            min_claim: 0,
            lookup_tables: tables,
            ..ClaimerConfig::default()
        },
    )
}

/// Runs rounds until nothing is claimed; returns their sum and the
/// delegate's lamports spent (negative: received).
async fn claim(setup: &Setup, claimer: &Claimer) -> (ClaimRound, i128) {
    let rpc =
        RpcClient::new_with_commitment(setup.localnet.rpc_url(), CommitmentConfig::confirmed());
    let delegate = setup.facilitator_key.pubkey();
    let before = rpc.get_balance(&delegate).await.unwrap();
    let mut total = ClaimRound::default();
    loop {
        let round = claimer.run_once().await.unwrap();
        let done = round.confirmed == 0 && round.table_transactions == 0;
        total.confirmed += round.confirmed;
        total.failed += round.failed;
        total.paid += round.paid;
        total.lookup_claims += round.lookup_claims;
        total.legacy_claims += round.legacy_claims;
        total.tables_created += round.tables_created;
        total.table_transactions += round.table_transactions;
        total.tables_closed += round.tables_closed;
        total.table_rent_recovered += round.table_rent_recovered;
        if done {
            break;
        }
    }
    let after = rpc.get_balance(&delegate).await.unwrap();
    (total, i128::from(before) - i128::from(after))
}

fn report(label: &str, allowances: usize, round: &ClaimRound, spent: i128) {
    let per_thousand = |value: f64| value * 1_000.0 / allowances as f64;
    println!(
        "{label}: {} claim transactions ({} v0, {} legacy) + {} table transactions; \
         lamports {spent} ({:.0} per 1,000 allowances); tables created {}, closed {}, rent returned {}",
        round.confirmed,
        round.lookup_claims,
        round.legacy_claims,
        round.table_transactions,
        per_thousand(spent as f64),
        round.tables_created,
        round.tables_closed,
        round.table_rent_recovered,
    );
    assert_eq!(round.failed, 0);
}

fn main() {
    let allowances: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        println!(
            "claims cost benchmark: {allowances} allowances of {allowances} payers, one provider"
        );
        let setup = setup(allowances).await;
        // The provider needs a token account to be paid.
        setup.localnet.chain.mint_usdc(&setup.provider, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::new(
            setup.localnet.rpc_url(),
            dir.path().join("claims.db").display().to_string(),
            setup.facilitator_key.insecure_clone(),
        )
        .with_client("bench", API_KEY);
        settings.claimer = None;
        settings.min_amount = common::PRICE;
        let facilitator = Facilitator::start(settings).await.unwrap();

        settle_all(&setup, &facilitator, 1).await;
        let (round, spent) = claim(&setup, &claimer(&setup, &facilitator, None)).await;
        report("(1) legacy", allowances, &round, spent);

        let tables = claimer(&setup, &facilitator, Some(TableConfig::default()));
        settle_all(&setup, &facilitator, 2).await;
        let (round, spent) = claim(&setup, &tables).await;
        report(
            "(2) lookup tables, created this round",
            allowances,
            &round,
            spent,
        );

        settle_all(&setup, &facilitator, 3).await;
        let (round, spent) = claim(&setup, &tables).await;
        report("(3) lookup tables, reused", allowances, &round, spent);

        let idle = claimer(
            &setup,
            &facilitator,
            Some(TableConfig {
                idle: Duration::ZERO,
                ..TableConfig::default()
            }),
        );
        let (round, spent) = claim(&setup, &idle).await;
        report("(4) idle tables deactivated", allowances, &round, spent);
        for _ in 0..520 {
            setup.localnet.chain.advance_slot();
        }
        let (round, spent) = claim(&setup, &idle).await;
        report("(5) deactivated tables closed", allowances, &round, spent);
        facilitator.shutdown().await;
    });
}
