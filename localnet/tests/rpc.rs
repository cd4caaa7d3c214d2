//! The localnet through `solana-rpc-client`'s `RpcClient` and raw JSON-RPC only.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use anchor_lang::{InstructionData, ToAccountMetas};
use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{v0, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::ErrorKind;
use solana_rpc_client_api::request::{RpcError, RpcResponseErrorData};
use solana_rpc_client_types::config::RpcTransactionConfig;
use solana_rpc_client_types::filter::{Memcmp, RpcFilterType};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, TransactionConfirmationStatus, UiTransactionEncoding,
};

const USDC: u64 = 1_000_000;
/// SPL Memo (v3).
const MEMO_PROGRAM_ID: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
/// Short slots keep the tests quick; several localnets run at once.
const SLOT_MS: u64 = 40;

/// Polls `done` every slot until it holds or `limit` passes.
async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(SLOT_MS)).await;
    }
    false
}

struct Net {
    localnet: Localnet,
    rpc: RpcClient,
}

impl Net {
    async fn start() -> Self {
        let localnet = Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            slot_duration: Duration::from_millis(SLOT_MS),
            ..LocalnetConfig::default()
        })
        .await
        .unwrap();
        let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
        Self { localnet, rpc }
    }

    fn mint(&self) -> Pubkey {
        self.localnet.info().usdc_mint
    }

    /// A wallet with 10 SOL and `usdc` raw units of test USDC.
    async fn wallet(&self, usdc: u64) -> Keypair {
        let wallet = Keypair::new();
        let airdrop = self
            .rpc
            .request_airdrop(&wallet.pubkey(), 10_000_000_000)
            .await
            .unwrap();
        self.wait(&airdrop).await;
        if usdc > 0 {
            let minted = self.request_usdc(&wallet.pubkey(), usdc).await;
            self.wait(&minted).await;
        }
        wallet
    }

    async fn request_usdc(&self, owner: &Pubkey, amount: u64) -> solana_signature::Signature {
        let answer = self
            .raw(json!({"jsonrpc": "2.0", "id": 1, "method": "paytab_requestUsdc", "params": [owner.to_string(), amount]}))
            .await;
        answer["result"].as_str().unwrap().parse().unwrap()
    }

    fn ata(&self, owner: &Pubkey) -> Pubkey {
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            owner,
            &self.mint(),
            &spl_token_interface::ID,
        )
    }

    async fn wait(&self, signature: &solana_signature::Signature) {
        let confirmed = eventually(Duration::from_secs(30), async || {
            self.rpc.confirm_transaction(signature).await.unwrap()
        })
        .await;
        assert!(confirmed, "{signature} was not confirmed");
    }

    async fn send(
        &self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<solana_signature::Signature, solana_rpc_client_api::client_error::Error> {
        let blockhash = self.rpc.get_latest_blockhash().await.unwrap();
        let transaction = Transaction::new_signed_with_payer(
            instructions,
            Some(&signers[0].pubkey()),
            signers,
            blockhash,
        );
        self.rpc.send_and_confirm_transaction(&transaction).await
    }

    async fn raw(&self, body: Value) -> Value {
        reqwest::Client::new()
            .post(self.localnet.rpc_url())
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn raw_text(&self, body: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.localnet.rpc_url())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

fn transfer_checked(
    from: &Pubkey,
    mint: &Pubkey,
    to: &Pubkey,
    authority: &Pubkey,
    amount: u64,
) -> Instruction {
    spl_token_2022_interface::instruction::transfer_checked(
        &spl_token_interface::ID,
        from,
        mint,
        to,
        authority,
        &[],
        amount,
        6,
    )
    .unwrap()
}

fn create_ata(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        mint,
        &spl_token_interface::ID,
    )
}

fn preflight_error(
    error: &solana_rpc_client_api::client_error::Error,
) -> (Option<TransactionError>, Vec<String>) {
    match error.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            code: -32002,
            data: RpcResponseErrorData::SendTransactionPreflightFailure(result),
            ..
        }) => (
            result.err.clone().map(Into::into),
            result.logs.clone().unwrap_or_default(),
        ),
        other => panic!("expected a preflight failure, got {other:?}"),
    }
}

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

#[tokio::test]
async fn malformed_json_rpc_gets_standard_error_objects() {
    let net = Net::start().await;

    let (_, bad_json) = net.raw_text("{not json").await;
    assert_eq!(bad_json["error"]["code"], -32700);
    let (_, unknown) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":3,"method":"getBlockProduction"}"#)
        .await;
    assert_eq!(
        (unknown["error"]["code"].clone(), unknown["id"].clone()),
        (json!(-32601), json!(3))
    );
    let (_, no_method) = net.raw_text(r#"{"jsonrpc":"2.0","id":4}"#).await;
    assert_eq!(no_method["error"]["code"], -32600);
    let (_, wrong_params) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":5,"method":"getBalance","params":["not-an-address"]}"#)
        .await;
    assert_eq!(wrong_params["error"]["code"], -32602);
    let (_, params_object) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":6,"method":"getBalance","params":{"a":1}}"#)
        .await;
    assert_eq!(params_object["error"]["code"], -32602);
    let (_, garbage_tx) = net.raw_text(r#"{"jsonrpc":"2.0","id":7,"method":"sendTransaction","params":["AAAA",{"encoding":"base64"}]}"#).await;
    assert_eq!(garbage_tx["error"]["code"], -32602);
    let (_, batch) = net.raw_text(r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#).await;
    assert!(batch[0]["result"].is_u64() && batch[1]["error"]["code"] == -32601);
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":8,"method":"getSlot","params":["{}"]}}"#,
        "x".repeat(100 * 1024)
    );
    let (status, oversized) = net.raw_text(&huge).await;
    assert_eq!(
        (status, oversized["error"]["code"].clone()),
        (413, json!(-32600))
    );

    assert!(net.rpc.get_slot().await.is_ok(), "the server is still up");
}

#[tokio::test]
async fn every_method_answers_hostile_parameters_with_a_json_rpc_error_and_never_drops_the_connection(
) {
    let net = Net::start().await;
    let methods = [
        "getVersion",
        "getHealth",
        "getGenesisHash",
        "getSlot",
        "getBlockHeight",
        "getEpochInfo",
        "getLatestBlockhash",
        "isBlockhashValid",
        "getFeeForMessage",
        "getMinimumBalanceForRentExemption",
        "getBalance",
        "getAccountInfo",
        "getMultipleAccounts",
        "getProgramAccounts",
        "getTokenAccountBalance",
        "getTokenAccountsByOwner",
        "sendTransaction",
        "simulateTransaction",
        "getSignatureStatuses",
        "getTransaction",
        "requestAirdrop",
        "paytab_requestUsdc",
    ];
    let hostile = [
        json!([18_446_744_073_709_551_615u64]),
        json!([-1]),
        json!([1e308]),
        json!([
            "11111111111111111111111111111111",
            18_446_744_073_709_551_615u64
        ]),
        json!(["11111111111111111111111111111111", {"encoding": "jsonParsed", "dataSlice": {"offset": 18_446_744_073_709_551_615u64, "length": 18_446_744_073_709_551_615u64}}]),
        json!(["TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", {"filters": [{"dataSize": 18_446_744_073_709_551_615u64}, {"memcmp": {"offset": 18_446_744_073_709_551_615u64, "bytes": "1"}}]}]),
        json!([["x"]]),
        json!([{"nested": [[[[[[[[[[[]]]]]]]]]]]}]),
        json!(["", "", "", ""]),
        json!([null, null]),
        json!([true]),
        json!([std::iter::repeat_n("11111111111111111111111111111111", 500).collect::<Vec<_>>()]),
        json!(["AQ==", {"encoding": "base64", "replaceRecentBlockhash": true, "sigVerify": true}]),
    ];
    for method in methods {
        for params in &hostile {
            let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
            let response = reqwest::Client::new()
                .post(net.localnet.rpc_url())
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|error| {
                    panic!("{method} {params}: the connection dropped: {error}")
                });
            let answer: Value = response.json().await.unwrap();
            assert!(
                answer["result"].is_null() != answer["error"].is_null(),
                "{method} {params}: {answer}"
            );
            assert_eq!(answer["id"], 9, "{method} {params}: {answer}");
        }
    }
    let (_, rent) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":1,"method":"getMinimumBalanceForRentExemption","params":[18446744073709551615]}"#)
        .await;
    assert_eq!(rent["error"]["code"], -32602, "{rent}");
    assert!(net.rpc.get_slot().await.is_ok(), "the server is still up");
}

#[tokio::test]
async fn the_same_genesis_seed_is_the_same_network_on_every_start_and_another_seed_another() {
    let start = |seed: &str, slot_ms: u64| {
        Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            slot_duration: Duration::from_millis(slot_ms),
            genesis_seed: seed.into(),
        })
    };
    let first = start(paytab_localnet::DEFAULT_GENESIS_SEED, SLOT_MS)
        .await
        .unwrap();
    let network = first.info().network.clone();
    let genesis = first.info().genesis_hash;
    first.shutdown().await;
    let again = start(paytab_localnet::DEFAULT_GENESIS_SEED, 400)
        .await
        .unwrap();
    assert_eq!(
        again.info().network,
        network,
        "a restart, at another pace, is the same chain"
    );
    assert_eq!(again.info().genesis_hash, genesis);
    let rpc = RpcClient::new(again.rpc_url());
    assert_eq!(rpc.get_genesis_hash().await.unwrap(), genesis);
    again.shutdown().await;
    let other = start("another chain", SLOT_MS).await.unwrap();
    assert_ne!(other.info().network, network);
    other.shutdown().await;
}
