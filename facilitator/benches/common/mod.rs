//! What the facilitator's benchmarks share: a localnet with payers whose
//! escrows each grant one allowance to one provider, and signed settle
//! bodies for their receipts.

#![allow(dead_code)]

use std::time::Duration;

use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use paytab_client::receipts::sign_receipt;
use paytab_client::EscrowAccounts;
use paytab_facilitator::escrow::payload::SignedReceipt;
use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::Transaction;

/// The price of each receipt, raw units.
pub const PRICE: u64 = 100;

/// The localnet, the facilitator's key, the provider and the payers
/// (keypair, escrow, allowance generation).
pub struct Setup {
    pub localnet: Localnet,
    pub facilitator_key: Keypair,
    pub provider: Pubkey,
    pub payers: Vec<(Keypair, EscrowAccounts, u64)>,
}

/// A localnet with `payers` escrows, each with an allowance for one provider.
pub async fn setup(payers: usize) -> Setup {
    let localnet = Localnet::start(LocalnetConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        slot_duration: Duration::from_millis(100),
        ..LocalnetConfig::default()
    })
    .await
    .unwrap();
    let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
    let chain = localnet.chain.clone();
    let mint = localnet.info().usdc_mint;
    let facilitator_key = Keypair::new();
    chain
        .airdrop(&facilitator_key.pubkey(), 10_000_000_000)
        .unwrap();
    let provider = Keypair::new().pubkey();
    let mut out = Vec::with_capacity(payers);
    let mut pending = Vec::with_capacity(payers);
    for _ in 0..payers {
        let keypair = Keypair::new();
        chain.airdrop(&keypair.pubkey(), 1_000_000_000).unwrap();
        chain.mint_usdc(&keypair.pubkey(), 1_000_000_000).unwrap();
        let escrow = EscrowAccounts::new(keypair.pubkey(), mint, spl_token_interface::ID);
        let instructions = escrow.open_with_allowance(
            0,
            1_000_000_000,
            &provider,
            GrantAllowanceArgs {
                cap: 1_000_000_000,
                period_secs: 0,
                period_limit: 0,
                expires_at: 0,
                delegate: Some(facilitator_key.pubkey()),
            },
        );
        let blockhash = rpc.get_latest_blockhash().await.unwrap();
        let transaction = Transaction::new_signed_with_payer(
            &instructions,
            Some(&keypair.pubkey()),
            &[&keypair],
            blockhash,
        );
        pending.push(rpc.send_transaction(&transaction).await.unwrap());
        out.push((keypair, escrow, 0));
    }
    for signature in pending {
        while !rpc.confirm_transaction(&signature).await.unwrap() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for entry in &mut out {
        let allowance = entry.1.allowance(&provider);
        let account = rpc.get_account(&allowance).await.unwrap();
        entry.2 = paytab_client::accounts::allowance(&account.data)
            .unwrap()
            .generation;
    }
    Setup {
        localnet,
        facilitator_key,
        provider,
        payers: out,
    }
}

/// The escrow requirement of one receipt.
pub fn requirement(setup: &Setup) -> Value {
    json!({
        "scheme": "paytab-escrow",
        "network": setup.localnet.info().network,
        "amount": PRICE.to_string(),
        "asset": setup.localnet.info().usdc_mint.to_string(),
        "payTo": setup.provider.to_string(),
        "maxTimeoutSeconds": 60,
    })
}

/// Request bodies for receipts `from+1 ..= from+count` (in prices) of one payer.
pub fn bodies(setup: &Setup, payer: usize, from: u64, count: u64) -> Vec<Vec<u8>> {
    let (keypair, escrow, generation) = &setup.payers[payer];
    let requirement = requirement(setup);
    (from + 1..=from + count)
        .map(|step| {
            let receipt = Receipt {
                allowance: escrow.allowance(&setup.provider),
                generation: *generation,
                cumulative: step * PRICE,
                expires_at: 0,
            };
            let payload = SignedReceipt {
                receipt,
                signer: keypair.pubkey(),
                signature: sign_receipt(keypair, &receipt),
            }
            .to_payload();
            serde_json::to_vec(&json!({
                "x402Version": 2,
                "paymentPayload": {"x402Version": 2, "accepted": requirement, "payload": payload},
                "paymentRequirements": requirement,
            }))
            .unwrap()
        })
        .collect()
}
