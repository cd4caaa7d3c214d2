//! Everything paytab needs, in one process: the embedded localnet, a
//! facilitator, the sample API and a gateway in front of it. `paytab demo`
//! walks a payer through it; the end-to-end tests run the `paytab` binary
//! against it.

use std::net::SocketAddr;
use std::time::Duration;

use paytab_client::catalog::{manifest_from_gateway, CatalogClient, CatalogError};
use paytab_facilitator::catalog::config::CatalogSettings;
use paytab_facilitator::{Facilitator, Settings};
use paytab_gateway::config::{FileConfig, GatewayConfig};
use paytab_gateway::server::Gateway;
use paytab_localnet::{Localnet, LocalnetConfig};
use paytab_protocol::clock::unix_now;
use paytab_protocol::manifest::{Manifest, Publication};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signature::Signature;
use solana_signer::Signer;

/// Price of a quote: 0.01 USDC.
pub const QUOTE_PRICE: u64 = 10_000;
/// Price of the report: 2 USDC.
pub const REPORT_PRICE: u64 = 2_000_000;
/// The sample API's name in the catalog.
pub const SAMPLE_SERVICE: &str = "quotes";

/// Why the world did not start.
#[derive(Debug, thiserror::Error)]
#[error("{part}: {message}")]
pub struct WorldError {
    /// Which part.
    pub part: &'static str,
    /// Why.
    pub message: String,
}

fn failed(part: &'static str) -> impl Fn(String) -> WorldError {
    move |message| WorldError { part, message }
}

/// The running parts.
pub struct World {
    /// The chain.
    pub localnet: Localnet,
    /// RPC to it.
    pub rpc: RpcClient,
    /// The facilitator.
    pub facilitator: Facilitator,
    /// Its key: fee payer, allowance delegate.
    pub facilitator_key: Keypair,
    /// The gateway.
    pub gateway: Gateway,
    /// The provider paid (the API's owner).
    pub provider: Keypair,
    /// The sample API behind the gateway.
    pub upstream: SocketAddr,
    /// The facilitator operator's token (claims, metrics).
    pub operator_token: String,
    /// The API key the facilitator knows the gateway by (other resource servers may use it).
    pub facilitator_api_key: String,
    _dir: tempfile::TempDir,
}

/// A random secret of 32 bytes, as hex.
fn random_secret() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

impl World {
    /// Starts the localnet, the facilitator (SQLite in a temporary
    /// directory, no background claimer), the sample API and the gateway.
    pub async fn start() -> Result<Self, WorldError> {
        let localnet = Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0"
                .parse()
                .map_err(|_| failed("localnet")("bad address".into()))?,
            slot_duration: Duration::from_millis(50),
            ..LocalnetConfig::default()
        })
        .await
        .map_err(|error| failed("localnet")(error.to_string()))?;
        let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
        let dir = tempfile::tempdir()
            .map_err(|error| failed("temporary directory")(error.to_string()))?;
        let facilitator_key = Keypair::new();
        let provider = Keypair::new();
        let chain = &localnet.chain;
        let funded = chain
            .airdrop(&facilitator_key.pubkey(), 10_000_000_000)
            .map_err(|error| failed("faucet")(format!("{error:?}")))?;
        // The provider's token account exists before anyone pays it.
        let account = chain
            .mint_usdc(&provider.pubkey(), 1)
            .map_err(|error| failed("faucet")(format!("{error:?}")))?;
        confirm(&rpc, &funded).await?;
        confirm(&rpc, &account).await?;

        // The gateway presents its own key to the facilitator; the operator has another.
        let api_key = random_secret();
        let operator_token = random_secret();
        let mut settings = Settings::new(
            localnet.rpc_url(),
            dir.path().join("facilitator.db").display().to_string(),
            facilitator_key.insecure_clone(),
        )
        .with_client("gateway", &api_key);
        settings.access.operator_token = Some(operator_token.clone());
        settings.claimer = None;
        // The catalog probes the sample API on this machine; rounds run on request.
        settings.catalog = Some(CatalogSettings {
            allow_private_probes: true,
            probe_interval: None,
            publishes_per_minute: 600,
            ..CatalogSettings::default()
        });
        let facilitator = Facilitator::start(settings)
            .await
            .map_err(|error| failed("facilitator")(error.to_string()))?;
        let upstream = crate::sample_api::serve()
            .await
            .map_err(|error| failed("sample API")(error.to_string()))?;
        let config = gateway_config(GatewayParts {
            localnet: &localnet,
            facilitator: &facilitator,
            facilitator_key: &facilitator_key,
            api_key: &api_key,
            state_file: &dir.path().join("gateway.state"),
            upstream,
            provider: &provider.pubkey(),
        })?;
        let secret: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let gateway = Gateway::start(config, Some(secret))
            .await
            .map_err(|error| failed("gateway")(error.to_string()))?;
        Ok(Self {
            localnet,
            rpc,
            facilitator,
            facilitator_key,
            gateway,
            provider,
            upstream,
            operator_token,
            facilitator_api_key: api_key,
            _dir: dir,
        })
    }

    /// `gateway URL + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.url())
    }

    /// Lists the sample API in the facilitator's catalog: the manifest its
    /// gateway describes, signed by the provider (probed before listing).
    pub async fn publish_sample_api(&self) -> Result<Manifest, CatalogError> {
        let manifest = manifest_from_gateway(&self.gateway.url()).await?;
        let provider = &self.provider;
        let publication = Publication::sign(&manifest, unix_now(), |message| {
            (provider.pubkey(), provider.sign_message(message).into())
        });
        CatalogClient::new(&self.facilitator.url())
            .publish(&publication)
            .await?;
        Ok(manifest)
    }

    /// Stops the gateway, the facilitator and the localnet.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.facilitator.shutdown().await;
        self.localnet.shutdown().await;
    }
}

/// Waits until `signature` is confirmed.
pub async fn confirm(rpc: &RpcClient, signature: &Signature) -> Result<(), WorldError> {
    for _ in 0..400 {
        if rpc.confirm_transaction(signature).await.unwrap_or(false) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(failed("localnet")(format!("{signature} was not confirmed")))
}

/// What the world's gateway is configured from.
struct GatewayParts<'a> {
    localnet: &'a Localnet,
    facilitator: &'a Facilitator,
    facilitator_key: &'a Keypair,
    api_key: &'a str,
    state_file: &'a std::path::Path,
    upstream: SocketAddr,
    provider: &'a Pubkey,
}

fn gateway_config(parts: GatewayParts<'_>) -> Result<GatewayConfig, WorldError> {
    let GatewayParts {
        localnet,
        facilitator,
        facilitator_key,
        api_key,
        state_file,
        upstream,
        provider,
    } = parts;
    let text = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
state_file = "{state_file}"

[payment]
network = "{network}"
asset = "{asset}"
pay_to = "{provider}"
schemes = ["escrow", "exact", "mpp"]

[facilitator]
url = "{facilitator}"
fee_payer = "{fee_payer}"
api_key_env = "PAYTAB_FACILITATOR_API_KEY"

[service]
name = "{SAMPLE_SERVICE}"
title = "Sample crypto quotes"
description = "Price quotes for crypto assets by symbol, and a quarterly market report, paid per call in test USDC on the paytab localnet."
use_case = "Use to price a token before trading, or to read the quarterly report."
category = "finance"
usage = "Symbols are upper case, e.g. SOL, BTC, ETH. The report is large and priced accordingly."

[[routes]]
method = "GET"
path = "/v1/quotes/:symbol"
price = {QUOTE_PRICE}
description = "A price quote"
example_path = "/v1/quotes/SOL"

[[routes]]
method = "GET"
path = "/v1/report"
price = {REPORT_PRICE}
description = "The quarterly report"

[[routes]]
method = "GET"
path = "/v1/account"
sign_in = true

[[routes]]
method = "GET"
path = "/health"
free = true
"#,
        network = localnet.info().network,
        asset = localnet.info().usdc_mint,
        facilitator = facilitator.url(),
        fee_payer = facilitator_key.pubkey(),
        state_file = state_file.display(),
    );
    let file: FileConfig =
        toml::from_str(&text).map_err(|error| failed("gateway config")(error.to_string()))?;
    GatewayConfig::check(file, |name| {
        (name == "PAYTAB_FACILITATOR_API_KEY").then(|| api_key.to_string())
    })
    .map_err(|error| failed("gateway config")(error.to_string()))
}
