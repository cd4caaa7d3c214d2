//! Configuration: a TOML file, then `PAYTAB_FACILITATOR_*` environment
//! overrides, resolved into [`Settings`] (keys loaded, defaults filled in).
//!
//! ```toml
//! bind = "127.0.0.1:4020"
//! rpc_url = "http://127.0.0.1:8899"
//! # network = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"  # serve the chain as devnet
//! database = "paytab-facilitator.db"        # or postgres://user@host/db
//! keypair = "~/.config/solana/id.json"      # fee payer and claim delegate
//! proof_ttl_secs = 300
//!
//! [[proof_keys]]                            # newest valid key signs; all are published
//! path = "proof-key.json"
//! not_before = 0
//!
//! [access]                                  # who may verify and settle
//! clients = [{ name = "gateway", key_env = "PAYTAB_GATEWAY_API_KEY" }]
//! operator_token_env = "PAYTAB_OPERATOR_TOKEN"
//!
//! [fees]                                    # what one settlement may cost
//! max_compute_unit_limit = 200000
//! max_compute_unit_price_micro_lamports = 50000
//! min_amount = 1000
//!
//! [claims]
//! interval_secs = 30
//! max_batch = 27
//! min_claim = 10000
//! lookup_tables = true
//! table_idle_secs = 3600
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde::Deserialize;
use solana_keypair::Keypair;

use crate::access::{AccessFile, AccessSettings, AnonymousSettings};
use crate::catalog::config::{CatalogFile, CatalogSettings};
use crate::claimer::ClaimerConfig;
use crate::exact::rules::{
    ExactLimits, DEFAULT_MAX_COMPUTE_UNIT_LIMIT, DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
    X402_MAX_COMPUTE_UNIT_LIMIT, X402_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
};
use crate::proofs::ProofKey;
use paytab_protocol::networks::parse_network_label;

/// The configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// Solana JSON-RPC URL.
    #[serde(default = "default_rpc_url")]
    pub rpc_url: String,
    /// The CAIP-2 id its chain is served under (default: from the genesis hash).
    #[serde(default)]
    pub network: Option<String>,
    /// SQLite file path (or `sqlite://path`), or a `postgres://` URL.
    #[serde(default = "default_database")]
    pub database: String,
    /// Solana keypair file of the fee payer and claim delegate.
    #[serde(default = "default_keypair")]
    pub keypair: PathBuf,
    /// Proof signing keys (Solana keypair files).
    #[serde(default)]
    pub proof_keys: Vec<ProofKeyFile>,
    /// Lifetime of a proof, seconds.
    #[serde(default = "default_proof_ttl")]
    pub proof_ttl_secs: i64,
    /// Lifetime of a cached allowance, milliseconds.
    #[serde(default = "default_cache_ttl_ms")]
    pub chain_cache_ttl_ms: u64,
    /// Allowances expiring sooner than this are refused, seconds.
    #[serde(default = "default_expiry_margin")]
    pub expiry_margin_secs: i64,
    /// Largest request body, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest a request may take, seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Longest a client may take to send its request headers, seconds.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: u64,
    /// Most client connections served at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Bearer token gateways present to register resources; registration is off without one.
    #[serde(default)]
    pub registration_token: Option<String>,
    /// Who may call what.
    #[serde(default)]
    pub access: AccessFile,
    /// What one settlement may cost the facilitator.
    #[serde(default)]
    pub fees: FeesFile,
    /// The background claimer.
    #[serde(default)]
    pub claims: ClaimsFile,
    /// The service catalog.
    #[serde(default)]
    pub catalog: CatalogFile,
}

/// The `[fees]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeesFile {
    /// Highest compute unit limit of an `exact` payment the facilitator pays for.
    #[serde(default = "default_max_cu_limit")]
    pub max_compute_unit_limit: u32,
    /// Highest compute unit price, micro-lamports per unit.
    #[serde(default = "default_max_cu_price")]
    pub max_compute_unit_price_micro_lamports: u64,
    /// Smallest payment verified or settled, raw units of the asset.
    #[serde(default = "default_min_amount")]
    pub min_amount: u64,
}

impl Default for FeesFile {
    fn default() -> Self {
        Self {
            max_compute_unit_limit: default_max_cu_limit(),
            max_compute_unit_price_micro_lamports: default_max_cu_price(),
            min_amount: default_min_amount(),
        }
    }
}

/// One proof key in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofKeyFile {
    /// Solana keypair file (64-byte JSON array) whose secret signs proofs.
    pub path: PathBuf,
    /// Unix time signing with it starts.
    #[serde(default)]
    pub not_before: i64,
    /// Unix time it is retired.
    #[serde(default)]
    pub not_after: Option<i64>,
}

/// The `[claims]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    /// Whether the claimer runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seconds between rounds.
    #[serde(default = "default_claim_interval")]
    pub interval_secs: u64,
    /// Allowances per transaction.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Smallest total a claim transaction pays, raw units: smaller amounts
    /// wait until more is owed (each transaction costs the facilitator fees).
    #[serde(default = "default_min_claim")]
    pub min_claim: u64,
    /// Claims use address lookup tables (up to 27 allowances per transaction
    /// instead of 8); the tables' rent is a deposit closing them returns.
    #[serde(default = "default_true")]
    pub lookup_tables: bool,
    /// Seconds a table may go unused before it is deactivated and closed.
    #[serde(default = "default_table_idle")]
    pub table_idle_secs: u64,
}

impl Default for ClaimsFile {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: default_claim_interval(),
            max_batch: default_max_batch(),
            min_claim: default_min_claim(),
            lookup_tables: true,
            table_idle_secs: default_table_idle(),
        }
    }
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4020))
}
fn default_rpc_url() -> String {
    "http://127.0.0.1:8899".into()
}
fn default_database() -> String {
    "paytab-facilitator.db".into()
}
fn default_keypair() -> PathBuf {
    home().join(".config/solana/id.json")
}
fn default_proof_ttl() -> i64 {
    300
}
fn default_cache_ttl_ms() -> u64 {
    2_000
}
fn default_expiry_margin() -> i64 {
    120
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_request_timeout() -> u64 {
    60
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_max_connections() -> usize {
    4096
}
fn default_max_cu_limit() -> u32 {
    DEFAULT_MAX_COMPUTE_UNIT_LIMIT
}
fn default_max_cu_price() -> u64 {
    DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS
}
fn default_min_amount() -> u64 {
    1_000
}
fn default_min_claim() -> u64 {
    crate::claimer::DEFAULT_MIN_CLAIM
}
fn default_true() -> bool {
    true
}
fn default_claim_interval() -> u64 {
    30
}
fn default_max_batch() -> usize {
    crate::claimer::MAX_LOOKUP_BATCH
}
fn default_table_idle() -> u64 {
    3_600
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid configuration {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A key file is not a Solana keypair.
    #[error("{path} is not a Solana keypair file (a JSON array of 64 bytes): {message}")]
    Keypair {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A field has a bad value.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An environment override has a bad value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl FileConfig {
    /// Reads `path`, or the defaults when `path` is `None`; then applies the
    /// environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        let mut config: Self = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            message: error.to_string(),
        })?;
        config.apply_env()?;
        Ok(config)
    }

    fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Some(bind) = env("PAYTAB_FACILITATOR_BIND") {
            self.bind = bind.parse().map_err(|_| ConfigError::Env {
                name: "PAYTAB_FACILITATOR_BIND",
                message: format!("{bind:?} is not host:port"),
            })?;
        }
        if let Some(url) = env("PAYTAB_FACILITATOR_RPC_URL") {
            self.rpc_url = url;
        }
        if let Some(network) = env("PAYTAB_FACILITATOR_NETWORK") {
            self.network = Some(network);
        }
        if let Some(database) = env("PAYTAB_FACILITATOR_DATABASE") {
            self.database = database;
        }
        if let Some(keypair) = env("PAYTAB_FACILITATOR_KEYPAIR") {
            self.keypair = PathBuf::from(keypair);
        }
        Ok(())
    }

    /// Loads the keys and fills in what the file leaves out. Without proof
    /// keys, the fee payer's key signs proofs too.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let keypair = Arc::new(read_keypair(&self.keypair)?);
        let mut proof_keys = Vec::with_capacity(self.proof_keys.len().max(1));
        for key in &self.proof_keys {
            let keypair = read_keypair(&key.path)?;
            proof_keys.push(ProofKey {
                signing_key: SigningKey::from_bytes(keypair.secret_bytes()),
                not_before: key.not_before,
                not_after: key.not_after,
            });
        }
        if proof_keys.is_empty() {
            proof_keys.push(ProofKey {
                signing_key: SigningKey::from_bytes(keypair.secret_bytes()),
                not_before: 0,
                not_after: None,
            });
        }
        let access = resolve_access(&self.access)?;
        let network = self
            .network
            .as_deref()
            .map(parse_network_label)
            .transpose()
            .map_err(|error| ConfigError::Invalid {
                field: "network",
                message: error.to_string(),
            })?;
        let fees = &self.fees;
        if fees.max_compute_unit_limit > X402_MAX_COMPUTE_UNIT_LIMIT {
            return Err(ConfigError::Invalid {
                field: "fees.max_compute_unit_limit",
                message: format!("at most {X402_MAX_COMPUTE_UNIT_LIMIT} (the x402 exact ceiling)"),
            });
        }
        if fees.max_compute_unit_price_micro_lamports > X402_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS {
            return Err(ConfigError::Invalid {
                field: "fees.max_compute_unit_price_micro_lamports",
                message: format!(
                    "at most {X402_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS} (the x402 exact ceiling)"
                ),
            });
        }
        Ok(Settings {
            access,
            exact_limits: ExactLimits {
                max_compute_unit_limit: fees.max_compute_unit_limit,
                max_compute_unit_price_micro_lamports: fees.max_compute_unit_price_micro_lamports,
            },
            min_amount: fees.min_amount,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            bind: self.bind,
            rpc_url: self.rpc_url,
            network,
            database: self.database,
            keypair,
            proof_keys,
            proof_ttl_secs: self.proof_ttl_secs,
            chain_cache_ttl: Duration::from_millis(self.chain_cache_ttl_ms),
            expiry_margin_secs: self.expiry_margin_secs,
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            registration_token: self.registration_token,
            catalog: self.catalog.settings(),
            claimer: self.claims.enabled.then(|| ClaimerConfig {
                interval: Duration::from_secs(self.claims.interval_secs.max(1)),
                max_batch: self.claims.max_batch,
                min_claim: self.claims.min_claim,
                lookup_tables: self
                    .claims
                    .lookup_tables
                    .then(|| crate::claimer::TableConfig {
                        idle: Duration::from_secs(self.claims.table_idle_secs),
                        ..crate::claimer::TableConfig::default()
                    }),
                ..ClaimerConfig::default()
            }),
        })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Reads the secrets `[access]` names from the environment.
fn resolve_access(file: &AccessFile) -> Result<AccessSettings, ConfigError> {
    let secret = |field: &'static str, name: &str| {
        env(name).ok_or_else(|| ConfigError::Invalid {
            field,
            message: format!("environment variable {name} is not set"),
        })
    };
    let clients = file
        .clients
        .iter()
        .map(|client| {
            Ok((
                client.name.clone(),
                secret("access.clients.key_env", &client.key_env)?,
            ))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let anonymous = if file.anonymous {
        let pay_to = file
            .anonymous_pay_to
            .iter()
            .map(|text| {
                text.parse().map_err(|_| ConfigError::Invalid {
                    field: "access.anonymous_pay_to",
                    message: format!("{text:?} is not a base58 address"),
                })
            })
            .collect::<Result<_, _>>()?;
        Some(AnonymousSettings {
            pay_to,
            per_minute: file.anonymous_per_minute,
        })
    } else {
        None
    };
    let operator_token = file
        .operator_token_env
        .as_deref()
        .map(|name| secret("access.operator_token_env", name))
        .transpose()?;
    Ok(AccessSettings {
        clients,
        anonymous,
        operator_token,
    })
}

/// Reads a Solana CLI keypair file.
pub fn read_keypair(path: &Path) -> Result<Keypair, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes: Vec<u8> = serde_json::from_str(&text).map_err(|error| ConfigError::Keypair {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    Keypair::try_from(bytes.as_slice()).map_err(|error| ConfigError::Keypair {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Everything the facilitator runs with.
#[derive(Debug)]
pub struct Settings {
    /// Who may call what.
    pub access: AccessSettings,
    /// What an `exact` settlement may cost in fees.
    pub exact_limits: ExactLimits,
    /// Smallest payment verified or settled, raw units.
    pub min_amount: u64,
    /// Longest a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// Most client connections served at once.
    pub max_connections: usize,
    /// Address to listen on (port 0 picks one).
    pub bind: SocketAddr,
    /// Solana JSON-RPC URL.
    pub rpc_url: String,
    /// The CAIP-2 id its chain is served under, if not its own.
    pub network: Option<String>,
    /// Database path or URL.
    pub database: String,
    /// Fee payer and claim delegate.
    pub keypair: Arc<Keypair>,
    /// Proof signing keys.
    pub proof_keys: Vec<ProofKey>,
    /// Lifetime of a proof, seconds.
    pub proof_ttl_secs: i64,
    /// Lifetime of a cached allowance.
    pub chain_cache_ttl: Duration,
    /// Allowances expiring sooner than this are refused, seconds.
    pub expiry_margin_secs: i64,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Bearer token for resource registration, if registration is on.
    pub registration_token: Option<String>,
    /// The claimer, if it runs.
    pub claimer: Option<ClaimerConfig>,
    /// The service catalog, if it runs.
    pub catalog: Option<CatalogSettings>,
}

impl Settings {
    /// Settings for tests and embedding: the given keys and database, the
    /// defaults for the rest, listening on a free local port. No client may
    /// verify or settle until [`Settings::access`] names one.
    pub fn new(rpc_url: String, database: String, keypair: Keypair) -> Self {
        let signing_key = SigningKey::from_bytes(keypair.secret_bytes());
        Self {
            access: AccessSettings::default(),
            exact_limits: ExactLimits::default(),
            min_amount: default_min_amount(),
            header_read_timeout: Duration::from_secs(default_header_read_timeout()),
            max_connections: default_max_connections(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            rpc_url,
            network: None,
            database,
            keypair: Arc::new(keypair),
            proof_keys: vec![ProofKey {
                signing_key,
                not_before: 0,
                not_after: None,
            }],
            proof_ttl_secs: default_proof_ttl(),
            chain_cache_ttl: Duration::from_millis(default_cache_ttl_ms()),
            expiry_margin_secs: default_expiry_margin(),
            max_body_bytes: default_max_body(),
            request_timeout: Duration::from_secs(default_request_timeout()),
            registration_token: None,
            claimer: Some(ClaimerConfig::default()),
            catalog: Some(CatalogSettings::default()),
        }
    }

    /// Lets `name` verify and settle with `api_key`.
    pub fn with_client(mut self, name: &str, api_key: &str) -> Self {
        self.access.clients.push((name.into(), api_key.into()));
        self
    }
}
