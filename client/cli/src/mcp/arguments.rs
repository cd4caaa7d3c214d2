//! The tools' arguments, with the JSON Schemas clients show to models.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::agent::AgentRequest;

/// `search_services`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What the API should do, in a few words (e.g. "weather forecast").
    pub query: String,
    /// Only this category: ai_ml, cloud, compute, data, devtools, finance, identity, maps, media, messaging, other, productivity, search, security, shopping, storage, translation.
    #[serde(default)]
    pub category: Option<String>,
    /// Only services with a call at most this price, in tokens (e.g. "0.05").
    #[serde(default)]
    pub max_price: Option<String>,
    /// Most results (1-20, default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `get_service`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetServiceArgs {
    /// The service's catalog name (from search_services).
    pub name: String,
}

/// `quote` and `fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestArgs {
    /// A full http(s) URL, or a catalog service name and path such as "quotes/v1/quotes/SOL".
    pub url: String,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body, as text (e.g. JSON).
    #[serde(default)]
    pub body: Option<String>,
}

impl From<RequestArgs> for AgentRequest {
    fn from(args: RequestArgs) -> Self {
        Self {
            url: args.url,
            method: args.method,
            headers: args.headers,
            body: args.body,
        }
    }
}

/// `history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// How many payments, newest first (1-200, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
}
