//! The facilitator binary is killed (SIGKILL) in the middle of a stream of
//! settles while its claimer runs, then restarted: every receipt it answered
//! as settled is still there, and providers are paid exactly what was
//! accepted, once.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::binary::{free_port, spawn_facilitator};
use crate::support::{client_with_key, Payer, Terms, World, API_KEY};
use paytab_facilitator::store::Store;
use serde_json::Value;
use solana_signer::Signer;

const PRICE: u64 = 1_000;
const PAYERS: usize = 6;

/// Starts the binary on `port` and the world's database.
async fn spawn(world: &World, port: u16) -> Child {
    spawn_facilitator(world, "facilitator", port, &world.database()).await
}

/// What the clients were told was settled: (payer index, cumulative, proof).
type Answers = Arc<Mutex<Vec<(usize, u64, String)>>>;

/// Settles receipts for `payer` until the server stops answering or `limit`
/// receipts are settled, resyncing on a stale count.
async fn stream(
    url: String,
    requirement: Value,
    index: usize,
    mut payer: Payer,
    answers: Answers,
    limit: usize,
) -> Payer {
    let http = client_with_key(API_KEY);
    let mut settled = 0;
    while settled < limit {
        let payload = payer.next_receipt(PRICE);
        let body = serde_json::json!({
            "x402Version": 2,
            "paymentPayload": {"x402Version": 2, "accepted": requirement, "payload": payload},
            "paymentRequirements": requirement,
        });
        let Ok(response) = http.post(&url).json(&body).send().await else {
            payer.signed -= PRICE;
            return payer;
        };
        let Ok(answer) = response.json::<Value>().await else {
            payer.signed -= PRICE;
            return payer;
        };
        // A receipt sent again after a lost answer (the server was killed)
        // comes back as a duplicate carrying the proof issued then.
        if answer["success"] == true || answer["errorReason"] == "duplicate_settlement" {
            settled += 1;
            let proof = answer["extensions"]["paytab"]["proof"].as_str().unwrap();
            answers
                .lock()
                .unwrap()
                .push((index, payer.signed, proof.to_string()));
        } else {
            assert_eq!(
                answer["errorReason"], "invalid_escrow_payload_stale_cumulative",
                "{answer}"
            );
            payer.signed = answer["extensions"]["paytab"]["acceptedCumulative"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
        }
    }
    payer
}

#[tokio::test]
async fn a_killed_facilitator_loses_no_answered_receipt_and_pays_nothing_twice() {
    let world = World::start_with(|settings| settings.claimer = None).await;
    // The in-process facilitator only set up the database; the binary runs now.
    let mut world = world;
    if let Some(facilitator) = world.facilitator.take() {
        facilitator.shutdown().await;
    }
    let provider = world.provider().await.pubkey();
    let mut payers = Vec::new();
    for _ in 0..PAYERS {
        payers.push(world.payer(&provider, Terms::default()).await);
    }
    let requirement = world.escrow_requirement(&provider, PRICE);
    let answers: Answers = Arc::new(Mutex::new(Vec::new()));

    // Phase 1: stream settles and kill the process mid-stream.
    let port = free_port();
    let mut child = spawn(&world, port).await;
    let url = format!("http://127.0.0.1:{port}/settle");
    let mut tasks = Vec::new();
    for (index, payer) in payers.into_iter().enumerate() {
        tasks.push(tokio::spawn(stream(
            url.clone(),
            requirement.clone(),
            index,
            payer,
            answers.clone(),
            usize::MAX,
        )));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut payers = Vec::new();
    for task in tasks {
        payers.push(task.await.unwrap());
    }
    let answered_before_kill = answers.lock().unwrap().len();
    assert!(
        answered_before_kill > 20,
        "the stream was running: {answered_before_kill}"
    );

    // Phase 2: restart; every answered receipt is still there, and settling it
    // again is refused as a duplicate carrying the very proof the client was given.
    let mut child = spawn(&world, port).await;
    let http = client_with_key(API_KEY);
    let answered = answers.lock().unwrap().clone();
    for (index, cumulative, proof) in answered {
        let payload = payers[index].receipt(cumulative);
        let body = serde_json::json!({
            "x402Version": 2,
            "paymentPayload": {"x402Version": 2, "accepted": requirement, "payload": payload},
            "paymentRequirements": requirement,
        });
        let answer: Value = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["success"], false, "{answer}");
        assert_eq!(answer["errorReason"], "duplicate_settlement", "{answer}");
        assert_eq!(answer["extensions"]["paytab"]["proof"], proof.as_str());
    }

    // Phase 3: the clients carry on (resyncing where an answer was lost).
    let mut tasks = Vec::new();
    for (index, payer) in payers.into_iter().enumerate() {
        tasks.push(tokio::spawn(stream(
            url.clone(),
            requirement.clone(),
            index,
            payer,
            answers.clone(),
            3,
        )));
    }
    let mut payers = Vec::new();
    for task in tasks {
        payers.push(task.await.unwrap());
    }

    // The claimer pays the provider exactly the accepted total, once.
    let store = Store::open(&world.database()).await.unwrap();
    let mut accepted_total = 0;
    for payer in &payers {
        let watermark = store.watermark(&payer.allowance).await.unwrap().unwrap();
        let answered = answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(index, _, _)| payers[*index].allowance == payer.allowance)
            .map(|(_, cumulative, _)| *cumulative)
            .max()
            .unwrap();
        assert!(watermark.accepted >= answered);
        accepted_total += watermark.accepted;
    }
    let mut balance = 0;
    for _ in 0..150 {
        balance = world.token_balance(&provider).await;
        if balance >= accepted_total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(balance, accepted_total, "paid exactly what was accepted");
    for payer in &payers {
        let on_chain = world.allowance_state(&payer.allowance).await;
        let watermark = store.watermark(&payer.allowance).await.unwrap().unwrap();
        assert_eq!(on_chain.claimed, watermark.accepted);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    store.close().await;
    world.localnet.shutdown().await;
}
