//! Blocks, history and chain-wide figures, read through `RpcClient` so the
//! answers are checked against the official client's types.

use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_signer::Signer;

use crate::net::*;

#[tokio::test]
async fn blocks_history_supply_and_identity_read_like_a_validator() {
    let net = Net::start().await;
    let payer = net.wallet(5 * USDC).await;
    let payee = solana_keypair::Keypair::new();
    let mint = net.mint();
    let signature = net
        .send(
            &[
                create_ata(&payer.pubkey(), &payee.pubkey(), &mint),
                transfer_checked(
                    &net.ata(&payer.pubkey()),
                    &mint,
                    &net.ata(&payee.pubkey()),
                    &payer.pubkey(),
                    USDC,
                ),
            ],
            &[&payer],
        )
        .await
        .unwrap();
    let landed = net
        .rpc
        .get_transaction(
            &signature,
            solana_transaction_status_client_types::UiTransactionEncoding::Json,
        )
        .await
        .unwrap();
    // Its block closes one slot later.
    assert!(
        eventually(std::time::Duration::from_secs(5), async || net
            .rpc
            .get_slot()
            .await
            .unwrap()
            > landed.slot)
        .await
    );
    let block = net
        .rpc
        .get_block_with_config(
            landed.slot,
            solana_rpc_client_types::config::RpcBlockConfig {
                encoding: Some(
                    solana_transaction_status_client_types::UiTransactionEncoding::Base64,
                ),
                max_supported_transaction_version: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let transactions = block.transactions.clone().unwrap_or_default();
    let found = transactions.iter().any(|tx| {
        tx.transaction
            .decode()
            .is_some_and(|decoded| decoded.signatures[0] == signature)
    });
    assert!(found, "the block holds the transaction");
    assert_eq!(block.block_time, landed.block_time);
    assert_eq!(block.parent_slot + 1, landed.slot);
    let time = net.rpc.get_block_time(landed.slot).await.unwrap();
    assert_eq!(Some(time), landed.block_time);
    let blocks = net
        .rpc
        .get_blocks(landed.slot, Some(landed.slot))
        .await
        .unwrap();
    assert_eq!(blocks, vec![landed.slot]);
    assert!(
        net.rpc.get_block(u64::MAX / 2).await.is_err(),
        "a block never produced"
    );

    let history = net
        .rpc
        .get_signatures_for_address_with_config(
            &payee.pubkey(),
            GetConfirmedSignaturesForAddress2Config {
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].signature, signature.to_string());
    assert_eq!(history[0].slot, landed.slot);
    let fees = net
        .rpc
        .get_recent_prioritization_fees(&[payer.pubkey()])
        .await
        .unwrap();
    assert!(fees.iter().any(|fee| fee.slot == landed.slot));

    let supply = net.rpc.get_token_supply(&mint).await.unwrap();
    assert_eq!(supply.decimals, 6);
    assert!(supply.amount.parse::<u64>().unwrap() >= 5 * USDC);
    let largest = net.rpc.get_token_largest_accounts(&mint).await.unwrap();
    assert!(largest
        .iter()
        .any(|account| account.address == net.ata(&payer.pubkey()).to_string()));
    assert!(largest.windows(2).all(|pair| {
        pair[0].amount.amount.parse::<u64>().unwrap()
            >= pair[1].amount.amount.parse::<u64>().unwrap()
    }));

    let schedule = net.rpc.get_epoch_schedule().await.unwrap();
    assert!(schedule.slots_per_epoch > 0);
    assert!(net.rpc.supply().await.unwrap().value.total > 0);
    assert!(net.rpc.get_transaction_count().await.unwrap() >= 3);
    let identity = net.rpc.get_identity().await.unwrap();
    assert_ne!(identity, solana_pubkey::Pubkey::default());
    let first = net.rpc.get_first_available_block().await.unwrap();
    assert!(first <= landed.slot);
    assert_eq!(net.rpc.minimum_ledger_slot().await.unwrap(), first);
    let version = net.rpc.get_version().await.unwrap();
    assert!(
        version.feature_set.is_some(),
        "a feature-set number, as a validator reports"
    );
}
