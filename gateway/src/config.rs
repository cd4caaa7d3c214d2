//! The gateway's configuration file (TOML), checked once at start.
//!
//! ```toml
//! public_url = "https://api.example.com"   # the URL clients use
//! upstream = "http://127.0.0.1:9000"
//!
//! [payment]
//! network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
//! asset = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
//! pay_to = "<provider address>"
//! schemes = ["escrow", "exact", "mpp"]
//!
//! [facilitator]
//! url = "http://127.0.0.1:4020"
//! fee_payer = "<facilitator fee payer>"
//!
//! [[routes]]
//! method = "GET"
//! path = "/v1/quotes/:symbol"
//! price = 10000                            # raw units of the asset
//! description = "A quote"
//!
//! [[routes]]
//! path = "/health"
//! free = true
//! ```

use serde::Deserialize;
use solana_pubkey::Pubkey;

use crate::routes::{MethodFilter, PathPattern, PatternError};

/// How a client may pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayScheme {
    /// paytab escrow receipts (x402 scheme `escrow`).
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
    /// Redis URL for a replay cache shared by several gateways; in memory without one.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// Environment variable holding the secret that keys MPP challenge ids.
    #[serde(default = "default_secret_env")]
    pub challenge_secret_env: String,
    /// Largest request body proxied, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest the upstream may take to answer, seconds.
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_secs: u64,
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
    /// CAIP-2 network.
    pub network: String,
    /// The mint, base58.
    pub asset: String,
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
    /// Its fee payer, for `exact` requirements (`extra.feePayer`).
    #[serde(default)]
    pub fee_payer: Option<String>,
    /// Its claim delegate, for `escrow` requirements (defaults to the fee payer).
    #[serde(default)]
    pub delegate: Option<String>,
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
fn default_decimals() -> u8 {
    6
}
fn default_schemes() -> Vec<PayScheme> {
    vec![PayScheme::Escrow, PayScheme::Exact, PayScheme::Mpp]
}
fn default_timeout() -> u64 {
    60
}
fn any_method() -> String {
    "*".into()
}

/// What a matched route asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Proxied as is.
    Free,
    /// Needs a sign-in (authentication only).
    SignIn,
    /// Needs payment of `price` raw units.
    Priced {
        /// Raw units.
        price: u64,
        /// What is sold.
        description: String,
        /// MIME type of the response.
        mime_type: String,
    },
}

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Methods it applies to.
    pub method: MethodFilter,
    /// Paths it applies to.
    pub path: PathPattern,
    /// What it asks for.
    pub access: Access,
}

/// Payment terms shared by every priced route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// CAIP-2 network.
    pub network: String,
    /// The mint.
    pub asset: Pubkey,
    /// Who is paid.
    pub pay_to: Pubkey,
    /// Decimals of the asset.
    pub decimals: u8,
    /// Accepted schemes, preferred first.
    pub schemes: Vec<PayScheme>,
    /// How long a client has to pay.
    pub max_timeout_seconds: u64,
    /// The facilitator's fee payer (`exact`).
    pub fee_payer: Option<Pubkey>,
    /// The facilitator's claim delegate (`escrow`).
    pub delegate: Option<Pubkey>,
}

#[cfg(test)]
impl PaymentTerms {
    /// Terms for unit tests: a fixed network, asset `[3; 32]`, payee `[2; 32]`,
    /// 6 decimals, 60 s to pay, and `[9; 32]` as fee payer and delegate.
    pub(crate) fn sample(schemes: &[PayScheme]) -> Self {
        let facilitator = Pubkey::new_from_array([9; 32]);
        Self {
            network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into(),
            asset: Pubkey::new_from_array([3; 32]),
            pay_to: Pubkey::new_from_array([2; 32]),
            decimals: 6,
            schemes: schemes.to_vec(),
            max_timeout_seconds: 60,
            fee_payer: Some(facilitator),
            delegate: Some(facilitator),
        }
    }
}

/// Where the upstream credential goes.
#[derive(Clone, PartialEq, Eq)]
pub enum UpstreamAuth {
    /// A header `name: secret`.
    Header {
        /// Header name.
        name: String,
        /// The secret.
        secret: String,
    },
    /// A query parameter `name=secret`.
    Query {
        /// Parameter name.
        name: String,
        /// The secret.
        secret: String,
    },
}

impl std::fmt::Debug for UpstreamAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header { name, .. } => write!(f, "Header({name}: <redacted>)"),
            Self::Query { name, .. } => write!(f, "Query({name}=<redacted>)"),
        }
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: std::net::SocketAddr,
    /// Shared replay cache, if any.
    pub redis_url: Option<String>,
    /// Largest request body proxied, bytes.
    pub max_body_bytes: usize,
    /// Longest the upstream may take.
    pub upstream_timeout: std::time::Duration,
    /// Credential added upstream.
    pub upstream_auth: Option<UpstreamAuth>,
    /// Environment variable of the challenge secret.
    pub challenge_secret_env: String,
    /// Scheme, host and port clients use, without a trailing slash; `None`
    /// until the listening address is known.
    pub public_url: Option<String>,
    /// The upstream API, without a trailing slash.
    pub upstream: String,
    /// The facilitator's base URL, without a trailing slash.
    pub facilitator_url: String,
    /// Payment terms.
    pub terms: PaymentTerms,
    /// Routes, first match wins; unmatched requests are refused.
    pub routes: Vec<Route>,
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML for this schema.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A field has a bad value.
    #[error("{field}: {reason}")]
    Invalid {
        /// Which field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A route pattern is malformed.
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn address(field: &str, text: &str) -> Result<Pubkey, ConfigError> {
    text.parse()
        .map_err(|_| invalid(field, format!("{text:?} is not a base58 address")))
}

fn base_url(field: &str, text: &str) -> Result<String, ConfigError> {
    let trimmed = text.trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(invalid(field, "must be an http(s) URL"));
    }
    Ok(trimmed.to_string())
}

impl GatewayConfig {
    /// Parses and checks a TOML text; secrets are read from the environment.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|error| ConfigError::Parse(error.to_string()))?;
        Self::check(file, |name| std::env::var(name).ok())
    }

    /// Checks a parsed file, reading secrets with `env`.
    pub fn check(
        file: FileConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let upstream_auth = file
            .upstream_auth
            .as_ref()
            .map(|auth| upstream_auth(auth, &env))
            .transpose()?;
        let payment = &file.payment;
        if !payment.network.starts_with("solana:") || payment.network.len() > 64 {
            return Err(invalid(
                "payment.network",
                "must be a CAIP-2 Solana id (solana:<genesis hash prefix>)",
            ));
        }
        if payment.schemes.is_empty() {
            return Err(invalid("payment.schemes", "name at least one scheme"));
        }
        let fee_payer = file
            .facilitator
            .fee_payer
            .as_deref()
            .map(|text| address("facilitator.fee_payer", text))
            .transpose()?;
        let delegate = file
            .facilitator
            .delegate
            .as_deref()
            .map(|text| address("facilitator.delegate", text))
            .transpose()?
            .or(fee_payer);
        let pays_fees = payment.schemes.contains(&PayScheme::Exact)
            || payment.schemes.contains(&PayScheme::Mpp);
        if pays_fees && fee_payer.is_none() {
            return Err(invalid(
                "facilitator.fee_payer",
                "required when payment.schemes includes exact or mpp",
            ));
        }
        let terms = PaymentTerms {
            network: payment.network.clone(),
            asset: address("payment.asset", &payment.asset)?,
            pay_to: address("payment.pay_to", &payment.pay_to)?,
            decimals: payment.decimals,
            schemes: payment.schemes.clone(),
            max_timeout_seconds: payment.max_timeout_seconds,
            fee_payer,
            delegate,
        };
        let routes = file
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| check_route(index, route))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            listen: file.listen,
            redis_url: file.redis_url.clone(),
            max_body_bytes: file.max_body_bytes,
            upstream_timeout: std::time::Duration::from_secs(file.upstream_timeout_secs.max(1)),
            upstream_auth,
            challenge_secret_env: file.challenge_secret_env.clone(),
            public_url: file
                .public_url
                .as_deref()
                .map(|url| base_url("public_url", url))
                .transpose()?,
            upstream: base_url("upstream", &file.upstream)?,
            facilitator_url: base_url("facilitator.url", &file.facilitator.url)?,
            terms,
            routes,
        })
    }

    /// The first route matching `method` and `path`.
    pub fn route(&self, method: &str, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|route| route.method.allows(method) && route.path.matches(path))
    }
}

fn upstream_auth(
    auth: &UpstreamAuthFile,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<UpstreamAuth, ConfigError> {
    let secret = env(&auth.env)
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| {
            invalid(
                "upstream_auth.env",
                format!("environment variable {} is not set", auth.env),
            )
        })?;
    match (&auth.header, &auth.query) {
        (Some(name), None) => Ok(UpstreamAuth::Header {
            name: name.clone(),
            secret,
        }),
        (None, Some(name)) => Ok(UpstreamAuth::Query {
            name: name.clone(),
            secret,
        }),
        _ => Err(invalid(
            "upstream_auth",
            "name exactly one of header = \"…\" or query = \"…\"",
        )),
    }
}

fn check_route(index: usize, route: &RouteFile) -> Result<Route, ConfigError> {
    let field = |name: &str| format!("routes[{index}].{name}");
    let access = match (route.price, route.free, route.sign_in) {
        (Some(0), _, _) => return Err(invalid(field("price"), "must be above 0")),
        (Some(price), false, false) => Access::Priced {
            price,
            description: route.description.clone(),
            mime_type: route
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/json".into()),
        },
        (None, true, false) => Access::Free,
        (None, false, true) => Access::SignIn,
        _ => {
            return Err(invalid(
                field("price"),
                "a route is exactly one of: priced (price = …), free = true, sign_in = true",
            ))
        }
    };
    Ok(Route {
        method: MethodFilter::parse(&route.method),
        path: PathPattern::parse(&route.path)?,
        access,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
public_url = "https://api.example.com/"
upstream = "http://127.0.0.1:9000"

[payment]
network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
asset = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
pay_to = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"

[facilitator]
url = "http://127.0.0.1:4020"
fee_payer = "GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB"

[[routes]]
method = "GET"
path = "/v1/quotes/:symbol"
price = 10000
description = "A quote"

[[routes]]
path = "/health"
free = true

[[routes]]
path = "/me"
sign_in = true
"#;

    #[test]
    fn the_documented_example_parses_and_routes_first_match_wins() {
        let config = GatewayConfig::parse(EXAMPLE).unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(config.terms.delegate, config.terms.fee_payer);
        assert!(matches!(
            config.route("GET", "/v1/quotes/SOL").unwrap().access,
            Access::Priced { price: 10_000, .. }
        ));
        assert!(config.route("POST", "/v1/quotes/SOL").is_none());
        assert_eq!(
            config.route("HEAD", "/health").unwrap().access,
            Access::Free
        );
        assert_eq!(config.route("GET", "/me").unwrap().access, Access::SignIn);
        assert!(config.route("GET", "/admin").is_none());
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let cases = [
            (
                EXAMPLE.replace("price = 10000", "price = 0"),
                "routes[0].price",
            ),
            (
                EXAMPLE.replace("free = true", "free = true\nprice = 5"),
                "routes[1].price",
            ),
            (
                EXAMPLE.replace("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", "nope"),
                "payment.pay_to",
            ),
            (
                EXAMPLE.replace("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "eip155:1"),
                "payment.network",
            ),
            (
                EXAMPLE.replace(
                    "fee_payer = \"GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\"",
                    "",
                ),
                "facilitator.fee_payer",
            ),
        ];
        for (text, field) in cases {
            let error = GatewayConfig::parse(&text).unwrap_err();
            assert!(error.to_string().starts_with(field), "{field}: {error}");
        }
        assert!(matches!(
            GatewayConfig::parse("upstream = 3").unwrap_err(),
            ConfigError::Parse(_)
        ));
    }
}
