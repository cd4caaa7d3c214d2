//! The discovery list (x402 "bazaar"): paid resources that gateways
//! registered, served by `GET /discovery/resources`.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::{ResourceRecord, Store, StoreError};

/// Longest resource URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Most payment options per resource.
const MAX_ACCEPTS: usize = 16;

/// Body of `POST /discovery/resources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// The resource URL (http or https).
    pub resource: String,
    /// Its type; `http` when absent.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The x402 version of `accepts`.
    pub x402_version: u8,
    /// The payment requirements it accepts.
    pub accepts: Vec<Value>,
    /// Free-form description (name, category, usage notes).
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The registration is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates and stores a registration.
pub async fn register(
    store: &Store,
    registration: Registration,
    now: i64,
) -> Result<ResourceRecord, RegisterError> {
    let url = registration.resource.trim();
    if url.len() > MAX_URL_LEN || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(RegisterError::Invalid(
            "resource must be an http(s) URL of at most 2048 characters".into(),
        ));
    }
    if !(1..=2).contains(&registration.x402_version) {
        return Err(RegisterError::Invalid("x402Version must be 1 or 2".into()));
    }
    if registration.accepts.is_empty() || registration.accepts.len() > MAX_ACCEPTS {
        return Err(RegisterError::Invalid(
            "accepts must list 1 to 16 payment requirements".into(),
        ));
    }
    if registration
        .accepts
        .iter()
        .any(|accept| !accept.is_object())
    {
        return Err(RegisterError::Invalid(
            "every entry of accepts must be an object".into(),
        ));
    }
    let metadata = match registration.metadata {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(map)) => Value::Object(map),
        Some(_) => return Err(RegisterError::Invalid("metadata must be an object".into())),
    };
    let record = ResourceRecord {
        resource: url.to_string(),
        kind: registration.kind.unwrap_or_else(|| "http".into()),
        x402_version: registration.x402_version,
        accepts: Value::Array(registration.accepts),
        metadata,
        last_updated: now,
    };
    store.upsert_resource(&record).await?;
    Ok(record)
}

/// One item as the list shows it.
pub fn item(record: &ResourceRecord) -> Value {
    json!({
        "resource": record.resource,
        "type": record.kind,
        "x402Version": record.x402_version,
        "accepts": record.accepts,
        "lastUpdated": record.last_updated,
        "metadata": record.metadata,
    })
}

/// One page of the list.
pub async fn list(
    store: &Store,
    kind: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Value, StoreError> {
    let (records, total) = store.resources(kind, limit, offset).await?;
    Ok(json!({
        "x402Version": 2,
        "items": records.iter().map(item).collect::<Vec<_>>(),
        "pagination": {"limit": limit, "offset": offset, "total": total},
    }))
}
