//! The `escrow` scheme over HTTP against the embedded localnet: valid
//! receipts, and one test per way a receipt can be wrong.

use paytab_protocol::keys::{KeySet, PublishedKey};
use paytab_protocol::proof::{Proof, Scheme, Settlement};
use serde_json::Value;
use solana_keypair::Keypair;
use solana_signer::Signer;
use std::time::Duration;

use crate::support::{now, Payer, Terms, World};

const PRICE: u64 = 10_000;

async fn settle(world: &World, provider: &Keypair, payload: Value) -> Value {
    let body = world.body(
        &world.escrow_requirement(&provider.pubkey(), PRICE),
        payload,
    );
    let (status, answer) = world.post("/settle", &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn verify(world: &World, provider: &Keypair, payload: Value) -> Value {
    let body = world.body(
        &world.escrow_requirement(&provider.pubkey(), PRICE),
        payload,
    );
    let (status, answer) = world.post("/verify", &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn assert_refused(answer: &Value, reason: &str) {
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["errorReason"], reason, "{answer}");
    assert!(answer["errorMessage"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

/// The facilitator's stored accepted watermark of `payer`'s allowance.
async fn accepted(world: &World, payer: &Payer) -> u64 {
    let store = world.facilitator().store();
    store
        .watermark(&payer.allowance)
        .await
        .unwrap()
        .unwrap()
        .accepted
}

async fn published_keys(world: &World) -> KeySet {
    let (_, answer) = world.get("/keys").await;
    let keys: Vec<PublishedKey> = serde_json::from_value(answer["keys"].clone()).unwrap();
    let mut set = KeySet::default();
    for key in &keys {
        set.insert_published(key).unwrap();
    }
    set
}

/// How long the facilitator trusts a cached allowance in tests that change one.
const CACHE_TTL: Duration = Duration::from_millis(300);

async fn world_with_payer(terms: Terms) -> (World, Keypair, Payer) {
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.chain_cache_ttl = CACHE_TTL;
    })
    .await;
    let provider = world.wallet(0).await;
    let payer = world.payer(&provider.pubkey(), terms).await;
    (world, provider, payer)
}

#[tokio::test]
async fn a_receipt_for_the_next_price_settles_with_a_proof_that_verifies_against_the_published_keys(
) {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    let answer = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["payer"], payer.owner().to_string());
    assert_eq!(answer["amount"], PRICE.to_string());
    assert_eq!(answer["transaction"], "");
    assert_eq!(answer["network"], world.network());
    let paytab = &answer["extensions"]["paytab"];
    assert_eq!(paytab["acceptedCumulative"], PRICE.to_string());

    let proof = Proof::verify(
        paytab["proof"].as_str().unwrap(),
        &published_keys(&world).await,
        now(),
    )
    .unwrap();
    assert_eq!(proof.scheme, Scheme::Escrow);
    assert_eq!(proof.payer, payer.owner());
    assert_eq!(proof.pay_to, provider.pubkey());
    assert_eq!(proof.asset, world.mint());
    assert_eq!(proof.amount, PRICE);
    assert_eq!(proof.network, world.network());
    assert_eq!(
        proof.settlement,
        Settlement::Receipt {
            allowance: payer.allowance,
            cumulative: PRICE
        }
    );
    assert_eq!(
        proof.binding,
        paytab_protocol::proof::Binding::request("GET", "https://api.example/v1/quote")
    );

    let second = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_eq!(second["success"], true, "{second}");
    assert_eq!(
        second["extensions"]["paytab"]["acceptedCumulative"],
        (2 * PRICE).to_string()
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_sent_again_is_a_duplicate_carrying_its_first_proof_and_moves_nothing() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    let receipt = payer.next_receipt(PRICE);
    let first = settle(&world, &provider, receipt.clone()).await;
    assert_eq!(first["success"], true, "{first}");
    let proof = &first["extensions"]["paytab"]["proof"];

    let again = settle(&world, &provider, receipt.clone()).await;
    assert_eq!(
        again["success"], false,
        "never a second settlement: {again}"
    );
    assert_eq!(again["errorReason"], "duplicate_settlement");
    assert_eq!(
        &again["extensions"]["paytab"]["proof"], proof,
        "the answer can be recovered"
    );

    let body = world.body(
        &world.escrow_requirement(&provider.pubkey(), PRICE),
        receipt,
    );
    let (status, verified) = world.post("/verify", &body).await;
    assert_eq!(status, 200);
    assert_eq!(verified["isValid"], false);
    assert_eq!(verified["invalidReason"], "duplicate_settlement");
    assert_eq!(&verified["extensions"]["paytab"]["proof"], proof);
    assert_eq!(accepted(&world, &payer).await, PRICE);
    world.shutdown().await;
}

#[tokio::test]
async fn a_stale_receipt_is_refused_with_the_accepted_cumulative_and_the_client_resyncs() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;

    // A client that lost count signs a new receipt for 1 × PRICE.
    let stale = settle(
        &world,
        &provider,
        payer.receipt_signed_by(&payer.keypair, PRICE, now() + 3_600),
    )
    .await;
    assert_refused(&stale, "invalid_escrow_payload_stale_cumulative");
    let accepted: u64 = stale["extensions"]["paytab"]["acceptedCumulative"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(accepted, 2 * PRICE);

    // One that skips ahead is refused the same way.
    let ahead = settle(&world, &provider, payer.receipt(5 * PRICE)).await;
    assert_refused(&ahead, "invalid_escrow_payload_stale_cumulative");

    let resynced = settle(&world, &provider, payer.receipt(accepted + PRICE)).await;
    assert_eq!(resynced["success"], true, "{resynced}");
    world.shutdown().await;
}

#[tokio::test]
async fn verify_checks_a_receipt_without_accepting_it() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    let receipt = payer.next_receipt(PRICE);
    let answer = verify(&world, &provider, receipt.clone()).await;
    assert_eq!(answer["isValid"], true, "{answer}");
    assert_eq!(answer["payer"], payer.owner().to_string());
    let again = verify(&world, &provider, receipt.clone()).await;
    assert_eq!(
        again["isValid"], true,
        "verify must not advance the watermark"
    );
    assert_eq!(settle(&world, &provider, receipt).await["success"], true);
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_beyond_the_cap_is_refused_as_insufficient_funds() {
    let terms = Terms {
        cap: 2 * PRICE,
        ..Terms::default()
    };
    let (world, provider, mut payer) = world_with_payer(terms).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    let over = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_refused(&over, "insufficient_funds");
    assert_eq!(over["payer"], payer.owner().to_string());
    world.shutdown().await;
}

#[tokio::test]
async fn a_raised_cap_is_seen_on_the_next_receipt() {
    let terms = Terms {
        cap: PRICE,
        ..Terms::default()
    };
    let (world, provider, mut payer) = world_with_payer(terms).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    world
        .send(
            &[payer.escrow.raise(&provider.pubkey(), 3 * PRICE, 0)],
            &[&payer.keypair],
        )
        .await
        .unwrap();
    let answer = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_eq!(answer["success"], true, "{answer}");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_on_a_revoked_allowance_is_refused_once_the_cached_copy_expires() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    world
        .send(
            &[payer.escrow.reduce(&provider.pubkey(), 0)],
            &[&payer.keypair],
        )
        .await
        .unwrap();
    tokio::time::sleep(CACHE_TTL).await;
    let answer = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_refused(&answer, "invalid_escrow_payload_allowance_revoked");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_on_an_allowance_about_to_expire_is_refused() {
    let terms = Terms {
        expires_at: now() + 30,
        ..Terms::default()
    };
    let (world, provider, mut payer) = world_with_payer(terms).await;
    let answer = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_refused(&answer, "invalid_escrow_payload_allowance_expired");
    world.shutdown().await;
}

#[tokio::test]
async fn an_expired_receipt_is_refused() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let receipt = payer.receipt_signed_by(&payer.keypair, PRICE, now() - 5);
    let answer = settle(&world, &provider, receipt).await;
    assert_refused(&answer, "invalid_escrow_payload_receipt_expired");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_signed_by_another_key_is_refused() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let stranger = Keypair::new();
    let receipt = payer.receipt_signed_by(&stranger, PRICE, 0);
    let answer = settle(&world, &provider, receipt).await;
    assert_refused(&answer, "invalid_escrow_payload_unauthorized_signer");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_whose_signature_does_not_verify_is_refused() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let mut receipt = payer.receipt(PRICE);
    receipt["cumulative"] = Value::String((2 * PRICE).to_string());
    let answer = settle(&world, &provider, receipt).await;
    assert_refused(&answer, "invalid_escrow_payload_signature");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_signed_by_a_live_session_key_settles_and_one_by_a_cleared_key_does_not() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let agent = Keypair::new();
    world
        .send(
            &[payer.escrow.set_session_key(agent.pubkey(), now() + 3_600)],
            &[&payer.keypair],
        )
        .await
        .unwrap();
    let answer = settle(&world, &provider, payer.receipt_signed_by(&agent, PRICE, 0)).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["payer"], payer.owner().to_string());

    world
        .send(&[payer.escrow.clear_session_key()], &[&payer.keypair])
        .await
        .unwrap();
    tokio::time::sleep(CACHE_TTL).await;
    let answer = settle(
        &world,
        &provider,
        payer.receipt_signed_by(&agent, 2 * PRICE, 0),
    )
    .await;
    assert_refused(&answer, "invalid_escrow_payload_unauthorized_signer");
    world.shutdown().await;
}

#[tokio::test]
async fn an_allowance_without_this_facilitator_as_delegate_is_refused() {
    let terms = Terms {
        delegate: Some(Keypair::new().pubkey()),
        ..Terms::default()
    };
    let (world, provider, payer) = world_with_payer(terms).await;
    let answer = settle(&world, &provider, payer.receipt(PRICE)).await;
    assert_refused(&answer, "invalid_escrow_payload_delegate_mismatch");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_presented_for_another_provider_or_mint_is_refused() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let other = Keypair::new();
    let body = world.body(
        &world.escrow_requirement(&other.pubkey(), PRICE),
        payer.receipt(PRICE),
    );
    let (_, answer) = world.post("/settle", &body).await;
    assert_refused(&answer, "invalid_escrow_payload_recipient_mismatch");

    let mut requirement = world.escrow_requirement(&provider.pubkey(), PRICE);
    requirement["asset"] = Value::String(Keypair::new().pubkey().to_string());
    let (_, answer) = world
        .post("/settle", &world.body(&requirement, payer.receipt(PRICE)))
        .await;
    assert_refused(&answer, "invalid_escrow_payload_mint_mismatch");
    world.shutdown().await;
}

#[tokio::test]
async fn a_receipt_for_an_unknown_allowance_is_refused() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    payer.allowance = Keypair::new().pubkey();
    let answer = settle(&world, &provider, payer.receipt(PRICE)).await;
    assert_refused(&answer, "invalid_escrow_payload_allowance_not_found");
    world.shutdown().await;
}

#[tokio::test]
async fn the_period_limit_caps_what_one_window_accepts() {
    let terms = Terms {
        period_secs: 86_400,
        period_limit: 2 * PRICE,
        ..Terms::default()
    };
    let (world, provider, mut payer) = world_with_payer(terms).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    settle(&world, &provider, payer.next_receipt(PRICE)).await;
    let answer = settle(&world, &provider, payer.next_receipt(PRICE)).await;
    assert_refused(&answer, "invalid_escrow_payload_period_limit");
    world.shutdown().await;
}

#[tokio::test]
async fn concurrent_receipts_on_one_allowance_settle_exactly_once() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let body = world.body(
        &world.escrow_requirement(&provider.pubkey(), PRICE),
        payer.receipt(PRICE),
    );
    // Eight different clients race with the same count but distinct receipts
    // would need distinct signatures; here the same receipt races itself and
    // one rival receipt (a different expiry) races for the same cumulative.
    let rival = world.body(
        &world.escrow_requirement(&provider.pubkey(), PRICE),
        payer.receipt_signed_by(&payer.keypair, PRICE, now() + 3_600),
    );
    let mut tasks = Vec::new();
    for index in 0..8 {
        let url = world.url("/settle");
        let http = world.http.clone();
        let body = if index % 2 == 0 {
            body.clone()
        } else {
            rival.clone()
        };
        tasks.push(tokio::spawn(async move {
            let answer: Value = http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer
        }));
    }
    let mut winners = Vec::new();
    let mut duplicates = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer["success"] == true {
            winners.push(answer["extensions"]["paytab"]["proof"].clone());
        } else if answer["errorReason"] == "duplicate_settlement" {
            duplicates.push(answer["extensions"]["paytab"]["proof"].clone());
        } else {
            assert_eq!(
                answer["errorReason"], "invalid_escrow_payload_stale_cumulative",
                "{answer}"
            );
        }
    }
    assert_eq!(winners.len(), 1, "exactly one settlement: {winners:?}");
    assert!(
        duplicates.iter().all(|proof| *proof == winners[0]),
        "copies of the winner carry its proof"
    );
    assert_eq!(accepted(&world, &payer).await, PRICE);
    world.shutdown().await;
}

#[tokio::test]
async fn malformed_escrow_payloads_are_refused_as_invalid_payload() {
    let (world, provider, payer) = world_with_payer(Terms::default()).await;
    let good = payer.receipt(PRICE);
    let mut cases: Vec<Value> = Vec::new();
    for field in [
        "allowance",
        "generation",
        "cumulative",
        "expiresAt",
        "signer",
        "signature",
    ] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(field);
        cases.push(missing);
    }
    let mut numeric = good.clone();
    numeric["cumulative"] = serde_json::json!(10_000);
    cases.push(numeric);
    let mut short = good.clone();
    short["signature"] = Value::String("3yZe7d".into());
    cases.push(short);
    let mut huge = good.clone();
    huge["cumulative"] = Value::String("184467440737095516160".into());
    cases.push(huge);
    for payload in cases {
        let answer = settle(&world, &provider, payload.clone()).await;
        assert_refused(&answer, "invalid_payload");
    }
    world.shutdown().await;
}

#[tokio::test]
async fn an_offer_naming_another_program_is_refused() {
    let (world, provider, mut payer) = world_with_payer(Terms::default()).await;
    let mut requirement = world.escrow_requirement(&provider.pubkey(), PRICE);
    requirement["extra"]["programId"] =
        serde_json::json!(solana_pubkey::Pubkey::new_unique().to_string());
    let body = world.body(&requirement, payer.next_receipt(PRICE));
    let (_, answer) = world.post("/settle", &body).await;
    assert_refused(&answer, "invalid_payment_requirements");
    let stored = world
        .facilitator()
        .store()
        .watermark(&payer.allowance)
        .await;
    assert!(stored.unwrap().is_none(), "nothing was accepted");
    world.shutdown().await;
}

#[tokio::test]
async fn settles_committed_together_share_one_proof_signature_and_each_proof_verifies_alone() {
    let world = World::start().await;
    let provider = world.wallet(0).await;
    let mut payers = Vec::new();
    for _ in 0..12 {
        payers.push(world.payer(&provider.pubkey(), Terms::default()).await);
    }
    let keys = published_keys(&world).await;
    let mut shared = false;
    // Rounds of twelve settles at once, until two land in one commit.
    for _ in 0..10 {
        let bodies: Vec<Value> = payers
            .iter_mut()
            .map(|payer| {
                world.body(
                    &world.escrow_requirement(&provider.pubkey(), PRICE),
                    payer.next_receipt(PRICE),
                )
            })
            .collect();
        let answers =
            futures_util::future::join_all(bodies.iter().map(|body| world.post("/settle", body)))
                .await;
        let mut roots = std::collections::HashMap::<[u8; 32], usize>::new();
        for (_, answer) in &answers {
            assert_eq!(answer["success"], true, "{answer}");
            let token = answer["extensions"]["paytab"]["proof"].as_str().unwrap();
            // Each proof verifies on its own, with no memory of other proofs.
            Proof::verify(token, &keys, now()).unwrap();
            if let Ok(root) = paytab_protocol::proof_batch::root_of(token) {
                *roots.entry(root).or_default() += 1;
            }
        }
        if roots.values().any(|count| *count > 1) {
            shared = true;
            break;
        }
    }
    assert!(shared, "settles at once shared a commit and its signature");
    world.shutdown().await;
}
