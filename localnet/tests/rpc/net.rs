//! The world of these tests: a localnet, an `RpcClient` on it, and builders.

#![allow(dead_code)]

use std::time::Duration;

use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::ErrorKind;
use solana_rpc_client_api::request::{RpcError, RpcResponseErrorData};
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;

pub const USDC: u64 = 1_000_000;
/// SPL Memo (v3).
pub const MEMO_PROGRAM_ID: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
/// Short slots keep the tests quick; several localnets run at once.
pub const SLOT_MS: u64 = 40;

/// Polls `done` every slot until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(SLOT_MS)).await;
    }
    false
}

pub struct Net {
    pub localnet: Localnet,
    pub rpc: RpcClient,
}

impl Net {
    pub async fn start() -> Self {
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

    pub fn mint(&self) -> Pubkey {
        self.localnet.info().usdc_mint
    }

    /// A wallet with 10 SOL and `usdc` raw units of test USDC.
    pub async fn wallet(&self, usdc: u64) -> Keypair {
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

    pub async fn request_usdc(&self, owner: &Pubkey, amount: u64) -> solana_signature::Signature {
        let answer = self
            .raw(json!({"jsonrpc": "2.0", "id": 1, "method": "paytab_requestUsdc", "params": [owner.to_string(), amount]}))
            .await;
        answer["result"].as_str().unwrap().parse().unwrap()
    }

    pub fn ata(&self, owner: &Pubkey) -> Pubkey {
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            owner,
            &self.mint(),
            &spl_token_interface::ID,
        )
    }

    pub async fn wait(&self, signature: &solana_signature::Signature) {
        let confirmed = eventually(Duration::from_secs(30), async || {
            self.rpc.confirm_transaction(signature).await.unwrap()
        })
        .await;
        assert!(confirmed, "{signature} was not confirmed");
    }

    pub async fn send(
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

    pub async fn raw(&self, body: Value) -> Value {
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

    pub async fn raw_text(&self, body: &str) -> (u16, Value) {
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

pub fn transfer_checked(
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

pub fn create_ata(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        mint,
        &spl_token_interface::ID,
    )
}

pub fn preflight_error(
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
