//! The gateway's configuration file (TOML), checked once at start.
//!
//! ```toml
//! public_url = "https://api.example.com"   # the URL clients use
//! upstream = "http://127.0.0.1:9000"
//!
//! [payment]
//! network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"   # optional: the facilitator's
//! asset = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
//! pay_to = "<provider address>"
//! schemes = ["escrow", "exact", "mpp"]
//!
//! [facilitator]
//! url = "http://127.0.0.1:4020"
//! fee_payer = "<facilitator fee payer>"   # optional: the facilitator's
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

mod file;
mod terms;

use solana_pubkey::Pubkey;

use crate::routes::{MethodFilter, PathPattern, PatternError};
use crate::target::Target;
pub use file::{
    FacilitatorFile, FileConfig, PayScheme, PaymentFile, RouteFile, ServiceFile, UpstreamAuthFile,
};
pub use terms::{PaymentConfig, PaymentTerms, TermsError, SPL_TOKEN, TOKEN_2022};

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
    /// What it answers (for discovery).
    pub description: String,
    /// A concrete path it matches, for discovery and catalog probes.
    pub example_path: Option<String>,
    /// The x402 bazaar extension its 402s carry (priced routes), shared with
    /// every paid request in flight on the route.
    pub bazaar: Option<std::sync::Arc<serde_json::Value>>,
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

/// Where the gateway keeps the payments it has used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateStore {
    /// A state file: one gateway, used payments survive a restart.
    File(std::path::PathBuf),
    /// Redis, shared by several gateways.
    Redis(String),
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: std::net::SocketAddr,
    /// Where used payments are kept.
    pub store: StateStore,
    /// Longest a client may take to send its request headers.
    pub header_read_timeout: std::time::Duration,
    /// Most client connections served at once.
    pub max_connections: usize,
    /// The API key presented to the facilitator, if any.
    pub facilitator_api_key: Option<String>,
    /// Longest a facilitator call may take.
    pub facilitator_timeout: std::time::Duration,
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
    /// Payment terms as configured (the facilitator completes them at start).
    pub payment: PaymentConfig,
    /// Routes, first match wins; unmatched requests are refused.
    pub routes: Vec<Route>,
    /// How the service is listed and discovered, if configured.
    pub service: Option<ServiceFile>,
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

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(crate) fn address(field: &str, text: &str) -> Result<Pubkey, ConfigError> {
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
        let payment = PaymentConfig::check(&file.payment, &file.facilitator)?;
        let routes = file
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| check_route(index, route))
            .collect::<Result<Vec<_>, _>>()?;
        let facilitator_api_key = file
            .facilitator
            .api_key_env
            .as_deref()
            .map(|name| {
                env(name).filter(|key| !key.is_empty()).ok_or_else(|| {
                    invalid(
                        "facilitator.api_key_env",
                        format!("environment variable {name} is not set"),
                    )
                })
            })
            .transpose()?;
        let store = match &file.redis_url {
            Some(url) => StateStore::Redis(url.clone()),
            None => StateStore::File(file.state_file.clone()),
        };
        Ok(Self {
            listen: file.listen,
            store,
            header_read_timeout: std::time::Duration::from_secs(
                file.header_read_timeout_secs.max(1),
            ),
            max_connections: file.max_connections.max(1),
            facilitator_api_key,
            facilitator_timeout: std::time::Duration::from_secs(
                file.facilitator.timeout_secs.max(1),
            ),
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
            payment,
            routes,
            service: file.service.as_ref().map(check_service).transpose()?,
        })
    }

    /// How long a payment stays reserved for one request, seconds: long
    /// enough for the facilitator's verify, the upstream and the settle.
    pub fn reservation_ttl_secs(&self) -> i64 {
        let longest = self.upstream_timeout + self.facilitator_timeout * 2;
        i64::try_from(longest.as_secs()).unwrap_or(i64::MAX / 2) + 30
    }

    /// The first route matching `method` and the canonical `target`.
    pub fn route(&self, method: &str, target: &Target) -> Option<&Route> {
        self.routes
            .iter()
            .find(|route| route.method.allows(method) && route.path.matches(target.segments()))
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
    let path = PathPattern::parse(&route.path)?;
    let example_path = match &route.example_path {
        Some(example) => {
            let target = example
                .parse::<axum::http::Uri>()
                .ok()
                .and_then(|uri| Target::parse(&uri).ok())
                .ok_or_else(|| invalid(field("example_path"), "must be a canonical path"))?;
            if !path.matches(target.segments()) {
                return Err(invalid(
                    field("example_path"),
                    format!("{example:?} is not a path {:?} matches", route.path),
                ));
            }
            Some(example.clone())
        }
        None => None,
    };
    let mut checked = Route {
        method: MethodFilter::parse(&route.method),
        path,
        access,
        description: route.description.clone(),
        example_path,
        bazaar: None,
    };
    checked.bazaar = crate::discovery::bazaar_extension(&checked).map(std::sync::Arc::new);
    Ok(checked)
}

fn check_service(service: &ServiceFile) -> Result<ServiceFile, ConfigError> {
    if paytab_protocol::manifest::Category::parse(&service.category).is_none() {
        let names: Vec<&str> = paytab_protocol::manifest::Category::ALL
            .iter()
            .map(|category| category.as_str())
            .collect();
        return Err(invalid(
            "service.category",
            format!("must be one of {}", names.join(", ")),
        ));
    }
    let length = service.description.chars().count();
    if !(64..=255).contains(&length) {
        return Err(invalid(
            "service.description",
            format!("must be 64 to 255 characters (it feeds search), not {length}"),
        ));
    }
    if service.name.len() < 2
        || !service
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid(
            "service.name",
            "must be 2 or more lower-case letters, digits and -",
        ));
    }
    Ok(service.clone())
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

    fn target(path: &str) -> Target {
        Target::parse(&path.parse().unwrap()).unwrap()
    }

    #[test]
    fn the_documented_example_parses_and_routes_first_match_wins() {
        let config = GatewayConfig::parse(EXAMPLE).unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(config.payment.delegate, None, "the facilitator's, at start");
        assert!(matches!(
            config
                .route("GET", &target("/v1/quotes/SOL"))
                .unwrap()
                .access,
            Access::Priced { price: 10_000, .. }
        ));
        assert!(config.route("POST", &target("/v1/quotes/SOL")).is_none());
        assert_eq!(
            config.route("HEAD", &target("/health")).unwrap().access,
            Access::Free
        );
        assert_eq!(
            config.route("GET", &target("/me")).unwrap().access,
            Access::SignIn
        );
        assert!(config.route("GET", &target("/admin")).is_none());
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
                EXAMPLE.replace("GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB", "not-a-key"),
                "facilitator.fee_payer",
            ),
            (
                EXAMPLE.replace(
                    "[facilitator]",
                    "token_program = \"11111111111111111111111111111111\"\n[facilitator]",
                ),
                "payment.token_program",
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
