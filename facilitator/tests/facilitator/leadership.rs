//! Facilitators sharing one PostgreSQL database: claim rounds never overlap,
//! and when the instance leading them dies, another takes over and pays once.
//! Needs `PAYTAB_TEST_POSTGRES_URL` (`.ci/run` starts PostgreSQL; under
//! `CI=true` it must be there).

use paytab_facilitator::store::CLAIMS_LOCK;
use solana_signer::Signer;
use sqlx::Connection;

use crate::store::fresh_postgres_database;
use crate::support::{Terms, World};

/// A server to test against, or `None` (skipped) outside CI.
pub(crate) fn postgres() -> Option<String> {
    match std::env::var("PAYTAB_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => Some(base),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true but PAYTAB_TEST_POSTGRES_URL is not set: run .ci/run, which starts PostgreSQL")
        }
        _ => {
            eprintln!("PAYTAB_TEST_POSTGRES_URL not set: leadership tests skipped");
            None
        }
    }
}

#[tokio::test]
async fn a_claim_round_waits_while_another_instance_leads_and_takes_over_when_that_leader_dies() {
    let Some(base) = postgres() else { return };
    let database = fresh_postgres_database(&base).await;
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.database = database.clone();
    })
    .await;
    let provider = world.provider().await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    for _ in 0..3 {
        let body = world.body(
            &world.escrow_requirement(&provider, 5_000),
            payer.next_receipt(5_000),
        );
        let (_, answer) = world.post("/settle", &body).await;
        assert_eq!(answer["success"], true, "{answer}");
    }

    // Another instance leads: its session holds the lock.
    let mut leader = sqlx::PgConnection::connect(&database).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(CLAIMS_LOCK)
        .execute(&mut leader)
        .await
        .unwrap();
    let round = world.facilitator().claim_now().await.unwrap();
    assert!(round.led_elsewhere, "{round:?}");
    assert_eq!((round.confirmed, round.paid), (0, 0));
    assert_eq!(world.token_balance(&provider).await, 0);

    // The leader dies (its session ends without unlocking): this instance takes over.
    drop(leader);
    let mut round = world.facilitator().claim_now().await.unwrap();
    for _ in 0..50 {
        if !round.led_elsewhere {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        round = world.facilitator().claim_now().await.unwrap();
    }
    assert!(!round.led_elsewhere, "the lock died with its session");
    assert_eq!(round.paid, 15_000);
    assert_eq!(world.token_balance(&provider).await, 15_000);

    // The lead is given back after each round: the next one finds nothing owed, pays nothing.
    let again = world.facilitator().claim_now().await.unwrap();
    assert!(!again.led_elsewhere);
    assert_eq!(again.paid, 0);
    world.shutdown().await;
}
