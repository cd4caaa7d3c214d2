//! Chain reads and transactions, as a validator answers them.

use std::time::Duration;

use anchor_lang::{InstructionData, ToAccountMetas};
use serde_json::json;
use solana_commitment_config::CommitmentConfig;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{v0, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_rpc_client_types::config::RpcTransactionConfig;
use solana_rpc_client_types::filter::{Memcmp, RpcFilterType};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, TransactionConfirmationStatus, UiTransactionEncoding,
};

use crate::net::*;

#[tokio::test]
async fn cluster_state_reads_like_a_validator() {
    let net = Net::start().await;
    let info = net.localnet.info().clone();

    assert_eq!(net.rpc.get_genesis_hash().await.unwrap(), info.genesis_hash);
    assert_eq!(
        info.network,
        format!("solana:{}", &info.genesis_hash.to_string()[..32])
    );
    assert_eq!(net.rpc.get_version().await.unwrap().solana_core, "3.1.12");
    net.rpc.get_health().await.unwrap();
    let health = reqwest::get(format!("{}/health", net.localnet.rpc_url()))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let first = net.rpc.get_slot().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        net.rpc.get_slot().await.unwrap() > first,
        "slots advance on their own"
    );
    assert!(net.rpc.get_block_height().await.unwrap() > 0);
    assert!(net.rpc.get_epoch_info().await.unwrap().absolute_slot > 0);
    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    assert!(net
        .rpc
        .is_blockhash_valid(&blockhash, CommitmentConfig::confirmed())
        .await
        .unwrap());
    assert!(!net
        .rpc
        .is_blockhash_valid(&Hash::new_unique(), CommitmentConfig::confirmed())
        .await
        .unwrap());
    assert_eq!(
        net.rpc
            .get_minimum_balance_for_rent_exemption(165)
            .await
            .unwrap(),
        2_039_280
    );
    for program in [
        info.program_id,
        spl_token_interface::ID,
        spl_token_2022_interface::ID,
        spl_associated_token_account_interface::program::ID,
        MEMO_PROGRAM_ID.parse().unwrap(),
    ] {
        assert!(
            net.rpc.get_account(&program).await.unwrap().executable,
            "{program}"
        );
    }
}

#[tokio::test]
async fn an_airdrop_arrives_and_pays_fees() {
    let net = Net::start().await;
    let wallet = net.wallet(0).await;
    assert_eq!(
        net.rpc.get_balance(&wallet.pubkey()).await.unwrap(),
        10_000_000_000
    );

    let other = Keypair::new();
    let transfer = solana_system_interface::instruction::transfer(
        &wallet.pubkey(),
        &other.pubkey(),
        1_000_000,
    );
    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    let message = solana_message::Message::new_with_blockhash(
        std::slice::from_ref(&transfer),
        Some(&wallet.pubkey()),
        &blockhash,
    );
    let fee = net.rpc.get_fee_for_message(&message).await.unwrap();
    net.send(&[transfer], &[&wallet]).await.unwrap();

    assert_eq!(fee, 5_000);
    assert_eq!(
        net.rpc.get_balance(&wallet.pubkey()).await.unwrap(),
        10_000_000_000 - 1_000_000 - fee
    );
}

#[tokio::test]
async fn token_transfers_show_in_balances_parsed_accounts_and_transaction_history() {
    let net = Net::start().await;
    let mint = net.mint();
    let payer = net.wallet(5 * USDC).await;
    let payee = Keypair::new();
    let instructions = [
        create_ata(&payer.pubkey(), &payee.pubkey(), &mint),
        transfer_checked(
            &net.ata(&payer.pubkey()),
            &mint,
            &net.ata(&payee.pubkey()),
            &payer.pubkey(),
            1_250_000,
        ),
    ];
    let signature = net.send(&instructions, &[&payer]).await.unwrap();

    let balance = net
        .rpc
        .get_token_account_balance(&net.ata(&payee.pubkey()))
        .await
        .unwrap();
    assert_eq!((balance.amount.as_str(), balance.decimals), ("1250000", 6));
    assert_eq!(balance.ui_amount_string, "1.25");

    let by_mint = net
        .rpc
        .get_token_accounts_by_owner(
            &payee.pubkey(),
            solana_rpc_client_api::request::TokenAccountsFilter::Mint(mint),
        )
        .await
        .unwrap();
    assert_eq!(by_mint.len(), 1);
    assert_eq!(by_mint[0].pubkey, net.ata(&payee.pubkey()).to_string());
    let by_program = net
        .rpc
        .get_token_accounts_by_owner(
            &payer.pubkey(),
            solana_rpc_client_api::request::TokenAccountsFilter::ProgramId(spl_token_interface::ID),
        )
        .await
        .unwrap();
    assert_eq!(by_program.len(), 1);

    let parsed = net
        .raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
            "params": [net.ata(&payee.pubkey()).to_string(), {"encoding": "jsonParsed"}]}),
        )
        .await;
    let info = &parsed["result"]["value"]["data"]["parsed"]["info"];
    assert_eq!(info["mint"], mint.to_string());
    assert_eq!(info["tokenAmount"]["amount"], "1250000");
    let mint_account = net
        .raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
            "params": [mint.to_string(), {"encoding": "jsonParsed"}]}),
        )
        .await;
    assert_eq!(
        mint_account["result"]["value"]["data"]["parsed"]["type"],
        "mint"
    );
    assert_eq!(
        mint_account["result"]["value"]["data"]["parsed"]["info"]["decimals"],
        6
    );

    let accounts = net
        .rpc
        .get_multiple_accounts(&[mint, net.ata(&payee.pubkey()), Pubkey::new_unique()])
        .await
        .unwrap();
    assert!(accounts[0].is_some() && accounts[1].is_some() && accounts[2].is_none());

    let transaction = net
        .rpc
        .get_transaction_with_config(
            &signature,
            RpcTransactionConfig {
                encoding: Some(UiTransactionEncoding::Json),
                commitment: Some(CommitmentConfig::confirmed()),
                max_supported_transaction_version: Some(0),
            },
        )
        .await
        .unwrap();
    let meta = transaction.transaction.meta.unwrap();
    assert!(meta.err.is_none());
    let OptionSerializer::Some(pre) = meta.pre_token_balances else {
        panic!("pre token balances")
    };
    let OptionSerializer::Some(post) = meta.post_token_balances else {
        panic!("post token balances")
    };
    let payer_pre = pre
        .iter()
        .find(|b| b.owner == OptionSerializer::Some(payer.pubkey().to_string()))
        .unwrap();
    let payer_post = post
        .iter()
        .find(|b| b.owner == OptionSerializer::Some(payer.pubkey().to_string()))
        .unwrap();
    assert_eq!(payer_pre.ui_token_amount.amount, "5000000");
    assert_eq!(payer_post.ui_token_amount.amount, "3750000");
    let payee_post = post
        .iter()
        .find(|b| b.owner == OptionSerializer::Some(payee.pubkey().to_string()))
        .unwrap();
    assert_eq!(payee_post.ui_token_amount.amount, "1250000");
    assert!(
        !pre.iter()
            .any(|b| b.owner == OptionSerializer::Some(payee.pubkey().to_string())),
        "the payee's account was created by the transaction"
    );
}

#[tokio::test]
async fn a_failing_transaction_is_refused_by_preflight_with_its_logs() {
    let net = Net::start().await;
    let mint = net.mint();
    let payer = net.wallet(USDC).await;
    let payee = net.wallet(1).await;
    let overdraw = transfer_checked(
        &net.ata(&payer.pubkey()),
        &mint,
        &net.ata(&payee.pubkey()),
        &payer.pubkey(),
        2 * USDC,
    );
    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    let transaction = Transaction::new_signed_with_payer(
        &[overdraw],
        Some(&payer.pubkey()),
        &[&payer],
        blockhash,
    );

    let simulation = net
        .rpc
        .simulate_transaction(&transaction)
        .await
        .unwrap()
        .value;
    assert!(matches!(
        simulation.err.clone().map(TransactionError::from),
        Some(TransactionError::InstructionError(0, _))
    ));
    assert!(simulation
        .logs
        .unwrap()
        .iter()
        .any(|line| line.contains("insufficient funds")));

    let error = net.rpc.send_transaction(&transaction).await.unwrap_err();
    let (err, logs) = preflight_error(&error);
    assert!(matches!(
        err,
        Some(TransactionError::InstructionError(0, _))
    ));
    assert!(logs.iter().any(|line| line.contains("insufficient funds")));
}

#[tokio::test]
async fn an_expired_blockhash_gets_the_real_error() {
    let net = Net::start().await;
    let wallet = net.wallet(0).await;
    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    let expired = eventually(Duration::from_secs(60), async || {
        !net.rpc
            .is_blockhash_valid(&blockhash, CommitmentConfig::processed())
            .await
            .unwrap()
    })
    .await;
    assert!(expired, "the blockhash expires after 150 slots");
    let transfer = solana_system_interface::instruction::transfer(
        &wallet.pubkey(),
        &Pubkey::new_unique(),
        1_000_000,
    );
    let transaction = Transaction::new_signed_with_payer(
        &[transfer],
        Some(&wallet.pubkey()),
        &[&wallet],
        blockhash,
    );

    let error = net.rpc.send_transaction(&transaction).await.unwrap_err();

    assert_eq!(
        preflight_error(&error).0,
        Some(TransactionError::BlockhashNotFound)
    );
}

#[tokio::test]
async fn signature_statuses_move_from_confirmed_to_finalized() {
    let net = Net::start().await;
    let wallet = Keypair::new();
    let signature = net
        .rpc
        .request_airdrop(&wallet.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let finalized = eventually(Duration::from_secs(30), async || {
        let status = net
            .rpc
            .get_signature_statuses(&[signature])
            .await
            .unwrap()
            .value[0]
            .clone();
        let Some(status) = status else { return false };
        let level = status.confirmation_status.unwrap();
        if !seen.contains(&level) {
            seen.push(level.clone());
        }
        let done = level == TransactionConfirmationStatus::Finalized;
        assert!(!done || status.confirmations.is_none());
        done
    })
    .await;
    assert!(finalized);
    assert!(
        seen.contains(&TransactionConfirmationStatus::Finalized),
        "saw {seen:?}"
    );
    let unknown = solana_signature::Signature::from([7; 64]);
    assert!(net
        .rpc
        .get_signature_statuses(&[unknown])
        .await
        .unwrap()
        .value[0]
        .is_none());
}

#[tokio::test]
async fn a_v0_transaction_sent_in_base58_lands() {
    let net = Net::start().await;
    let wallet = net.wallet(0).await;
    let to = Pubkey::new_unique();
    let transfer = solana_system_interface::instruction::transfer(&wallet.pubkey(), &to, 2_000_000);
    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    let message = v0::Message::try_compile(&wallet.pubkey(), &[transfer], &[], blockhash).unwrap();
    let transaction =
        VersionedTransaction::try_new(VersionedMessage::V0(message), &[&wallet]).unwrap();
    let encoded = bs58::encode(bincode::serialize(&transaction).unwrap()).into_string();

    let answer = net
        .raw(json!({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": [encoded]}))
        .await;
    let signature: solana_signature::Signature =
        answer["result"].as_str().unwrap().parse().unwrap();
    net.wait(&signature).await;

    assert_eq!(net.rpc.get_balance(&to).await.unwrap(), 2_000_000);
}

#[tokio::test]
async fn the_escrow_flow_runs_end_to_end_over_rpc() {
    let net = Net::start().await;
    let mint = net.mint();
    let payer = net.wallet(10 * USDC).await;
    let provider = net.wallet(1).await;
    let escrow = paytab::pda::escrow(&payer.pubkey(), &mint);
    let vault = paytab::pda::vault(&escrow);
    let allowance = paytab::pda::allowance(&escrow, &provider.pubkey());
    let program_ix = |accounts: Vec<AccountMeta>, data: Vec<u8>| Instruction {
        program_id: paytab::ID,
        accounts,
        data,
    };

    let open = program_ix(
        paytab::accounts::OpenEscrow {
            owner: payer.pubkey(),
            mint,
            escrow,
            vault,
            vault_authority: paytab::pda::vault_authority(),
            token_program: spl_token_interface::ID,
            system_program: solana_sdk_ids::system_program::ID,
        }
        .to_account_metas(None),
        paytab::instruction::OpenEscrow { notice_secs: 60 }.data(),
    );
    let deposit = program_ix(
        paytab::accounts::Deposit {
            depositor: payer.pubkey(),
            escrow,
            mint,
            vault,
            source: net.ata(&payer.pubkey()),
            token_program: spl_token_interface::ID,
        }
        .to_account_metas(None),
        paytab::instruction::Deposit { amount: 4 * USDC }.data(),
    );
    let grant = program_ix(
        paytab::accounts::GrantAllowance {
            owner: payer.pubkey(),
            escrow,
            provider: provider.pubkey(),
            allowance,
            system_program: solana_sdk_ids::system_program::ID,
        }
        .to_account_metas(None),
        paytab::instruction::GrantAllowance {
            args: paytab::instructions::GrantAllowanceArgs {
                cap: 2 * USDC,
                period_secs: 0,
                period_limit: 0,
                expires_at: 0,
                delegate: None,
            },
        }
        .data(),
    );
    net.send(&[open, deposit, grant], &[&payer]).await.unwrap();

    let state = net.rpc.get_account(&allowance).await.unwrap();
    let generation = u64::from_le_bytes(
        state.data[8 + 32 * 3 + 16..8 + 32 * 3 + 24]
            .try_into()
            .unwrap(),
    );
    let receipt = paytab::receipt::Receipt {
        allowance,
        generation,
        cumulative: 750_000,
        expires_at: 0,
    };
    let message = receipt.to_bytes();
    let signature = payer.sign_message(&message);
    let verify = solana_ed25519_program::new_ed25519_instruction_with_signature(
        &message,
        &signature.into(),
        &payer.pubkey().to_bytes(),
    );
    let claim = program_ix(
        paytab::accounts::Claim {
            escrow,
            allowance,
            vault,
            vault_authority: paytab::pda::vault_authority(),
            mint,
            provider_token: net.ata(&provider.pubkey()),
            token_program: spl_token_interface::ID,
            instructions: solana_sdk_ids::sysvar::instructions::ID,
        }
        .to_account_metas(None),
        paytab::instruction::Claim {}.data(),
    );
    net.send(&[verify, claim], &[&provider]).await.unwrap();

    let earned = net
        .rpc
        .get_token_account_balance(&net.ata(&provider.pubkey()))
        .await
        .unwrap();
    assert_eq!(earned.amount, "750001");
    let vault_balance = net.rpc.get_token_account_balance(&vault).await.unwrap();
    assert_eq!(vault_balance.amount, "3250000");

    let escrows = net
        .rpc
        .get_program_ui_accounts_with_config(
            &paytab::ID,
            solana_rpc_client_types::config::RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::Memcmp(Memcmp::new_raw_bytes(
                    8,
                    payer.pubkey().to_bytes().to_vec(),
                ))]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(escrows.len(), 1);
    assert_eq!(escrows[0].0, escrow);
    let by_size = net
        .rpc
        .get_program_ui_accounts_with_config(
            &paytab::ID,
            solana_rpc_client_types::config::RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::DataSize(state.data.len() as u64)]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_size.len(), 1, "one allowance");
}

#[tokio::test]
async fn simulation_can_replace_the_blockhash_or_verify_signatures() {
    let net = Net::start().await;
    let wallet = net.wallet(0).await;
    let transfer = solana_system_interface::instruction::transfer(
        &wallet.pubkey(),
        &Pubkey::new_unique(),
        1_000_000,
    );
    let stale = Transaction::new_signed_with_payer(
        std::slice::from_ref(&transfer),
        Some(&wallet.pubkey()),
        &[&wallet],
        Hash::new_unique(),
    );
    let encoded = base64_of(&stale);

    let replaced = net
        .raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "simulateTransaction",
            "params": [encoded, {"encoding": "base64", "replaceRecentBlockhash": true}]}),
        )
        .await;
    assert!(replaced["result"]["value"]["err"].is_null(), "{replaced}");
    assert!(replaced["result"]["value"]["replacementBlockhash"]["blockhash"].is_string());
    assert!(replaced["result"]["value"]["logs"]
        .as_array()
        .is_some_and(|logs| !logs.is_empty()));

    let as_is = net
        .raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "simulateTransaction",
            "params": [encoded, {"encoding": "base64"}]}),
        )
        .await;
    assert_eq!(as_is["result"]["value"]["err"], json!("BlockhashNotFound"));

    let mut forged = Transaction::new_signed_with_payer(
        &[transfer],
        Some(&wallet.pubkey()),
        &[&wallet],
        net.rpc.get_latest_blockhash().await.unwrap(),
    );
    forged.signatures[0] = solana_signature::Signature::from([9; 64]);
    let verified = net
        .raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "simulateTransaction",
            "params": [base64_of(&forged), {"encoding": "base64", "sigVerify": true}]}),
        )
        .await;
    assert_eq!(verified["error"]["code"], -32003);
    let both = net
        .raw(json!({"jsonrpc": "2.0", "id": 1, "method": "simulateTransaction",
            "params": [encoded, {"encoding": "base64", "sigVerify": true, "replaceRecentBlockhash": true}]}))
        .await;
    assert_eq!(both["error"]["code"], -32602);
}

fn base64_of(transaction: &Transaction) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bincode::serialize(transaction).unwrap())
}
