//! The service catalog, from the client's side: search it, read one
//! listing, publish a signed manifest, and build a manifest from a gateway's
//! own discovery document (`GET /openapi.json`), so the listing says exactly
//! what the gateway charges.

use paytab_protocol::manifest::fields::Naming;
use paytab_protocol::manifest::{Manifest, ManifestError, Publication};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Where a catalog runs unless told otherwise: a facilitator on this machine.
pub const DEFAULT_CATALOG_URL: &str = "http://127.0.0.1:4020";

/// What went wrong talking to a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog (or gateway) could not be reached or answered garbage.
    #[error("{url}: {message}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The catalog refused the request.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its error code (`probe_failed`, `name_taken`, …).
        code: String,
        /// Its explanation.
        message: String,
        /// The manifest field at fault, if any.
        field: Option<String>,
        /// Each probe failure, if any.
        reasons: Vec<String>,
    },
    /// No listing has this name.
    #[error("no service named {0:?} is listed in this catalog")]
    NotListed(String),
    /// A gateway's discovery document does not make a manifest.
    #[error("the gateway's /openapi.json does not make a manifest: {0}")]
    Manifest(#[from] ManifestError),
}

/// A search: free text and filters.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Free text.
    pub text: String,
    /// Only this category.
    pub category: Option<String>,
    /// Only this network.
    pub network: Option<String>,
    /// Only services with an endpoint at most this price, raw units.
    pub max_price: Option<u64>,
    /// Most results.
    pub limit: Option<u32>,
}

/// One search result.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    /// Catalog name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: String,
    /// The gateway's URL.
    pub service_url: String,
    /// CAIP-2 network.
    pub network: String,
    /// Mint of the prices.
    pub asset: String,
    /// Cheapest paid endpoint, raw units.
    pub lowest_price: Option<String>,
    /// `live` or `stale`.
    pub status: String,
    /// Why it is stale.
    pub status_reason: Option<String>,
    /// Relevance (higher is better).
    pub score: f64,
}

/// A catalog at a base URL.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    base: String,
    http: reqwest::Client,
}

impl CatalogClient {
    /// The catalog at `base` (a facilitator's URL).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Value, CatalogError> {
        let unreachable = |message: String| CatalogError::Unreachable {
            url: url.to_string(),
            message,
        };
        let response = request
            .send()
            .await
            .map_err(|error| unreachable(error.without_url().to_string()))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|_| {
            unreachable(format!(
                "answered {status} without JSON: is this a paytab catalog?"
            ))
        })?;
        if status.is_success() {
            return Ok(body);
        }
        Err(CatalogError::Refused {
            status: status.as_u16(),
            code: body["error"].as_str().unwrap_or("error").to_string(),
            message: body["message"]
                .as_str()
                .unwrap_or("the catalog refused the request")
                .to_string(),
            field: body["field"].as_str().map(str::to_string),
            reasons: body["reasons"]
                .as_array()
                .map(|reasons| {
                    reasons
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Services matching `search`, best first.
    pub async fn search(
        &self,
        search: &SearchRequest,
    ) -> Result<Vec<ServiceSummary>, CatalogError> {
        let url = format!("{}/catalog/search", self.base);
        let mut query: Vec<(&str, String)> = vec![("q", search.text.clone())];
        if let Some(category) = &search.category {
            query.push(("category", category.clone()));
        }
        if let Some(network) = &search.network {
            query.push(("network", network.clone()));
        }
        if let Some(max_price) = search.max_price {
            query.push(("maxPrice", max_price.to_string()));
        }
        if let Some(limit) = search.limit {
            query.push(("limit", limit.to_string()));
        }
        let body = self.send(self.http.get(&url).query(&query), &url).await?;
        serde_json::from_value(body["results"].clone()).map_err(|error| CatalogError::Unreachable {
            url,
            message: format!("unexpected search results: {error}"),
        })
    }

    /// The listing named `name`, in full (manifest, health, signature).
    pub async fn service(&self, name: &str) -> Result<Value, CatalogError> {
        let url = format!("{}/catalog/services/{name}", self.base);
        match self.send(self.http.get(&url), &url).await {
            Err(CatalogError::Refused { status: 404, .. }) => {
                Err(CatalogError::NotListed(name.into()))
            }
            other => other,
        }
    }

    /// Publishes a signed manifest; the catalog probes it before listing.
    pub async fn publish(&self, publication: &Publication) -> Result<Value, CatalogError> {
        let url = format!("{}/catalog/publish", self.base);
        self.send(self.http.post(&url).json(&publication.to_json()), &url)
            .await
    }
}

/// Reads a gateway's `GET /openapi.json` and makes the manifest it describes.
pub async fn manifest_from_gateway(gateway_url: &str) -> Result<Manifest, CatalogError> {
    let url = format!("{}/openapi.json", gateway_url.trim_end_matches('/'));
    let unreachable = |message: String| CatalogError::Unreachable {
        url: url.clone(),
        message,
    };
    let response = reqwest::get(&url)
        .await
        .map_err(|error| unreachable(error.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(unreachable(format!(
            "answered {}: is this a paytab gateway?",
            response.status()
        )));
    }
    let document: Value = response
        .json()
        .await
        .map_err(|_| unreachable("answered without JSON".into()))?;
    Ok(manifest_from_openapi(&document)?)
}

/// `/v1/quotes/{symbol}` back to the gateway's pattern `/v1/quotes/:symbol`.
fn pattern_of(openapi_path: &str) -> String {
    openapi_path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("rest") => "*".to_string(),
                Some(name) => format!(":{name}"),
                None => segment.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The manifest a paytab gateway's discovery document describes.
pub fn manifest_from_openapi(document: &Value) -> Result<Manifest, ManifestError> {
    let paytab = &document["x-paytab"];
    if paytab["name"].is_null() {
        return Err(ManifestError::new(
            "name",
            "the gateway names no service: add a [service] section (name, title, description, category) to its configuration",
        ));
    }
    let mut endpoints = Vec::new();
    for (path, operations) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            let mut endpoint = json!({
                "method": method.to_ascii_uppercase(),
                "path": pattern_of(path),
                "description": operation["summary"],
                "access": operation["x-paytab-access"],
            });
            if let Some(price) = operation["x-payment-info"]["offers"][0]["amount"].as_str() {
                endpoint["price"] = json!(price);
            }
            if let Some(example) = operation["x-paytab-example-path"].as_str() {
                endpoint["examplePath"] = json!(example);
            }
            if endpoint["description"].as_str().is_none_or(str::is_empty) {
                endpoint["description"] = json!(match endpoint["access"].as_str() {
                    Some("free") => "Free",
                    Some("sign-in") => "Sign in with a Solana wallet",
                    _ => "Paid",
                });
            }
            endpoints.push(endpoint);
        }
    }
    let mut manifest = Map::new();
    let mut copy = |key: &str, value: &Value| {
        if !value.is_null() {
            manifest.insert(key.to_string(), value.clone());
        }
    };
    copy("name", &paytab["name"]);
    copy("title", &document["info"]["title"]);
    copy("description", &document["info"]["description"]);
    copy("useCase", &paytab["useCase"]);
    copy("category", &paytab["category"]);
    copy("serviceUrl", &document["servers"][0]["url"]);
    copy("sandboxServiceUrl", &paytab["sandboxServiceUrl"]);
    copy("version", &document["info"]["version"]);
    copy("network", &paytab["network"]);
    copy("asset", &paytab["asset"]);
    copy("decimals", &paytab["decimals"]);
    copy("payTo", &paytab["payTo"]);
    copy("schemes", &paytab["schemes"]);
    copy("facilitator", &paytab["facilitator"]);
    copy("usage", &paytab["usage"]);
    manifest.insert("endpoints".into(), Value::Array(endpoints));
    Manifest::from_value(&Value::Object(manifest), Naming::Camel)
}

#[cfg(test)]
mod tests {
    use super::pattern_of;

    #[test]
    fn openapi_paths_turn_back_into_gateway_patterns() {
        assert_eq!(pattern_of("/v1/quotes/{symbol}"), "/v1/quotes/:symbol");
        assert_eq!(pattern_of("/files/{rest}"), "/files/*");
        assert_eq!(pattern_of("/health"), "/health");
    }
}
