//! What a caller the operator does not know can make the facilitator spend:
//! transaction fees, rent, and the operator-only endpoints. Each attack is
//! run against the real facilitator and the fee payer's SOL is read back.

use std::time::Duration;

use paytab_facilitator::access::AnonymousSettings;
use paytab_facilitator::exact::rules::ExactLimits;
use serde_json::{json, Value};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_signer::Signer;

use crate::exact::{honest_instructions, honest_wire, parties, requirement, wire};
use crate::support::{Terms, World, USDC};

const PRICE: u64 = 25_000;

/// Posts `body` to `path` without any API key: the status and the answer.
async fn anonymous(world: &World, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(world.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn allow_anonymous(pay_to: Vec<solana_pubkey::Pubkey>, per_minute: u32) -> AnonymousSettings {
    AnonymousSettings {
        pay_to: pay_to.into_iter().collect(),
        per_minute,
    }
}

#[tokio::test]
async fn by_default_an_anonymous_caller_can_neither_verify_nor_settle_and_costs_no_fees() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    let body = world.body(
        &requirement,
        json!({"transaction": honest_wire(&world, &parties).await}),
    );
    let before = world.fee_payer_lamports().await;
    for path in ["/verify", "/settle"] {
        let (status, answer) = anonymous(&world, path, &body).await;
        assert_eq!(status, 401, "{path}: {answer}");
        assert_eq!(answer["error"], "unauthorized");
    }
    assert_eq!(world.fee_payer_lamports().await, before, "no fee was paid");
    assert_eq!(world.token_balance(&parties.payer.pubkey()).await, USDC);
    world.shutdown().await;
}

#[tokio::test]
async fn the_one_unit_self_transfer_at_the_highest_priority_fee_is_refused_before_any_fee() {
    // The attack once cost 2,010,000 lamports per settle: 1 raw unit between
    // two of the caller's wallets, 400,000 compute units at 5 lamports each.
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.access.anonymous = Some(allow_anonymous(Vec::new(), 1_000));
    })
    .await;
    let parties = parties(&world).await;
    let own_wallet = parties.provider.pubkey();
    let before = world.fee_payer_lamports().await;

    let mut expensive = honest_instructions(&world, &parties, 1);
    expensive[0] = ComputeBudgetInstruction::set_compute_unit_limit(400_000);
    expensive[1] = ComputeBudgetInstruction::set_compute_unit_price(5_000_000);
    let one_unit = world.body(
        &requirement(&world, &own_wallet, 1),
        json!({"transaction": wire(&world, &expensive, &[&parties.payer]).await}),
    );
    let (status, answer) = anonymous(&world, "/settle", &one_unit).await;
    assert_eq!(
        status, 403,
        "an anonymous caller's payee is not served: {answer}"
    );

    // Even a configured client gets no such settlement: below the minimum
    // amount, and above the fee ceiling.
    let (_, answer) = world.post("/settle", &one_unit).await;
    assert_eq!(
        answer["errorReason"], "invalid_payment_requirements",
        "{answer}"
    );
    let mut above_ceiling = honest_instructions(&world, &parties, PRICE);
    above_ceiling[1] = ComputeBudgetInstruction::set_compute_unit_price(5_000_000);
    let body = world.body(
        &requirement(&world, &own_wallet, PRICE),
        json!({"transaction": wire(&world, &above_ceiling, &[&parties.payer]).await}),
    );
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(
        answer["errorReason"],
        "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction",
        "{answer}"
    );
    assert_eq!(world.fee_payer_lamports().await, before, "no fee was paid");
    world.shutdown().await;
}

#[tokio::test]
async fn an_anonymous_caller_pays_a_listed_payee_at_a_bounded_fee_and_no_one_else() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let listed = parties.provider.pubkey();
    let mut world = world;
    world
        .restart(|settings| {
            settings.claimer = None;
            settings.access.anonymous = Some(allow_anonymous(vec![listed], 1_000));
        })
        .await;
    let before = world.fee_payer_lamports().await;
    let body = world.body(
        &requirement(&world, &listed, PRICE),
        json!({"transaction": honest_wire(&world, &parties).await}),
    );
    let (status, answer) = anonymous(&world, "/settle", &body).await;
    assert_eq!(
        (status, &answer["success"]),
        (200, &json!(true)),
        "{answer}"
    );
    let spent = before - world.fee_payer_lamports().await;
    let ceiling = ExactLimits::default().max_fee_lamports();
    println!(
        "one anonymous exact settle cost the facilitator {spent} lamports (ceiling {ceiling})"
    );
    assert!(spent > 0 && spent <= ceiling, "{spent} > {ceiling}");

    let stranger = world.provider().await.pubkey();
    let before = world.fee_payer_lamports().await;
    let body = world.body(
        &requirement(&world, &stranger, PRICE),
        json!({"transaction": honest_wire(&world, &parties).await}),
    );
    for path in ["/verify", "/settle"] {
        let (status, answer) = anonymous(&world, path, &body).await;
        assert_eq!(status, 403, "{path}: {answer}");
    }
    assert_eq!(world.fee_payer_lamports().await, before);
    world.shutdown().await;
}

#[tokio::test]
async fn anonymous_callers_are_rate_limited_per_address() {
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.access.anonymous = Some(allow_anonymous(Vec::new(), 3));
    })
    .await;
    let body = json!({"x402Version": 2, "paymentPayload": {}, "paymentRequirements": {}});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(anonymous(&world, "/verify", &body).await.0);
    }
    assert_eq!(&statuses[3..], [429, 429], "{statuses:?}");
    let (status, _) = world.post("/verify", &body).await;
    assert_ne!(status, 429, "a configured client is not limited with them");
    world.shutdown().await;
}

#[tokio::test]
async fn the_claimer_never_pays_rent_for_a_providers_token_account() {
    let world = World::start().await;
    let provider = world.wallet(0).await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    let body = world.body(
        &world.escrow_requirement(&provider, 20_000),
        payer.next_receipt(20_000),
    );
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(answer["success"], true, "{answer}");

    let before = world.fee_payer_lamports().await;
    let round = world.claimer().run_once().await.unwrap();
    assert_eq!(
        (round.confirmed, round.without_token_account),
        (0, 1),
        "{round:?}"
    );
    assert_eq!(
        world.fee_payer_lamports().await,
        before,
        "neither rent nor a fee"
    );
    assert!(world.rpc.get_account(&world.ata(&provider)).await.is_err());
    let owed: Value = world
        .as_operator(reqwest::Method::GET, &format!("/claims/{provider}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(owed["unclaimed"], "20000");
    assert_eq!(
        owed["missingTokenAccounts"],
        json!([world.mint().to_string()])
    );

    // The provider opens its own account; the next round pays it.
    let opened = world.localnet.chain.mint_usdc(&provider, 0).unwrap();
    world.wait(&opened).await;
    let round = world.claimer().run_once().await.unwrap();
    assert_eq!((round.confirmed, round.paid), (1, 20_000), "{round:?}");
    assert_eq!(world.token_balance(&provider).await, 20_000);
    world.shutdown().await;
}

#[tokio::test]
async fn a_claim_below_the_minimum_waits_until_enough_is_owed() {
    let world = World::start().await;
    let provider = world.provider().await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    let claimer = world.claimer_with_minimum(10_000);
    for (price, sent) in [(4_000u64, 0usize), (8_000, 1)] {
        let body = world.body(
            &world.escrow_requirement(&provider, price),
            payer.next_receipt(price),
        );
        let (_, answer) = world.post("/settle", &body).await;
        assert_eq!(answer["success"], true, "{answer}");
        let round = claimer.run_once().await.unwrap();
        assert_eq!(round.confirmed, sent, "{round:?}");
    }
    assert_eq!(world.token_balance(&provider).await, 12_000);
    world.shutdown().await;
}

#[tokio::test]
async fn claims_and_metrics_answer_the_operator_only() {
    let world = World::start().await;
    let provider = world.provider().await.pubkey();
    for (method, path) in [
        (reqwest::Method::POST, "/claims".to_string()),
        (reqwest::Method::GET, format!("/claims/{provider}")),
        (reqwest::Method::GET, "/metrics".to_string()),
    ] {
        for client in [reqwest::Client::new(), world.http.clone()] {
            let response = client
                .request(method.clone(), world.url(&path))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                401,
                "{method} {path} without the operator's token"
            );
        }
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            world.as_operator(method.clone(), &path).send(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(response.status(), 200, "{method} {path} as the operator");
    }
    world.shutdown().await;
}
