//! Where the CLI finds things: the RPC URL, the wallet, and paytab's own
//! directory (ledger, policy, session keys), from flags, the environment and
//! the Solana CLI's config, in that order.

use std::path::PathBuf;
use std::sync::Arc;

use paytab_client::ledger::Ledger;
use paytab_client::pay::{Confirm, Payer};
use paytab_client::policy::SpendingPolicy;
use paytab_client::wallet::{
    default_cli_config_path, default_keypair_path, read_cli_config, read_keypair,
};
use paytab_protocol::networks::{
    caip2_network, parse_network_label, SOLANA_DEVNET, SOLANA_MAINNET,
};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

use crate::error::CliError;

/// The RPC URL used when nothing else names one: a local validator or `paytab localnet`.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8899";

/// USDC on mainnet.
const MAINNET_USDC: Pubkey = Pubkey::from_str_const("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
/// USDC on devnet.
const DEVNET_USDC: Pubkey = Pubkey::from_str_const("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU");

/// Flags every command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Solana JSON-RPC URL [default: the Solana CLI config's json_rpc_url, else http://127.0.0.1:8899]
    #[arg(long, short = 'u', global = true, env = "PAYTAB_RPC_URL")]
    pub url: Option<String>,
    /// Wallet keypair file [default: the Solana CLI config's keypair_path, else ~/.config/solana/id.json]
    #[arg(long, short = 'k', global = true, env = "PAYTAB_KEYPAIR")]
    pub keypair: Option<PathBuf>,
    /// paytab's directory: ledger, policy, session keys [default: ~/.paytab]
    #[arg(long, global = true, env = "PAYTAB_HOME")]
    pub home: Option<PathBuf>,
    /// The CAIP-2 id payment offers name this RPC's chain by [default: its own, from the genesis hash], e.g. solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1 for a localnet served as devnet
    #[arg(long, global = true, env = "PAYTAB_NETWORK")]
    pub network: Option<String>,
    /// The service catalog to search and publish to (a facilitator's URL)
    #[arg(long, global = true, env = "PAYTAB_CATALOG", default_value = paytab_client::catalog::DEFAULT_CATALOG_URL)]
    pub catalog: String,
    /// Print JSON for programs instead of text for people
    #[arg(long, global = true)]
    pub json: bool,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Context {
    /// The RPC URL.
    pub rpc_url: String,
    /// The wallet file.
    pub keypair_path: PathBuf,
    /// paytab's directory.
    pub home: PathBuf,
    /// The CAIP-2 id offers name the RPC's chain by, if not its own.
    pub network_label: Option<String>,
    /// The service catalog's URL.
    pub catalog_url: String,
    /// JSON output.
    pub json: bool,
}

impl Context {
    /// Resolves flags, environment and the Solana CLI config.
    pub fn resolve(args: &GlobalArgs) -> Result<Self, CliError> {
        let user_home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let cli = read_cli_config(&default_cli_config_path(&user_home))?;
        Ok(Self {
            rpc_url: args
                .url
                .clone()
                .or(cli.json_rpc_url)
                .unwrap_or_else(|| DEFAULT_RPC_URL.to_string()),
            keypair_path: args
                .keypair
                .clone()
                .or(cli.keypair_path)
                .unwrap_or_else(|| default_keypair_path(&user_home)),
            home: args
                .home
                .clone()
                .unwrap_or_else(|| user_home.join(".paytab")),
            network_label: args
                .network
                .as_deref()
                .map(parse_network_label)
                .transpose()
                .map_err(|error| CliError::new(format!("--network: {error}")))?,
            catalog_url: args.catalog.clone(),
            json: args.json,
        })
    }

    /// The wallet.
    pub fn wallet(&self) -> Result<Keypair, CliError> {
        if !self.keypair_path.exists() {
            return Err(CliError::new(format!("no wallet at {}", self.keypair_path.display()))
                .hint("create one with `paytab wallet create` (or `solana-keygen new`), or pass --keypair FILE"));
        }
        Ok(read_keypair(&self.keypair_path)?)
    }

    /// An RPC client at `confirmed`.
    pub fn rpc(&self) -> RpcClient {
        RpcClient::new_with_commitment(self.rpc_url.clone(), CommitmentConfig::confirmed())
    }

    /// The policy file.
    pub fn policy_path(&self) -> PathBuf {
        self.home.join("policy.toml")
    }

    /// The ledger database.
    pub fn ledger_path(&self) -> PathBuf {
        self.home.join("ledger.db")
    }

    /// Where session keys are kept.
    pub fn session_key_path(&self, owner: &Pubkey) -> PathBuf {
        self.home.join("session-keys").join(format!("{owner}.json"))
    }

    /// A payer for this wallet, ledger and policy.
    pub async fn payer(&self, confirm: Confirm) -> Result<Payer, CliError> {
        let wallet = Arc::new(self.wallet()?);
        let ledger = Ledger::open(&self.ledger_path()).await?;
        let policy = SpendingPolicy::load(&self.policy_path())?;
        let rpc = Arc::new(self.rpc());
        Payer::new(rpc, wallet, ledger, policy, confirm)
            .await
            .map_err(|error| unreachable_rpc(&self.rpc_url, error))?
            .labelled(self.network_label.clone())
            .map_err(|error| CliError::new(format!("--network: {error}")))
    }

    /// The CAIP-2 network behind the RPC URL.
    pub async fn network(&self, rpc: &RpcClient) -> Result<String, CliError> {
        let genesis = rpc
            .get_genesis_hash()
            .await
            .map_err(|error| unreachable_rpc(&self.rpc_url, error))?;
        Ok(caip2_network(&genesis.to_string()))
    }

    /// The default stablecoin of `network`: USDC, or the localnet's test USDC.
    pub fn default_mint(network: &str) -> Pubkey {
        match network {
            SOLANA_MAINNET => MAINNET_USDC,
            SOLANA_DEVNET => DEVNET_USDC,
            _ => paytab_localnet::usdc_mint_address(),
        }
    }
}

/// An RPC that cannot be reached, with what to do about it.
pub fn unreachable_rpc(url: &str, error: impl std::fmt::Display) -> CliError {
    CliError::new(format!("cannot reach the Solana RPC at {url}: {error}"))
        .hint("start a chain with `paytab localnet`, or pass --url")
}
