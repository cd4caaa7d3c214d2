//! The manifest's fields, read from JSON-like values with one error per
//! problem, naming the field as the author wrote it.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use solana_pubkey::Pubkey;

pub use super::category::Category;
use super::reader::{check_pattern, Reader};
pub use super::reader::{pattern_matches, Naming};
use crate::networks::normalise_network;

/// Most endpoints one manifest lists.
pub const MAX_ENDPOINTS: usize = 64;
/// Longest usage notes, in bytes.
pub const MAX_USAGE_BYTES: usize = 16 * 1024;

/// How an endpoint is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Paid per call: raw units of the manifest's asset.
    Paid(u64),
    /// Free.
    Free,
    /// Free after an x402 sign-in.
    SignIn,
}

/// One endpoint of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method, upper case.
    pub method: String,
    /// Path pattern: literal segments, `:name` parameters, an optional final `*`.
    pub path: String,
    /// What it answers.
    pub description: String,
    /// Paid, free or sign-in.
    pub access: Access,
    /// A concrete path a catalog probes (needed when `path` has parameters).
    pub example_path: Option<String>,
}

impl Endpoint {
    /// The concrete path to probe: `example_path`, else `path` itself.
    pub fn probe_path(&self) -> &str {
        self.example_path.as_deref().unwrap_or(&self.path)
    }

    /// Its price, when paid.
    pub fn price(&self) -> Option<u64> {
        match self.access {
            Access::Paid(price) => Some(price),
            Access::Free | Access::SignIn => None,
        }
    }
}

/// A provider's description of its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Unique name in a catalog: 2–64 of `a-z 0-9 -`, starting with a letter or digit.
    pub name: String,
    /// A human title (1–80 characters).
    pub title: String,
    /// What it does, for search (64–255 characters).
    pub description: String,
    /// When to use it (up to 500 characters).
    pub use_case: Option<String>,
    /// One of [`Category::ALL`].
    pub category: Category,
    /// The gateway's public URL (http or https, no query).
    pub service_url: String,
    /// A test deployment's URL, if any.
    pub sandbox_service_url: Option<String>,
    /// The provider's version of the listing (1–32 characters).
    pub version: String,
    /// CAIP-2 network payments settle on.
    pub network: String,
    /// The mint prices are in.
    pub asset: Pubkey,
    /// The mint's decimals.
    pub decimals: u8,
    /// Who is paid; the key that signs the publication.
    pub pay_to: Pubkey,
    /// Payment schemes accepted, as the gateway names them (`escrow`, `exact`, `mpp`).
    pub schemes: Vec<String>,
    /// The facilitator that settles the payments.
    pub facilitator: String,
    /// The endpoints (1–64).
    pub endpoints: Vec<Endpoint>,
    /// Usage notes (Markdown, up to 16 KiB).
    pub usage: String,
}

/// A manifest that cannot be used: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ManifestError {
    /// The field, as written (`endpoints[2].price`); empty for the whole document.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ManifestError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

const MANIFEST_FIELDS: [&str; 16] = [
    "name",
    "title",
    "description",
    "useCase",
    "category",
    "serviceUrl",
    "sandboxServiceUrl",
    "version",
    "network",
    "asset",
    "decimals",
    "payTo",
    "schemes",
    "facilitator",
    "endpoints",
    "usage",
];
const ENDPOINT_FIELDS: [&str; 6] = [
    "method",
    "path",
    "description",
    "access",
    "price",
    "examplePath",
];
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
const SCHEMES: [&str; 3] = ["escrow", "exact", "mpp"];

fn read_endpoint(value: &Value, naming: Naming, index: usize) -> Result<Endpoint, ManifestError> {
    let reader = Reader::new(
        value,
        naming,
        format!("endpoints[{index}]"),
        &ENDPOINT_FIELDS,
    )?;
    let method = reader.text("method", 1, 10)?.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ManifestError::new(
            reader.field("method"),
            format!("must be one of {}", METHODS.join(", ")),
        ));
    }
    let path = reader.text("path", 1, 512)?;
    check_pattern(&path).map_err(|message| ManifestError::new(reader.field("path"), message))?;
    let description = reader.text("description", 1, 255)?;
    let price = reader.unsigned("price")?;
    let access = match (reader.optional_text("access", 16)?.as_deref(), price) {
        (None | Some("paid"), Some(0)) => {
            return Err(ManifestError::new(
                reader.field("price"),
                "must be above 0 (list a free endpoint with access: free)",
            ))
        }
        (None | Some("paid"), Some(price)) => Access::Paid(price),
        (None | Some("paid"), None) => {
            return Err(ManifestError::new(
                reader.field("price"),
                "is missing: a paid endpoint names its price in raw units",
            ))
        }
        (Some("free"), None) => Access::Free,
        (Some("sign-in"), None) => Access::SignIn,
        (Some("free" | "sign-in"), Some(_)) => {
            return Err(ManifestError::new(
                reader.field("price"),
                "must be absent for a free or sign-in endpoint",
            ))
        }
        (Some(_), _) => {
            return Err(ManifestError::new(
                reader.field("access"),
                "must be paid, free or sign-in",
            ))
        }
    };
    let example_path = reader.optional_text("examplePath", 512)?;
    match &example_path {
        Some(example) if !example.starts_with('/') || !pattern_matches(&path, example) => {
            return Err(ManifestError::new(
                reader.field("examplePath"),
                format!("must be a concrete path that {path} matches"),
            ))
        }
        None if path.contains(':') || path.ends_with('*') => {
            return Err(ManifestError::new(
                reader.field("examplePath"),
                "is missing: a path with parameters needs a concrete example to probe",
            ))
        }
        _ => {}
    }
    Ok(Endpoint {
        method,
        path,
        description,
        access,
        example_path,
    })
}

impl Manifest {
    /// Reads and checks a manifest from its fields, spelt in `naming`.
    pub fn from_value(value: &Value, naming: Naming) -> Result<Self, ManifestError> {
        let reader = Reader::new(value, naming, String::new(), &MANIFEST_FIELDS)?;
        let name = reader.text("name", 2, 64)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || name.starts_with('-')
        {
            return Err(ManifestError::new(
                reader.field("name"),
                "must be lower-case letters, digits and -, not starting with -",
            ));
        }
        let category_name = reader.text("category", 1, 32)?;
        let category = Category::parse(&category_name).ok_or_else(|| {
            let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            ManifestError::new(
                reader.field("category"),
                format!("{category_name:?} is not one of {}", names.join(", ")),
            )
        })?;
        let network = normalise_network(&reader.text("network", 1, 64)?);
        if !network.starts_with("solana:") {
            return Err(ManifestError::new(
                reader.field("network"),
                "must be a Solana CAIP-2 id (solana:<genesis hash prefix>)",
            ));
        }
        let decimals = reader
            .unsigned("decimals")?
            .ok_or_else(|| ManifestError::new(reader.field("decimals"), "is missing"))?;
        let decimals = u8::try_from(decimals)
            .ok()
            .filter(|decimals| *decimals <= 18)
            .ok_or_else(|| ManifestError::new(reader.field("decimals"), "must be 0 to 18"))?;
        let schemes = read_schemes(&reader)?;
        let endpoints = match reader.get("endpoints") {
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_ENDPOINTS => items
                .iter()
                .enumerate()
                .map(|(index, item)| read_endpoint(item, naming, index))
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(ManifestError::new(
                    reader.field("endpoints"),
                    format!("must list 1 to {MAX_ENDPOINTS} endpoints"),
                ))
            }
        };
        let mut seen = BTreeSet::new();
        for (index, endpoint) in endpoints.iter().enumerate() {
            if !seen.insert((endpoint.method.clone(), endpoint.path.clone())) {
                return Err(ManifestError::new(
                    format!("endpoints[{index}]"),
                    format!("{} {} is listed twice", endpoint.method, endpoint.path),
                ));
            }
        }
        let usage = match reader.get("usage") {
            None => String::new(),
            Some(Value::String(text)) if text.len() <= MAX_USAGE_BYTES => text.trim().to_string(),
            Some(_) => {
                return Err(ManifestError::new(
                    reader.field("usage"),
                    "must be text of at most 16 KiB",
                ))
            }
        };
        Ok(Self {
            name,
            title: reader.text("title", 1, 80)?,
            description: reader.text("description", 64, 255)?,
            use_case: reader.optional_text("useCase", 500)?,
            category,
            service_url: reader.url("serviceUrl", true)?.unwrap_or_default(),
            sandbox_service_url: reader.url("sandboxServiceUrl", false)?,
            version: reader.text("version", 1, 32)?,
            network,
            asset: reader.key("asset")?,
            decimals,
            pay_to: reader.key("payTo")?,
            schemes,
            facilitator: reader.url("facilitator", true)?.unwrap_or_default(),
            endpoints,
            usage,
        })
    }

    /// Its fields as JSON (camelCase), the form a publication signs.
    pub fn to_value(&self) -> Value {
        let mut object = json!({
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "category": self.category.as_str(),
            "serviceUrl": self.service_url,
            "version": self.version,
            "network": self.network,
            "asset": self.asset.to_string(),
            "decimals": self.decimals,
            "payTo": self.pay_to.to_string(),
            "schemes": self.schemes,
            "facilitator": self.facilitator,
            "endpoints": self.endpoints.iter().map(endpoint_value).collect::<Vec<_>>(),
            "usage": self.usage,
        });
        if let Some(use_case) = &self.use_case {
            object["useCase"] = json!(use_case);
        }
        if let Some(sandbox) = &self.sandbox_service_url {
            object["sandboxServiceUrl"] = json!(sandbox);
        }
        object
    }

    /// The lowest price of its paid endpoints.
    pub fn lowest_price(&self) -> Option<u64> {
        self.endpoints.iter().filter_map(Endpoint::price).min()
    }
}

fn read_schemes(reader: &Reader<'_>) -> Result<Vec<String>, ManifestError> {
    let field = reader.field("schemes");
    let items = match reader.get("schemes") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ManifestError::new(
                field,
                "must list the schemes accepted: escrow, exact, mpp",
            ))
        }
    };
    let mut schemes = Vec::new();
    for item in items {
        match item.as_str() {
            Some(name) if SCHEMES.contains(&name) && !schemes.iter().any(|s| s == name) => {
                schemes.push(name.to_string())
            }
            _ => {
                return Err(ManifestError::new(
                    field,
                    format!("{item} is not one of escrow, exact, mpp (each once)"),
                ))
            }
        }
    }
    Ok(schemes)
}

fn endpoint_value(endpoint: &Endpoint) -> Value {
    let mut object = json!({
        "method": endpoint.method,
        "path": endpoint.path,
        "description": endpoint.description,
    });
    match endpoint.access {
        Access::Paid(price) => {
            object["access"] = json!("paid");
            object["price"] = json!(price.to_string());
        }
        Access::Free => object["access"] = json!("free"),
        Access::SignIn => object["access"] = json!("sign-in"),
    }
    if let Some(example) = &endpoint.example_path {
        object["examplePath"] = json!(example);
    }
    object
}
