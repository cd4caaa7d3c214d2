//! A world for facilitator tests: an embedded localnet, a facilitator on a
//! temporary SQLite file, and builders for payers, allowances, receipts and
//! x402 bodies.

#![allow(dead_code)]

pub mod binary;
pub mod provider;
mod tiny_disk;
pub use tiny_disk::TinyDisk;

use std::time::Duration;

use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use paytab_client::receipts::sign_receipt;
use paytab_client::EscrowAccounts;
use paytab_facilitator::chain::ChainReader;
use paytab_facilitator::claimer::{Claimer, ClaimerConfig};
use paytab_facilitator::escrow::payload::SignedReceipt;
use paytab_facilitator::{Facilitator, Settings};
use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::Transaction;
use std::sync::Arc;

/// One USDC in raw units.
pub const USDC: u64 = 1_000_000;
/// The API key the tests' resource server presents.
pub const API_KEY: &str = "tests-api-key";
/// The operator's token.
pub const OPERATOR_TOKEN: &str = "tests-operator-token";
/// Short slots keep tests quick.
pub const SLOT_MS: u64 = 40;

/// Localnet, facilitator and the keys around them.
pub struct World {
    pub localnet: Localnet,
    pub rpc: RpcClient,
    pub facilitator: Option<Facilitator>,
    pub facilitator_key: Keypair,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// A payer with an escrow and an allowance for one provider.
pub struct Payer {
    pub keypair: Keypair,
    pub escrow: EscrowAccounts,
    pub allowance: Pubkey,
    pub generation: u64,
    /// The cumulative amount the payer has signed so far.
    pub signed: u64,
}

/// Terms of an allowance in tests.
#[derive(Clone, Copy)]
pub struct Terms {
    pub deposit: u64,
    pub cap: u64,
    pub period_secs: u32,
    pub period_limit: u64,
    pub expires_at: i64,
    /// `None`: the facilitator's key.
    pub delegate: Option<Pubkey>,
}

impl Default for Terms {
    fn default() -> Self {
        Self {
            deposit: 10 * USDC,
            cap: 5 * USDC,
            period_secs: 0,
            period_limit: 0,
            expires_at: 0,
            delegate: None,
        }
    }
}

impl World {
    /// A localnet and a facilitator without a background claimer.
    pub async fn start() -> Self {
        Self::start_with(|settings| settings.claimer = None).await
    }

    /// A localnet and a facilitator whose settings `adjust` changes.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let localnet = Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            slot_duration: Duration::from_millis(SLOT_MS),
            ..LocalnetConfig::default()
        })
        .await
        .unwrap();
        let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
        let dir = tempfile::tempdir().unwrap();
        let facilitator_key = Keypair::new();
        let mut world = Self {
            localnet,
            rpc,
            facilitator: None,
            facilitator_key,
            http: client_with_key(API_KEY),
            dir,
        };
        world.fund_sol(&world.facilitator_key.pubkey()).await;
        let mut settings = world.settings();
        adjust(&mut settings);
        world.facilitator = Some(Facilitator::start(settings).await.unwrap());
        world
    }

    /// Default settings against this world's chain and database, with the
    /// tests' client key and operator token.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::new(
            self.localnet.rpc_url(),
            self.database(),
            self.facilitator_key.insecure_clone(),
        )
        .with_client("tests", API_KEY);
        settings.access.operator_token = Some(OPERATOR_TOKEN.into());
        settings
    }

    /// The SQLite file.
    pub fn database(&self) -> String {
        self.dir.path().join("facilitator.db").display().to_string()
    }

    pub fn facilitator(&self) -> &Facilitator {
        self.facilitator.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.facilitator().url())
    }

    pub fn network(&self) -> String {
        self.localnet.info().network.clone()
    }

    pub fn mint(&self) -> Pubkey {
        self.localnet.info().usdc_mint
    }

    pub fn ata(&self, owner: &Pubkey) -> Pubkey {
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            owner,
            &self.mint(),
            &spl_token_interface::ID,
        )
    }

    /// Restarts the facilitator on the same database.
    pub async fn restart(&mut self, adjust: impl FnOnce(&mut Settings)) {
        if let Some(facilitator) = self.facilitator.take() {
            facilitator.shutdown().await;
        }
        let mut settings = self.settings();
        adjust(&mut settings);
        self.facilitator = Some(Facilitator::start(settings).await.unwrap());
    }

    /// A claimer like the facilitator's, run by hand, claiming any amount.
    pub fn claimer(&self) -> Claimer {
        self.claimer_with_minimum(0)
    }

    /// A claimer run by hand that sends only claims of at least `min_claim`.
    pub fn claimer_with_minimum(&self, min_claim: u64) -> Claimer {
        self.claimer_with(|config| config.min_claim = min_claim)
    }

    /// A claimer run by hand, claiming any amount, configured by `adjust`.
    pub fn claimer_with(&self, adjust: impl FnOnce(&mut ClaimerConfig)) -> Claimer {
        let rpc = Arc::new(RpcClient::new_with_commitment(
            self.localnet.rpc_url(),
            CommitmentConfig::confirmed(),
        ));
        let mut config = ClaimerConfig {
            confirm_timeout: Duration::from_secs(10),
            min_claim: 0,
            ..ClaimerConfig::default()
        };
        adjust(&mut config);
        Claimer::new(
            Arc::new(ChainReader::new(rpc, Duration::from_millis(0))),
            self.facilitator().store().clone(),
            Arc::new(self.facilitator_key.insecure_clone()),
            config,
        )
    }

    pub async fn fund_sol(&self, owner: &Pubkey) {
        let signature = self.localnet.chain.airdrop(owner, 10_000_000_000).unwrap();
        self.wait(&signature).await;
    }

    /// A wallet with SOL and `usdc` raw units of the test mint.
    pub async fn wallet(&self, usdc: u64) -> Keypair {
        let wallet = Keypair::new();
        self.fund_sol(&wallet.pubkey()).await;
        if usdc > 0 {
            let signature = self
                .localnet
                .chain
                .mint_usdc(&wallet.pubkey(), usdc)
                .unwrap();
            self.wait(&signature).await;
        }
        wallet
    }

    /// A provider: a wallet with SOL and an empty token account for the test mint.
    pub async fn provider(&self) -> Keypair {
        let wallet = self.wallet(0).await;
        let signature = self.localnet.chain.mint_usdc(&wallet.pubkey(), 0).unwrap();
        self.wait(&signature).await;
        wallet
    }

    pub async fn wait(&self, signature: &Signature) {
        for _ in 0..500 {
            if self.rpc.confirm_transaction(signature).await.unwrap() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(SLOT_MS)).await;
        }
        panic!("{signature} was not confirmed");
    }

    pub async fn send(
        &self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<Signature, solana_rpc_client_api::client_error::Error> {
        let blockhash = self.rpc.get_latest_blockhash().await.unwrap();
        let transaction = Transaction::new_signed_with_payer(
            instructions,
            Some(&signers[0].pubkey()),
            signers,
            blockhash,
        );
        self.rpc.send_and_confirm_transaction(&transaction).await
    }

    /// A payer with an escrow funded per `terms` and an allowance for `provider`.
    pub async fn payer(&self, provider: &Pubkey, terms: Terms) -> Payer {
        let keypair = self.wallet(terms.deposit).await;
        let escrow = EscrowAccounts::new(keypair.pubkey(), self.mint(), spl_token_interface::ID);
        let args = GrantAllowanceArgs {
            cap: terms.cap,
            period_secs: terms.period_secs,
            period_limit: terms.period_limit,
            expires_at: terms.expires_at,
            delegate: Some(terms.delegate.unwrap_or(self.facilitator_key.pubkey())),
        };
        self.send(
            &escrow.open_with_allowance(5, terms.deposit, provider, args),
            &[&keypair],
        )
        .await
        .unwrap();
        let allowance = escrow.allowance(provider);
        let generation = self.allowance_state(&allowance).await.generation;
        Payer {
            keypair,
            escrow,
            allowance,
            generation,
            signed: 0,
        }
    }

    pub async fn allowance_state(&self, allowance: &Pubkey) -> paytab::state::Allowance {
        let account = self.rpc.get_account(allowance).await.unwrap();
        paytab_client::accounts::allowance(&account.data).unwrap()
    }

    pub async fn token_balance(&self, owner: &Pubkey) -> u64 {
        match self.rpc.get_token_account_balance(&self.ata(owner)).await {
            Ok(balance) => balance.amount.parse().unwrap(),
            Err(_) => 0,
        }
    }

    /// The v2 requirement of an escrow payment of `amount` to `provider`.
    pub fn escrow_requirement(&self, provider: &Pubkey, amount: u64) -> Value {
        json!({
            "scheme": "paytab-escrow",
            "network": self.network(),
            "amount": amount.to_string(),
            "asset": self.mint().to_string(),
            "payTo": provider.to_string(),
            "maxTimeoutSeconds": 60,
            "extra": {"delegate": self.facilitator_key.pubkey().to_string(), "programId": paytab::ID.to_string()},
        })
    }

    /// A v2 facilitator request body.
    pub fn body(&self, requirement: &Value, payload: Value) -> Value {
        json!({
            "x402Version": 2,
            "paymentPayload": {
                "x402Version": 2,
                "resource": {"url": "https://api.example/v1/quote"},
                "accepted": requirement,
                "payload": payload,
            },
            "paymentRequirements": requirement,
        })
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// `method path` with the operator's token.
    pub fn as_operator(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(OPERATOR_TOKEN)
    }

    /// The facilitator fee payer's SOL, lamports.
    pub async fn fee_payer_lamports(&self) -> u64 {
        self.rpc
            .get_balance(&self.facilitator_key.pubkey())
            .await
            .unwrap()
    }

    pub async fn shutdown(mut self) {
        if let Some(facilitator) = self.facilitator.take() {
            facilitator.shutdown().await;
        }
        self.localnet.shutdown().await;
    }
}

impl Payer {
    /// The escrow owner's address.
    pub fn owner(&self) -> Pubkey {
        self.keypair.pubkey()
    }

    /// A receipt for `cumulative`, signed by `signer`.
    pub fn receipt_signed_by(&self, signer: &Keypair, cumulative: u64, expires_at: i64) -> Value {
        let receipt = Receipt {
            allowance: self.allowance,
            generation: self.generation,
            cumulative,
            expires_at,
        };
        SignedReceipt {
            receipt,
            signer: signer.pubkey(),
            signature: sign_receipt(signer, &receipt),
        }
        .to_payload()
    }

    /// A receipt for `cumulative`, signed by the owner.
    pub fn receipt(&self, cumulative: u64) -> Value {
        self.receipt_signed_by(&self.keypair, cumulative, 0)
    }

    /// The next receipt for a price of `amount`, counting it as signed.
    pub fn next_receipt(&mut self, amount: u64) -> Value {
        self.signed += amount;
        self.receipt(self.signed)
    }
}

/// An HTTP client presenting `key` as its bearer token.
pub fn client_with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Unix seconds now.
pub fn now() -> i64 {
    paytab_protocol::clock::unix_now()
}
