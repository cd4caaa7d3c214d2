//! The facilitator when what it stands on fails: a disk that fills up under
//! its database, a chain that stops answering. It refuses with 503 while it
//! cannot work, readiness says why, and nothing answered as settled is lost.

use std::time::Duration;

use paytab_facilitator::store::Store;
use serde_json::Value;
use solana_signer::Signer;

use crate::support::{Payer, Terms, TinyDisk, World};

const PRICE: u64 = 1_000;

/// Settles `payer`'s next receipt: the status and the answer.
async fn settle_next(
    world: &World,
    provider: &solana_pubkey::Pubkey,
    payer: &mut Payer,
) -> (u16, Value) {
    let body = world.body(
        &world.escrow_requirement(provider, PRICE),
        payer.next_receipt(PRICE),
    );
    let (status, answer) = world.post("/settle", &body).await;
    if answer["success"] != true {
        // Not accepted: the same count is signed again next time.
        payer.signed -= PRICE;
    }
    (status, answer)
}

#[tokio::test]
async fn on_a_full_disk_settles_answer_503_and_every_receipt_answered_as_settled_is_durable() {
    let Some(disk) = TinyDisk::mount(4 * 1024) else {
        return;
    };
    let database = disk.path("facilitator.db").display().to_string();
    let adjust = |settings: &mut paytab_facilitator::Settings| {
        settings.claimer = None;
        settings.database = database.clone();
    };
    let mut world = World::start_with(adjust).await;
    let provider = world.provider().await.pubkey();
    let mut payers = Vec::new();
    for _ in 0..3 {
        payers.push(world.payer(&provider, Terms::default()).await);
    }
    let mut answered = Vec::new();
    for payer in payers.iter_mut() {
        let (status, answer) = settle_next(&world, &provider, payer).await;
        assert_eq!(status, 200, "{answer}");
        answered.push((payer.allowance, payer.signed));
    }

    // The disk fills: some commit fails, and is refused as such.
    disk.fill(48 * 1024);
    let mut refusals = 0;
    for round in 0..400 {
        let payer = &mut payers[round % 3];
        let (status, answer) = settle_next(&world, &provider, payer).await;
        match status {
            200 => {
                assert_eq!(answer["success"], true, "{answer}");
                answered.push((payer.allowance, payer.signed));
            }
            503 => {
                assert_eq!(answer["success"], false);
                assert_eq!(answer["errorReason"], "unexpected_settle_error", "{answer}");
                refusals += 1;
                if refusals == 6 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    assert!(refusals > 0, "the disk never filled up");
    let (status, ready) = world.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_ne!(ready["checks"]["store"], "ok", "{ready}");

    // Space comes back: settles succeed again, and each is a real commit.
    disk.free();
    let (status, ready) = world.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    for _ in 0..5 {
        for payer in payers.iter_mut() {
            let (status, answer) = settle_next(&world, &provider, payer).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["success"], true, "{answer}");
            answered.push((payer.allowance, payer.signed));
        }
    }

    // Another reader sees every receipt answered as settled, before and after a restart.
    let reader = Store::open(&database).await.unwrap();
    for (allowance, cumulative) in &answered {
        let generation = payers
            .iter()
            .find(|payer| payer.allowance == *allowance)
            .unwrap()
            .generation;
        assert!(
            reader
                .receipt(allowance, generation, *cumulative)
                .await
                .unwrap()
                .is_some(),
            "receipt {allowance}:{cumulative} was answered as settled but is not committed"
        );
    }
    reader.close().await;
    world.restart(adjust).await;
    let store = world.facilitator().store().clone();
    for payer in &payers {
        let watermark = store.watermark(&payer.allowance).await.unwrap().unwrap();
        assert_eq!(
            watermark.accepted, payer.signed,
            "nothing answered was lost"
        );
    }
    world.shutdown().await;
}

#[tokio::test]
async fn a_chain_outage_is_answered_503_not_refused_and_readiness_names_the_chain() {
    let mut world = World::start().await;
    let provider = world.provider().await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    world.localnet.stop().await;
    let body = world.body(
        &world.escrow_requirement(&provider, PRICE),
        payer.next_receipt(PRICE),
    );
    let (status, verified) = world.post("/verify", &body).await;
    assert_eq!(
        status, 503,
        "an outage is not a refusal of the payment: {verified}"
    );
    assert_eq!(verified["isValid"], false);
    let (status, settled) = world.post("/settle", &body).await;
    assert_eq!(status, 503, "{settled}");
    let (status, ready) = tokio::time::timeout(Duration::from_secs(10), world.get("/readyz"))
        .await
        .unwrap();
    assert_eq!(status, 503, "{ready}");
    assert_ne!(ready["checks"]["chain"], "ok");
    assert_eq!(ready["checks"]["store"], "ok");
    world.shutdown().await;
}
