//! A world for gateway tests: the embedded localnet, a facilitator, a sample
//! upstream API that records every request it serves, a gateway in front of
//! it (used payments in a file of its own), and a payer with an allowance.

#![allow(dead_code)]

pub mod settle_cutter;
pub mod standard_facilitator;
#[path = "../../../../facilitator/tests/facilitator/support/tiny_disk.rs"]
pub mod tiny_disk;
mod upstream;

// The benchmark includes this module but sends no raw targets.
use upstream::sample_upstream;
#[allow(unused_imports)]
pub use upstream::{raw_get, Served};

use std::net::SocketAddr;
use std::time::Duration;

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
/// The API key the gateway presents to the facilitator.
pub const FACILITATOR_KEY: &str = "gateway-tests-api-key";
/// How long the upstream's slow route takes.
pub const SLOW: Duration = Duration::from_secs(1);

/// The routes of the tests' gateway (after the defaults in [`World::start`]).
pub const ROUTES: &str = r#"
[[routes]]
method = "GET"
path = "/v1/quotes/:symbol"
price = 10000
description = "A quote"

[[routes]]
method = "*"
path = "/v1/slow/:id"
price = 10000
description = "A slow answer with a side effect"

[[routes]]
method = "GET"
path = "/boom"
price = 10000

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
"#;

/// Where a gateway keeps used payments.
#[derive(Debug, Clone)]
pub enum Used {
    /// A file (the default store).
    File(std::path::PathBuf),
    /// Redis at this URL, behind this shared public URL.
    Redis(String),
}

pub struct World {
    pub localnet: Localnet,
    pub rpc: RpcClient,
    pub facilitator: Facilitator,
    pub facilitator_key: Keypair,
    pub upstream: SocketAddr,
    /// Every path and query the upstream was asked for, in order.
    pub served: Served,
    pub gateway: Gateway,
    pub provider: Pubkey,
    pub payer: Payer,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
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
            ..LocalnetConfig::default()
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
        )
        .with_client("gateway", FACILITATOR_KEY);
        settings.claimer = None;
        let facilitator = Facilitator::start(settings).await.unwrap();
        let served = Served::default();
        let upstream = sample_upstream(served.clone()).await;
        let provider = Keypair::new().pubkey();
        let used = match redis_url {
            Some(url) => Used::Redis(url.to_string()),
            None => Used::File(dir.path().join("gateway.state")),
        };
        let gateway = start_gateway(GatewaySetup {
            network: &localnet.info().network,
            asset: &localnet.info().usdc_mint,
            facilitator_url: &facilitator.url(),
            fee_payer: facilitator_key.pubkey(),
            upstream,
            provider,
            used,
            public_url: None,
            top: "",
            routes: ROUTES,
        })
        .await;
        let payer = payer(&localnet, &rpc, &facilitator_key, &provider).await;
        Self {
            localnet,
            rpc,
            facilitator,
            facilitator_key,
            upstream,
            served,
            gateway,
            provider,
            payer,
            http: reqwest::Client::new(),
            dir,
        }
    }

    /// Another gateway in front of the same upstream and terms, keeping used
    /// payments in `used`, asking the facilitator at `facilitator_url`
    /// (`None`: this world's), with `routes`.
    pub async fn another_gateway(
        &self,
        used: Used,
        facilitator_url: Option<&str>,
        routes: &str,
    ) -> Gateway {
        let ours = self.facilitator.url();
        start_gateway(GatewaySetup {
            used,
            facilitator_url: facilitator_url.unwrap_or(&ours),
            ..self.setup(&ours, routes)
        })
        .await
    }

    /// Another gateway with `top` (top-level settings) and `routes`.
    pub async fn another_gateway_with(&self, top: &str, routes: &str) -> Gateway {
        let ours = self.facilitator.url();
        start_gateway(GatewaySetup {
            top,
            ..self.setup(&ours, routes)
        })
        .await
    }

    /// Another gateway with the default routes behind `public_url`.
    pub async fn another_gateway_at(&self, used: Used, public_url: &str) -> Gateway {
        let ours = self.facilitator.url();
        start_gateway(GatewaySetup {
            used,
            public_url: Some(public_url),
            ..self.setup(&ours, ROUTES)
        })
        .await
    }

    /// This world's gateway setup with `routes`, asking the facilitator at `facilitator_url`.
    fn setup<'a>(&'a self, facilitator_url: &'a str, routes: &'a str) -> GatewaySetup<'a> {
        GatewaySetup {
            network: &self.localnet.info().network,
            asset: &self.localnet.info().usdc_mint,
            facilitator_url,
            fee_payer: self.facilitator_key.pubkey(),
            upstream: self.upstream,
            provider: self.provider,
            used: self.fresh_state_file(),
            public_url: None,
            top: "",
            routes,
        }
    }

    /// A state file of its own for another gateway (one gateway per file).
    pub fn fresh_state_file(&self) -> Used {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Used::File(self.dir.path().join(format!("gateway-{number}.state")))
    }

    /// How many requests the upstream served for `path` (and query).
    pub fn served(&self, path: &str) -> usize {
        self.served
            .lock()
            .unwrap()
            .iter()
            .filter(|served| *served == path)
            .count()
    }

    /// Every path (and query) the upstream served.
    pub fn served_paths(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    /// The v2 escrow requirement the gateway offers for a route of `PRICE`.
    pub fn escrow_requirement(&self) -> Value {
        json!({
            "scheme": "paytab-escrow",
            "network": self.localnet.info().network,
            "amount": PRICE.to_string(),
            "asset": self.localnet.info().usdc_mint.to_string(),
            "payTo": self.provider.to_string(),
            "maxTimeoutSeconds": 60,
            "extra": {"delegate": self.facilitator_key.pubkey().to_string(), "programId": paytab::ID.to_string()},
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
            .bearer_auth(FACILITATOR_KEY)
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

pub async fn wait(rpc: &RpcClient, signature: &solana_signature::Signature) {
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

/// What a gateway of the tests is made of.
pub struct GatewaySetup<'a> {
    pub network: &'a str,
    pub asset: &'a Pubkey,
    pub facilitator_url: &'a str,
    pub fee_payer: Pubkey,
    pub upstream: SocketAddr,
    pub provider: Pubkey,
    pub used: Used,
    /// The URL clients use, if not the listening address.
    pub public_url: Option<&'a str>,
    /// More top-level settings, one per line.
    pub top: &'a str,
    pub routes: &'a str,
}

pub async fn start_gateway(setup: GatewaySetup<'_>) -> Gateway {
    // Gateways sharing Redis stand behind one public URL.
    let mut used = match &setup.used {
        Used::Redis(url) => {
            format!("redis_url = \"{url}\"\npublic_url = \"{SHARED_PUBLIC_URL}\"\n")
        }
        Used::File(path) => format!("state_file = \"{}\"\n", path.display()),
    };
    if let Some(public_url) = setup.public_url {
        used.push_str(&format!("public_url = \"{public_url}\"\n"));
    }
    used.push_str(setup.top);
    used.push('\n');
    let text = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
{used}
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
api_key_env = "FACILITATOR_KEY"
{routes}"#,
        upstream = setup.upstream,
        network = setup.network,
        asset = setup.asset,
        provider = setup.provider,
        facilitator = setup.facilitator_url,
        fee_payer = setup.fee_payer,
        routes = setup.routes,
    );
    let file: FileConfig = toml::from_str(&text).unwrap();
    let config = GatewayConfig::check(file, |name| match name {
        "UPSTREAM_KEY" => Some(UPSTREAM_KEY.to_string()),
        "FACILITATOR_KEY" => Some(FACILITATOR_KEY.to_string()),
        _ => None,
    })
    .unwrap();
    Gateway::start(config, Some(SECRET.to_vec())).await.unwrap()
}
