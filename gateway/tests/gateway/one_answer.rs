//! One payment buys one answer: whatever is done with a payment — 200 copies
//! at once against a slow upstream, the proof a settlement returned presented
//! again, a settlement whose answer was lost — exactly one paid answer comes
//! out (a restarted gateway and a full disk: `state_file.rs`) and the upstream runs once per paid answer.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab_client::exact::ExactPayment;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::paying::{
    charge_payment, decode_header, mpp_authorization, mpp_challenge_of, with_proof,
};
use crate::support::settle_cutter::SettleCutter;
use crate::support::{World, PRICE, ROUTES};

/// Copies of one payment sent at once.
const COPIES: usize = 200;

/// Sends `COPIES` identical requests at once; the status of each.
pub(crate) async fn send_copies(url: &str, header: (&str, &str)) -> HashMap<u16, usize> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(COPIES)
        .build()
        .unwrap();
    let mut tasks = Vec::with_capacity(COPIES);
    for _ in 0..COPIES {
        let request = http.get(url).header(header.0, header.1.to_string());
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = HashMap::new();
    for task in tasks {
        *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    statuses
}

/// Exactly one copy was answered; every other was refused as in flight or used.
pub(crate) fn assert_one_answer(statuses: &HashMap<u16, usize>) {
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    let refused = statuses.get(&409).unwrap_or(&0) + statuses.get(&402).unwrap_or(&0);
    assert_eq!(refused, COPIES - 1, "{statuses:?}");
}

/// A funded wallet paying by `exact` transfers, and the provider's token account.
pub(crate) async fn exact_payer(world: &World) -> Keypair {
    let payer = Keypair::new();
    world.mint_usdc(&payer.pubkey(), 1_000_000).await;
    world.mint_usdc(&world.provider, 1).await;
    payer
}

/// A `PAYMENT-SIGNATURE` paying `url`'s `exact` offer from `payer`.
pub(crate) async fn exact_header(world: &World, url: &str, payer: &Keypair) -> String {
    let challenged = world.http.get(url).send().await.unwrap();
    let required = decode_header(&challenged, "payment-required");
    let offer = required["accepts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|offer| offer["scheme"] == "exact")
        .unwrap()
        .clone();
    let key = |value: &Value| value.as_str().unwrap().parse::<Pubkey>().unwrap();
    let payment = ExactPayment {
        fee_payer: key(&offer["extra"]["feePayer"]),
        mint: key(&offer["asset"]),
        token_program: spl_token_interface::ID,
        decimals: 6,
        pay_to: key(&offer["payTo"]),
        amount: offer["amount"].as_str().unwrap().parse().unwrap(),
        memo: None,
    };
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let wire = payment.wire(payer, blockhash).unwrap();
    STANDARD.encode(
        json!({"x402Version": 2, "accepted": offer, "payload": {"transaction": wire}}).to_string(),
    )
}

#[tokio::test]
async fn two_hundred_copies_of_one_escrow_receipt_buy_one_answer_and_one_upstream_call() {
    let mut world = World::start().await;
    let url = world.url("/v1/slow/receipt");
    let payment = world.payment_signature();
    let statuses = send_copies(&url, ("payment-signature", &payment)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/receipt"), 1, "the upstream ran once");
    assert_eq!(world.accepted().await, PRICE, "charged once");
}

#[tokio::test]
async fn two_hundred_copies_of_one_exact_payment_buy_one_answer_and_one_upstream_call() {
    let world = World::start().await;
    let payer = exact_payer(&world).await;
    let url = world.url("/v1/slow/exact");
    let payment = exact_header(&world, &url, &payer).await;
    let statuses = send_copies(&url, ("payment-signature", &payment)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/exact"), 1, "the upstream ran once");
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1 + PRICE,
        "charged once"
    );
}

#[tokio::test]
async fn two_hundred_copies_of_one_mpp_credential_buy_one_answer_and_one_upstream_call() {
    let world = World::start().await;
    let payer = exact_payer(&world).await;
    let url = world.url("/v1/slow/mpp");
    let challenge = mpp_challenge_of(&world.http.get(&url).send().await.unwrap());
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let credential = mpp_authorization(
        &challenge,
        &payer.pubkey(),
        &charge_payment(&challenge).wire(&payer, blockhash).unwrap(),
    );
    let statuses = send_copies(&url, ("authorization", &credential)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/mpp"), 1, "the upstream ran once");
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1 + PRICE,
        "charged once"
    );
}

#[tokio::test]
async fn two_hundred_copies_of_one_proof_buy_one_answer_and_one_upstream_call() {
    let mut world = World::start().await;
    let url = world.url("/v1/slow/proof");
    let proof = world.proof_for("GET", &url).await;
    let statuses = send_copies(&url, ("paytab-proof", &proof)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/proof"), 1, "the upstream ran once");
}

#[tokio::test]
async fn the_proof_returned_with_a_paid_answer_buys_nothing_more() {
    let mut world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let paid = world
        .http
        .get(&url)
        .header("payment-signature", world.payment_signature())
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let proof = decode_header(&paid, "payment-response")["extensions"]["paytab"]["proof"]
        .as_str()
        .unwrap()
        .to_string();
    let again = with_proof(&world, &url, &proof).await;
    assert_eq!(
        again.status(),
        402,
        "the settlement's proof was consumed with its answer"
    );
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "payment_already_used");
    assert_eq!(world.served("/v1/quotes/SOL"), 1);
}

#[tokio::test]
async fn a_lost_settlement_answer_says_resend_and_the_same_payment_recovers_one_answer() {
    let mut world = World::start().await;
    let link = SettleCutter::start(&world.facilitator.url()).await;
    let gateway = world
        .another_gateway(world.fresh_state_file(), Some(&link.url), ROUTES)
        .await;
    let url = format!("{}/v1/quotes/SOL", gateway.url());
    let payment = world.payment_signature();
    link.lose_next_settle_answers(1);
    let lost = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), 502);
    assert!(
        !lost.headers().contains_key("payment-response"),
        "an unknown outcome is not said to be a failure"
    );
    let body: Value = lost.json().await.unwrap();
    assert_eq!(body["error"], "payment_outcome_unknown", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("resend the same payment"), "{message}");
    assert!(!message.contains("nothing was charged"), "{message}");
    assert_eq!(
        world.accepted().await,
        PRICE,
        "the facilitator did settle it"
    );

    let recovered = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.status(), 200, "the same payment gets its answer");
    assert_eq!(
        decode_header(&recovered, "payment-response")["success"],
        true
    );
    let again = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 402, "and only once");
    assert_eq!(decode_header(&again, "payment-response")["success"], false);
    assert_eq!(
        decode_header(&again, "payment-required")["error"],
        "payment_already_used"
    );
    assert_eq!(world.accepted().await, PRICE, "charged once");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_facilitator_outage_is_503_nothing_charged_not_a_402_refusal() {
    let mut world = World::start().await;
    let link = SettleCutter::start(&world.facilitator.url()).await;
    let gateway = world
        .another_gateway(world.fresh_state_file(), Some(&link.url), ROUTES)
        .await;
    link.go_down();
    let url = format!("{}/v1/quotes/SOL", gateway.url());
    let payment = world.payment_signature();
    let refused = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "payment_unavailable", "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("nothing was charged"));
    assert_eq!(world.served("/v1/quotes/SOL"), 0);
    assert_eq!(world.accepted().await, 0);
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_lost_exact_settlement_answer_is_recovered_without_a_second_transfer() {
    let world = World::start().await;
    let payer = exact_payer(&world).await;
    let link = SettleCutter::start(&world.facilitator.url()).await;
    let gateway = world
        .another_gateway(world.fresh_state_file(), Some(&link.url), ROUTES)
        .await;
    let url = format!("{}/v1/quotes/BTC", gateway.url());
    let payment = exact_header(&world, &url, &payer).await;
    link.lose_next_settle_answers(1);
    let send = || {
        world
            .http
            .get(&url)
            .header("payment-signature", &payment)
            .send()
    };
    let lost = send().await.unwrap();
    assert_eq!(lost.status(), 502);
    assert_eq!(send().await.unwrap().status(), 200, "recovered");
    assert_eq!(send().await.unwrap().status(), 402, "once");
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1 + PRICE,
        "one transfer"
    );
    gateway.shutdown().await;
}

#[test]
fn paid_answers_equal_distinct_payments_in_any_interleaving_of_copies() {
    use proptest::prelude::*;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    let world = Arc::new(tokio::sync::Mutex::new(runtime.block_on(World::start())));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    // Copies of each distinct payment (1..=4 payments, 1..=6 copies each), in a shuffled order.
    let strategy = prop::collection::vec(1usize..=6, 1..=4).prop_flat_map(|copies| {
        let order: Vec<usize> = copies
            .iter()
            .enumerate()
            .flat_map(|(payment, count)| std::iter::repeat_n(payment, *count))
            .collect();
        (Just(copies.len()), Just(order).prop_shuffle())
    });
    runner
        .run(&strategy, |(payments, order)| {
            let number = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let world = world.clone();
            runtime.block_on(async move {
                let mut world = world.lock().await;
                let mut proofs = Vec::new();
                for payment in 0..payments {
                    let url = world.url(&format!("/v1/slow/case{number}-{payment}"));
                    proofs.push((url.clone(), world.proof_for("GET", &url).await));
                }
                let mut tasks = Vec::new();
                for payment in &order {
                    let (url, proof) = proofs[*payment].clone();
                    let request = world.http.get(url).header("paytab-proof", proof);
                    tasks.push(tokio::spawn(async move {
                        request.send().await.unwrap().status().as_u16()
                    }));
                }
                let mut paid = 0;
                for task in tasks {
                    if task.await.unwrap() == 200 {
                        paid += 1;
                    }
                }
                prop_assert_eq!(paid, payments, "order {:?}", order);
                for payment in 0..payments {
                    prop_assert_eq!(world.served(&format!("/v1/slow/case{number}-{payment}")), 1);
                }
                Ok(())
            })
        })
        .unwrap();
}

#[tokio::test]
async fn the_sdk_resends_the_same_receipt_after_a_lost_answer_and_pays_once() {
    use paytab_client::ledger::Ledger;
    use paytab_client::pay::{PaidRequest, Payer};
    use paytab_client::policy::SpendingPolicy;
    use solana_commitment_config::CommitmentConfig;
    use solana_rpc_client::nonblocking::rpc_client::RpcClient;

    let world = World::start().await;
    let link = SettleCutter::start(&world.facilitator.url()).await;
    let gateway = world
        .another_gateway(world.fresh_state_file(), Some(&link.url), ROUTES)
        .await;
    let rpc = Arc::new(RpcClient::new_with_commitment(
        world.localnet.rpc_url(),
        CommitmentConfig::confirmed(),
    ));
    let ledger = Ledger::open(&world.dir.path().join("ledger.db"))
        .await
        .unwrap();
    let payer = Payer::new(
        rpc,
        Arc::new(world.payer.keypair.insecure_clone()),
        ledger,
        SpendingPolicy::default(),
        Arc::new(|_: &str| false),
    )
    .await
    .unwrap();
    link.lose_next_settle_answers(1);
    let url = format!("{}/v1/quotes/SOL", gateway.url());
    let fetched = payer.fetch(&PaidRequest::get(&url)).await.unwrap();
    assert_eq!(fetched.status, 200, "the answer was recovered by resending");
    let payment = fetched.payment.unwrap();
    assert_eq!(
        payment.reference,
        format!("{}:{PRICE}", world.payer.allowance)
    );
    assert_eq!(world.accepted().await, PRICE, "one receipt, charged once");
    assert_eq!(payer.ledger().history(10).await.unwrap().len(), 1);
    gateway.shutdown().await;
}

#[tokio::test]
async fn each_proof_of_a_batch_buys_one_answer_and_a_changed_one_buys_none_once_its_root_is_verified(
) {
    use paytab_protocol::proof::Proof;
    use paytab_protocol::proof_batch::sign_batch;

    let mut world = World::start().await;
    let url = world.url("/v1/slow/proof");
    // A proof as the facilitator issues it, then a batch of three like it,
    // signed by the facilitator's proof key as its group commit would.
    let issued = world.proof_for("GET", &url).await;
    let (model, _, _) = Proof::decode(&issued).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(world.facilitator_key.secret_bytes());
    assert_eq!(
        model.key_id,
        paytab_protocol::KeyId::of(&key.verifying_key())
    );
    let batch: Vec<Proof> = (0..3u8)
        .map(|index| Proof {
            id: [0xb0 + index; 16],
            ..model.clone()
        })
        .collect();
    let tokens = sign_batch(&batch, &key).unwrap();

    for token in &tokens[..2] {
        let statuses = send_copies(&url, ("paytab-proof", token)).await;
        assert_one_answer(&statuses);
    }
    assert_eq!(
        world.served("/v1/slow/proof"),
        2,
        "one upstream call per proof"
    );

    // The third proof with its amount lowered: its path leads to another
    // root, which no signature covers. The amount follows the leaf's magic,
    // key id, scheme, network and three addresses.
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&tokens[2])
        .unwrap();
    let at = 4 + 2 + 8 + 1 + 1 + model.network.len() + 3 * 32;
    assert_eq!(bytes[at..at + 8], model.amount.to_le_bytes());
    bytes[at] = bytes[at].wrapping_sub(1);
    let changed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let refused = with_proof(&world, &url, &changed).await;
    assert_eq!(refused.status(), 402);
    assert_eq!(world.served("/v1/slow/proof"), 2);
    let honest = with_proof(&world, &url, &tokens[2]).await;
    assert_eq!(honest.status(), 200);
}
