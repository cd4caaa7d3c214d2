//! The claimer against the embedded localnet: providers are paid exactly what
//! was accepted, in batches, and a claim whose outcome is unknown is looked up
//! before anything is sent again.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::{now, Payer, Terms, World};
use paytab_facilitator::claimer::{claim_instructions, ClaimRound, ClaimTarget};
use paytab_facilitator::store::{ClaimEntry, ClaimRecord, ClaimStatus, Unclaimed};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::Transaction;

/// Settles `count` receipts of `price` for `payer`, returning the total.
async fn pay(world: &World, provider: &Pubkey, payer: &mut Payer, price: u64, count: u64) -> u64 {
    for _ in 0..count {
        let body = world.body(
            &world.escrow_requirement(provider, price),
            payer.next_receipt(price),
        );
        let (_, answer) = world.post("/settle", &body).await;
        assert_eq!(answer["success"], true, "{answer}");
    }
    price * count
}

/// A world without a background claimer and one payer for a new provider.
async fn world_with_payer() -> (World, Pubkey, Payer) {
    let world = World::start().await;
    let provider = world.provider().await.pubkey();
    let payer = world.payer(&provider, Terms::default()).await;
    (world, provider, payer)
}

#[tokio::test]
async fn the_claimer_pays_each_provider_exactly_what_was_accepted_in_legacy_batches() {
    let world = World::start().await;
    let providers = [world.provider().await, world.provider().await];
    let mut owed: HashMap<Pubkey, u64> = HashMap::new();
    // Nine payers for the first provider (two legacy transactions), two for the second.
    for (index, count) in [(0usize, 9u64), (1, 2)] {
        let provider = providers[index].pubkey();
        for payer_index in 0..count {
            let mut payer = world.payer(&provider, Terms::default()).await;
            let price = 1_000 + payer_index * 17;
            let total = pay(&world, &provider, &mut payer, price, 1 + payer_index % 3).await;
            *owed.entry(provider).or_default() += total;
        }
    }

    let legacy = world.claimer_with(|config| config.lookup_tables = None);
    let round = legacy.run_once().await.unwrap();
    assert_eq!(round.confirmed, 3, "{round:?}");
    assert_eq!(round.legacy_claims, 3);
    assert_eq!(round.failed, 0);
    assert_eq!(round.paid, owed.values().sum::<u64>());
    for provider in &providers {
        let expected = owed[&provider.pubkey()];
        assert_eq!(world.token_balance(&provider.pubkey()).await, expected);
        assert_eq!(
            world
                .facilitator()
                .store()
                .paid_to(&provider.pubkey())
                .await
                .unwrap(),
            expected
        );
    }
    assert!(world
        .facilitator()
        .store()
        .unclaimed(100)
        .await
        .unwrap()
        .is_empty());

    let idle = world.claimer().run_once().await.unwrap();
    assert_eq!(idle, ClaimRound::default(), "nothing is claimed twice");
    world.shutdown().await;
}

#[tokio::test]
async fn receipts_accepted_after_a_claim_are_claimed_in_the_next_round() {
    let (world, provider, mut payer) = world_with_payer().await;
    let first = pay(&world, &provider, &mut payer, 2_500, 2).await;
    world.claimer().run_once().await.unwrap();
    let second = pay(&world, &provider, &mut payer, 4_000, 3).await;
    let round = world.claimer().run_once().await.unwrap();
    assert_eq!(round.paid, second);
    assert_eq!(world.token_balance(&provider).await, first + second);
    assert_eq!(
        world.allowance_state(&payer.allowance).await.claimed,
        first + second
    );
    world.shutdown().await;
}

/// A claim transaction for `payer`'s accepted receipts, signed but not sent.
async fn signed_claim(world: &World, provider: Pubkey, payer: &Payer) -> (Transaction, u64) {
    let entry = Unclaimed {
        allowance: payer.allowance,
        generation: payer.generation,
        accepted: payer.signed,
        claimed: 0,
        escrow: payer.escrow.escrow(),
        provider,
        mint: world.mint(),
        vault: payer.escrow.vault(),
    };
    let target = ClaimTarget {
        provider,
        mint: world.mint(),
        token_program: spl_token_interface::ID,
    };
    let instructions = claim_instructions(&world.facilitator_key, &target, &[entry], now() + 300);
    let (blockhash, last_valid) = world
        .rpc
        .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
        .await
        .unwrap();
    let transaction = Transaction::new_signed_with_payer(
        &instructions,
        Some(&world.facilitator_key.pubkey()),
        &[&world.facilitator_key],
        blockhash,
    );
    (transaction, last_valid)
}

fn pending(
    world: &World,
    provider: Pubkey,
    payer: &Payer,
    signature: String,
    last_valid: u64,
) -> ClaimRecord {
    ClaimRecord {
        signature,
        provider,
        mint: world.mint(),
        status: ClaimStatus::Pending,
        last_valid_block_height: last_valid,
        created_at: now(),
        entries: vec![ClaimEntry {
            allowance: payer.allowance,
            generation: payer.generation,
            cumulative: payer.signed,
            claimed_before: 0,
            paid: None,
        }],
    }
}

#[tokio::test]
async fn a_pending_claim_that_landed_is_recorded_as_paid_and_not_sent_again() {
    let (world, provider, mut payer) = world_with_payer().await;
    let owed = pay(&world, &provider, &mut payer, 3_000, 2).await;

    // The facilitator signed, recorded and sent a claim, then died before
    // learning its outcome.
    let (transaction, last_valid) = signed_claim(&world, provider, &payer).await;
    let signature = transaction.signatures[0];
    let store = world.facilitator().store();
    store
        .record_claim(&pending(
            &world,
            provider,
            &payer,
            signature.to_string(),
            last_valid,
        ))
        .await
        .unwrap();
    world
        .rpc
        .send_and_confirm_transaction(&transaction)
        .await
        .unwrap();

    let round = world.claimer().run_once().await.unwrap();
    assert_eq!(round.confirmed, 1);
    assert_eq!(round.paid, owed);
    assert_eq!(world.token_balance(&provider).await, owed);
    let confirmed = store
        .claims_with_status(ClaimStatus::Confirmed)
        .await
        .unwrap();
    assert_eq!(confirmed.len(), 1, "no second claim was sent");
    assert_eq!(confirmed[0].entries[0].paid, Some(owed));
    world.shutdown().await;
}

#[tokio::test]
async fn a_pending_claim_that_may_still_land_holds_its_allowances_back() {
    let (world, provider, mut payer) = world_with_payer().await;
    pay(&world, &provider, &mut payer, 3_000, 1).await;
    let (transaction, last_valid) = signed_claim(&world, provider, &payer).await;
    world
        .facilitator()
        .store()
        .record_claim(&pending(
            &world,
            provider,
            &payer,
            transaction.signatures[0].to_string(),
            last_valid,
        ))
        .await
        .unwrap();

    let round = world.claimer().run_once().await.unwrap();
    assert_eq!(round, ClaimRound::default());
    assert_eq!(world.token_balance(&provider).await, 0);
    world.shutdown().await;
}

#[tokio::test]
async fn a_pending_claim_whose_blockhash_expired_is_given_up_and_claimed_again() {
    let (world, provider, mut payer) = world_with_payer().await;
    let owed = pay(&world, &provider, &mut payer, 3_000, 2).await;
    let never_sent = Keypair::new().sign_message(b"a claim that was never sent");
    world
        .facilitator()
        .store()
        .record_claim(&pending(
            &world,
            provider,
            &payer,
            never_sent.to_string(),
            0,
        ))
        .await
        .unwrap();

    let round = world.claimer().run_once().await.unwrap();
    assert_eq!(round.expired, 1);
    assert_eq!(round.confirmed, 1);
    assert_eq!(world.token_balance(&provider).await, owed);
    world.shutdown().await;
}

#[tokio::test]
async fn the_background_claimer_pays_providers_without_being_asked() {
    let world = World::start_with(|settings| {
        if let Some(claimer) = settings.claimer.as_mut() {
            claimer.interval = Duration::from_millis(300);
            // A round may fall between two receipts: what it leaves must
            // not wait below the minimum for more to be owed.
            claimer.min_claim = 1;
        }
    })
    .await;
    let provider = world.provider().await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    let owed = pay(&world, &provider, &mut payer, 7_000, 3).await;
    let mut balance = 0;
    for _ in 0..100 {
        balance = world.token_balance(&provider).await;
        if balance == owed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(balance, owed);
    world.shutdown().await;
}
