//! A world for gateway tests: the embedded localnet, a facilitator, a sample
//! upstream API, a gateway in front of it, and a payer with an allowance.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use paytab_client::receipts::sign_receipt;
use paytab_client::EscrowAccounts;
use paytab_facilitator::escrow::payload::SignedReceipt;
use paytab_facilitator::{Facilitator, Settings};
use paytab_gateway::config::{FileConfig, GatewayConfig};
use paytab_gateway::server::Gateway;
use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::Transaction;

/// Price of a quote, raw units.
pub const PRICE: u64 = 10_000;
/// The upstream credential the gateway injects.
pub const UPSTREAM_KEY: &str = "upstream-s3cret";
/// The public URL of gateways that share a Redis replay cache.
pub const SHARED_PUBLIC_URL: &str = "https://api.example.test";
/// The MPP challenge secret.
pub const SECRET: &[u8] = b"a test secret of at least 32 bytes!!";

pub struct World {
    pub localnet: Localnet,
    pub rpc: RpcClient,
    pub facilitator: Facilitator,
    pub facilitator_key: Keypair,
    pub upstream: SocketAddr,
    pub gateway: Gateway,
    pub provider: Pubkey,
    pub payer: Payer,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub struct Payer {
    pub keypair: Keypair,
    pub allowance: Pubkey,
    pub generation: u64,
    pub signed: u64,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with_redis(None).await
    }

    pub async fn start_with_redis(redis_url: Option<&str>) -> Self {
        let localnet = Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            slot_duration: Duration::from_millis(40),
        })
        .await
        .unwrap();
        let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
        let dir = tempfile::tempdir().unwrap();
        let facilitator_key = Keypair::new();
        let funded = localnet
            .chain
            .airdrop(&facilitator_key.pubkey(), 10_000_000_000)
            .unwrap();
        wait(&rpc, &funded).await;
        let mut settings = Settings::new(
            localnet.rpc_url(),
            dir.path().join("facilitator.db").display().to_string(),
            facilitator_key.insecure_clone(),
        );
        settings.claimer = None;
        let facilitator = Facilitator::start(settings).await.unwrap();
        let upstream = sample_upstream().await;
        let provider = Keypair::new().pubkey();
        let gateway = start_gateway(
            &localnet,
            &facilitator,
            &facilitator_key,
            upstream,
            provider,
            redis_url,
        )
        .await;
        let payer = payer(&localnet, &rpc, &facilitator_key, &provider).await;
        Self {
            localnet,
            rpc,
            facilitator,
            facilitator_key,
            upstream,
            gateway,
            provider,
            payer,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A second gateway in front of the same upstream, facilitator and terms.
    pub async fn another_gateway(&self, redis_url: Option<&str>) -> Gateway {
        start_gateway(
            &self.localnet,
            &self.facilitator,
            &self.facilitator_key,
            self.upstream,
            self.provider,
            redis_url,
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    /// The v2 escrow requirement the gateway offers for a quote.
    pub fn escrow_requirement(&self) -> Value {
        json!({
            "scheme": "escrow",
            "network": self.localnet.info().network,
            "amount": PRICE.to_string(),
            "asset": self.localnet.info().usdc_mint.to_string(),
            "payTo": self.provider.to_string(),
            "maxTimeoutSeconds": 60,
            "extra": {"delegate": self.facilitator_key.pubkey().to_string()},
        })
    }

    /// The payer's next receipt for one quote, as an escrow payload.
    pub fn next_receipt(&mut self) -> Value {
        self.payer.signed += PRICE;
        let receipt = Receipt {
            allowance: self.payer.allowance,
            generation: self.payer.generation,
            cumulative: self.payer.signed,
            expires_at: 0,
        };
        SignedReceipt {
            receipt,
            signer: self.payer.keypair.pubkey(),
            signature: sign_receipt(&self.payer.keypair, &receipt),
        }
        .to_payload()
    }

    /// A `PAYMENT-SIGNATURE` header value paying one quote with the next receipt.
    pub fn payment_signature(&mut self) -> String {
        let requirement = self.escrow_requirement();
        let payload = json!({
            "x402Version": 2,
            "accepted": requirement,
            "payload": self.next_receipt(),
        });
        STANDARD.encode(payload.to_string())
    }

    /// A proof for `method url`, settled directly with the facilitator.
    pub async fn proof_for(&mut self, method: &str, url: &str) -> String {
        let requirement = self.escrow_requirement();
        let body = json!({
            "x402Version": 2,
            "paymentPayload": {"x402Version": 2, "accepted": requirement, "payload": self.next_receipt()},
            "paymentRequirements": requirement,
            "paytab": {"method": method, "url": url},
        });
        let answer: Value = self
            .http
            .post(format!("{}/settle", self.facilitator.url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["success"], true, "{answer}");
        answer["extensions"]["paytab"]["proof"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Mints `amount` of test USDC to `owner`'s associated token account
    /// (creating it) and waits for it.
    pub async fn mint_usdc(&self, owner: &Pubkey, amount: u64) {
        let minted = self.localnet.chain.mint_usdc(owner, amount).unwrap();
        wait(&self.rpc, &minted).await;
    }

    /// Raw units of test USDC in `owner`'s associated token account (0 if none).
    pub async fn usdc_balance(&self, owner: &Pubkey) -> u64 {
        let account = spl_associated_token_account_interface::address::get_associated_token_address(
            owner,
            &self.localnet.info().usdc_mint,
        );
        self.rpc
            .get_token_account_balance(&account)
            .await
            .map_or(0, |balance| balance.amount.parse().unwrap())
    }

    /// The facilitator's accepted watermark for the payer.
    pub async fn accepted(&self) -> u64 {
        self.facilitator
            .store()
            .watermark(&self.payer.allowance)
            .await
            .unwrap()
            .map_or(0, |watermark| watermark.accepted)
    }
}

async fn wait(rpc: &RpcClient, signature: &solana_signature::Signature) {
    for _ in 0..500 {
        if rpc.confirm_transaction(signature).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("{signature} was not confirmed");
}

/// A funded payer whose escrow grants `provider` an allowance delegated to
/// `facilitator_key`.
pub async fn payer(
    localnet: &Localnet,
    rpc: &RpcClient,
    facilitator_key: &Keypair,
    provider: &Pubkey,
) -> Payer {
    let keypair = Keypair::new();
    let mint = localnet.info().usdc_mint;
    wait(
        rpc,
        &localnet
            .chain
            .airdrop(&keypair.pubkey(), 1_000_000_000)
            .unwrap(),
    )
    .await;
    wait(
        rpc,
        &localnet
            .chain
            .mint_usdc(&keypair.pubkey(), 10_000_000)
            .unwrap(),
    )
    .await;
    let escrow = EscrowAccounts::new(keypair.pubkey(), mint, spl_token_interface::ID);
    let instructions = escrow.open_with_allowance(
        5,
        10_000_000,
        provider,
        GrantAllowanceArgs {
            cap: 5_000_000,
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
    rpc.send_and_confirm_transaction(&transaction)
        .await
        .unwrap();
    let allowance = escrow.allowance(provider);
    let account = rpc.get_account(&allowance).await.unwrap();
    Payer {
        keypair,
        allowance,
        generation: paytab_client::accounts::allowance(&account.data)
            .unwrap()
            .generation,
        signed: 0,
    }
}

async fn start_gateway(
    localnet: &Localnet,
    facilitator: &Facilitator,
    facilitator_key: &Keypair,
    upstream: SocketAddr,
    provider: Pubkey,
    redis_url: Option<&str>,
) -> Gateway {
    // Gateways sharing a replay cache stand behind one public URL.
    let redis = redis_url.map_or(String::new(), |url| {
        format!("redis_url = \"{url}\"\npublic_url = \"{SHARED_PUBLIC_URL}\"\n")
    });
    let text = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
{redis}
[upstream_auth]
header = "x-api-key"
env = "UPSTREAM_KEY"

[payment]
network = "{network}"
asset = "{asset}"
pay_to = "{provider}"
schemes = ["escrow", "exact", "mpp"]

[facilitator]
url = "{facilitator}"
fee_payer = "{fee_payer}"

[[routes]]
method = "GET"
path = "/v1/quotes/:symbol"
price = {PRICE}
description = "A quote"

[[routes]]
method = "GET"
path = "/boom"
price = {PRICE}

[[routes]]
method = "POST"
path = "/echo"
free = true

[[routes]]
method = "GET"
path = "/v1/account"
sign_in = true

[[routes]]
path = "/health"
free = true
"#,
        network = localnet.info().network,
        asset = localnet.info().usdc_mint,
        facilitator = facilitator.url(),
        fee_payer = facilitator_key.pubkey(),
    );
    let file: FileConfig = toml::from_str(&text).unwrap();
    let config = GatewayConfig::check(file, |name| {
        (name == "UPSTREAM_KEY").then(|| UPSTREAM_KEY.to_string())
    })
    .unwrap();
    Gateway::start(config, Some(SECRET.to_vec())).await.unwrap()
}

/// The sample API: quotes, a failing route, an echo, a health check.
async fn sample_upstream() -> SocketAddr {
    async fn quote(Path(symbol): Path<String>, headers: HeaderMap) -> impl IntoResponse {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        (
            [("x-upstream", "quotes")],
            Json(json!({
                "symbol": symbol,
                "price": 42,
                "apiKey": header("x-api-key"),
                "sawPayment": header("payment-signature").is_some() || header("paytab-proof").is_some(),
            })),
        )
    }
    async fn account(headers: HeaderMap) -> impl IntoResponse {
        let signed_in = headers
            .get("paytab-signed-in")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        Json(json!({"signedIn": signed_in}))
    }
    let app = Router::new()
        .route("/v1/quotes/{symbol}", get(quote))
        .route("/v1/account", get(account))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke") }),
        )
        .route("/echo", post(|body: Body| async move { body }))
        .route("/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    address
}
