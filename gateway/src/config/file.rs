//! The configuration file as written (TOML), with its defaults; [`super`]
//! checks it into a [`super::GatewayConfig`].

use serde::Deserialize;

/// How a client may pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayScheme {
    /// paytab escrow receipts (x402 scheme `paytab-escrow`).
    Escrow,
    /// x402 `exact` transfers.
    Exact,
    /// MPP `charge`.
    Mpp,
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// Scheme, host and port clients use to reach the gateway; by default
    /// `http://` and the address it listens on.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Redis URL: used payments shared by several gateways (instead of the state file).
    #[serde(default)]
    pub redis_url: Option<String>,
    /// File keeping used payments across restarts (one gateway; segments
    /// `<state_file>.N` lie beside it).
    #[serde(default = "default_state_file")]
    pub state_file: std::path::PathBuf,
    /// Environment variable holding the secret that keys MPP challenge ids.
    #[serde(default = "default_secret_env")]
    pub challenge_secret_env: String,
    /// Largest request body proxied, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest the upstream may take to answer, seconds.
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_secs: u64,
    /// Longest a client may take to send its request headers, seconds.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: u64,
    /// Most client connections served at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A credential the gateway adds to every upstream request.
    #[serde(default)]
    pub upstream_auth: Option<UpstreamAuthFile>,
    /// The API behind the gateway.
    pub upstream: String,
    /// Defaults for every priced route.
    pub payment: PaymentFile,
    /// The facilitator proofs come from.
    pub facilitator: FacilitatorFile,
    /// Routes, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    /// What the service is, for discovery (`GET /openapi.json`) and the catalog.
    #[serde(default)]
    pub service: Option<ServiceFile>,
}

/// `[service]`: how the API is listed and discovered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    /// Unique catalog name (lower-case letters, digits, -).
    pub name: String,
    /// A human title.
    pub title: String,
    /// What it does (64–255 characters: it feeds search).
    pub description: String,
    /// When to use it.
    #[serde(default)]
    pub use_case: Option<String>,
    /// One of the catalog's 17 categories.
    pub category: String,
    /// The listing's version.
    #[serde(default = "default_service_version")]
    pub version: String,
    /// A test deployment's URL.
    #[serde(default)]
    pub sandbox_url: Option<String>,
    /// Documentation home page.
    #[serde(default)]
    pub docs_url: Option<String>,
    /// Usage notes for people and agents (Markdown).
    #[serde(default)]
    pub usage: Option<String>,
}

/// `[upstream_auth]`: a header or query parameter whose value is read from
/// the environment (never from the file, never logged).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamAuthFile {
    /// Header name, e.g. `x-api-key`.
    #[serde(default)]
    pub header: Option<String>,
    /// Query parameter name, e.g. `api_key`.
    #[serde(default)]
    pub query: Option<String>,
    /// The environment variable holding the secret.
    pub env: String,
}

/// `[payment]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentFile {
    /// CAIP-2 network; by default the one the facilitator serves.
    #[serde(default)]
    pub network: Option<String>,
    /// The mint, base58.
    pub asset: String,
    /// The mint's token program, base58 (SPL Token by default, or Token-2022).
    #[serde(default)]
    pub token_program: Option<String>,
    /// Who is paid, base58 owner address.
    pub pay_to: String,
    /// Decimals of the asset (for MPP and pages).
    #[serde(default = "default_decimals")]
    pub decimals: u8,
    /// Accepted schemes, in order of preference.
    #[serde(default = "default_schemes")]
    pub schemes: Vec<PayScheme>,
    /// How long a client has to pay.
    #[serde(default = "default_timeout")]
    pub max_timeout_seconds: u64,
}

/// `[facilitator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilitatorFile {
    /// Base URL.
    pub url: String,
    /// Its fee payer, for `exact` requirements (`extra.feePayer`); by
    /// default the one its `/supported` names.
    #[serde(default)]
    pub fee_payer: Option<String>,
    /// Its claim delegate, for `escrow` requirements (by default the one its
    /// `/supported` names, else the fee payer).
    #[serde(default)]
    pub delegate: Option<String>,
    /// Environment variable holding the API key presented to `/verify` and `/settle`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Longest a facilitator call may take, seconds; longer than the
    /// facilitator's own settle deadline, so its answer is never cut off.
    #[serde(default = "default_facilitator_timeout")]
    pub timeout_secs: u64,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// Method or `*`.
    #[serde(default = "any_method")]
    pub method: String,
    /// Path pattern.
    pub path: String,
    /// Price in raw units of the asset; absent for free and sign-in routes.
    #[serde(default)]
    pub price: Option<u64>,
    /// Free: proxied without payment.
    #[serde(default)]
    pub free: bool,
    /// Sign-in only: a signed x402 sign-in, nothing paid.
    #[serde(default)]
    pub sign_in: bool,
    /// What the route sells.
    #[serde(default)]
    pub description: String,
    /// MIME type of the response.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// A concrete path of a route with parameters, e.g. `/v1/quotes/SOL`
    /// (discovery shows it; a catalog probes it).
    #[serde(default)]
    pub example_path: Option<String>,
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 4021))
}
fn default_secret_env() -> String {
    "PAYTAB_GATEWAY_SECRET".into()
}
fn default_max_body() -> usize {
    10 * 1024 * 1024
}
fn default_upstream_timeout() -> u64 {
    30
}
fn default_state_file() -> std::path::PathBuf {
    crate::reservations::DEFAULT_STATE_FILE.into()
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_max_connections() -> usize {
    4096
}
fn default_facilitator_timeout() -> u64 {
    75
}
fn default_decimals() -> u8 {
    6
}
fn default_schemes() -> Vec<PayScheme> {
    vec![PayScheme::Escrow, PayScheme::Exact, PayScheme::Mpp]
}
fn default_timeout() -> u64 {
    60
}
fn default_service_version() -> String {
    "1.0.0".into()
}
fn any_method() -> String {
    "*".into()
}
