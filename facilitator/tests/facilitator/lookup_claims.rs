//! Full-size claims through the delegate's address lookup tables, against the
//! embedded localnet: a hundred allowances in at most four transactions, each
//! within the network's limits, a table used only once its addresses are
//! active, tables reused across rounds, then deactivated and closed when idle
//! with their rent returned.

use paytab_facilitator::claimer::transactions::{account_locks, PACKET_DATA_SIZE};
use paytab_facilitator::claimer::TableConfig;
use paytab_facilitator::store::ClaimStatus;
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;

use crate::support::{Payer, Terms, World};

/// `count` payers of `provider`, opened at once.
async fn payers(world: &World, provider: &Pubkey, count: usize) -> Vec<Payer> {
    futures_util::future::join_all((0..count).map(|_| world.payer(provider, Terms::default())))
        .await
}

/// Settles one receipt of `price` for `payer`.
async fn pay(world: &World, provider: &Pubkey, payer: &mut Payer, price: u64) {
    let body = world.body(
        &world.escrow_requirement(provider, price),
        payer.next_receipt(price),
    );
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(answer["success"], true, "{answer}");
}

/// The slot a lookup table was last extended in.
async fn last_extended_slot(world: &World, table: &Pubkey) -> u64 {
    let account = world.rpc.get_account(table).await.unwrap();
    AddressLookupTable::deserialize(&account.data)
        .unwrap()
        .meta
        .last_extended_slot
}

#[tokio::test]
async fn a_hundred_allowances_of_different_payers_are_claimed_in_four_transactions_within_the_limits_once_their_table_is_active(
) {
    let world = World::start().await;
    let provider = world.provider().await.pubkey();
    let mut payers = payers(&world, &provider, 100).await;
    let mut owed = 0;
    for (index, payer) in payers.iter_mut().enumerate() {
        let price = 1_000 + index as u64;
        pay(&world, &provider, payer, price).await;
        owed += price;
    }

    let round = world.claimer().run_once().await.unwrap();
    assert!(round.lookup_claims <= 4, "{round:?}");
    assert_eq!(round.legacy_claims, 0, "{round:?}");
    assert_eq!((round.confirmed, round.failed), (round.lookup_claims, 0));
    assert_eq!(round.tables_created, 1, "200 addresses fit one table");
    assert_eq!(round.paid, owed);
    assert_eq!(world.token_balance(&provider).await, owed);
    for payer in &payers {
        assert_eq!(
            world.allowance_state(&payer.allowance).await.claimed,
            payer.signed
        );
    }

    let claims = world
        .facilitator()
        .store()
        .claims_with_status(ClaimStatus::Confirmed)
        .await
        .unwrap();
    assert_eq!(claims.len(), round.confirmed);
    assert_eq!(
        claims
            .iter()
            .map(|claim| claim.entries.len())
            .sum::<usize>(),
        100
    );
    for claim in &claims {
        let signature: Signature = claim.signature.parse().unwrap();
        let stored = world.localnet.chain.transaction(&signature).unwrap();
        let size = bincode::serialized_size(&stored.transaction).unwrap();
        let locks = account_locks(&stored.transaction);
        println!(
            "claim of {} allowances: {size} bytes, {locks} account locks",
            claim.entries.len()
        );
        assert!(size <= PACKET_DATA_SIZE as u64, "{size} bytes");
        assert!(locks <= 64, "{locks} locks");
        let lookups = stored.transaction.message.address_table_lookups().unwrap();
        assert!(!lookups.is_empty(), "a v0 transaction with a lookup table");
        // The table was created in this very round: used only from the slot
        // after its last extension, when every address is active.
        for lookup in lookups {
            assert!(stored.slot > last_extended_slot(&world, &lookup.account_key).await);
        }
    }
    world.shutdown().await;
}

#[tokio::test]
async fn a_table_serves_later_rounds_then_idles_out_is_closed_and_returns_its_rent() {
    let world = World::start().await;
    let provider = world.provider().await.pubkey();
    let mut payers = payers(&world, &provider, 5).await;
    for payer in payers.iter_mut() {
        pay(&world, &provider, payer, 2_000).await;
    }
    let claimer = world.claimer();
    let first = claimer.run_once().await.unwrap();
    assert_eq!(
        (first.tables_created, first.lookup_claims),
        (1, 1),
        "{first:?}"
    );

    // The next round finds every address in the table: nothing to create or extend.
    for payer in payers.iter_mut() {
        pay(&world, &provider, payer, 2_000).await;
    }
    let second = claimer.run_once().await.unwrap();
    assert_eq!(
        (second.tables_created, second.table_transactions),
        (0, 0),
        "{second:?}"
    );
    assert_eq!(second.lookup_claims, 1);
    assert_eq!(world.token_balance(&provider).await, 20_000);

    // Idle: deactivated, then closed once its deactivation slot is no longer recent.
    let idle = world.claimer_with(|config| {
        config.lookup_tables = Some(TableConfig {
            idle: std::time::Duration::ZERO,
            ..TableConfig::default()
        });
    });
    let deactivated = idle.run_once().await.unwrap();
    assert_eq!(
        (deactivated.table_transactions, deactivated.tables_closed),
        (1, 0)
    );
    let table = world
        .facilitator()
        .store()
        .lookup_tables(&world.facilitator_key.pubkey())
        .await
        .unwrap()[0]
        .address;
    let rent = world.rpc.get_balance(&table).await.unwrap();
    assert!(rent > 0);
    for _ in 0..520 {
        world.localnet.chain.advance_slot();
    }
    let before = world.fee_payer_lamports().await;
    let closed = idle.run_once().await.unwrap();
    assert_eq!(closed.tables_closed, 1, "{closed:?}");
    assert_eq!(closed.table_rent_recovered, rent);
    assert!(
        world.rpc.get_account(&table).await.is_err(),
        "the table is gone"
    );
    assert_eq!(
        world.fee_payer_lamports().await,
        before + rent - 5_000,
        "rent back, one fee paid"
    );

    // Later claims get a new table.
    pay(&world, &provider, &mut payers[0], 2_000).await;
    let later = world.claimer().run_once().await.unwrap();
    assert_eq!(
        (later.tables_created, later.lookup_claims),
        (1, 1),
        "{later:?}"
    );
    world.shutdown().await;
}
