//! How a listing is shown: a search result, the full service, and the x402
//! bazaar discovery items of its paid endpoints.

use paytab_protocol::manifest::fields::Naming;
use paytab_protocol::manifest::{Access, Endpoint, Manifest};
use serde_json::{json, Value};

use crate::store::ListingRecord;

/// The manifest a stored listing was published with.
pub fn manifest(listing: &ListingRecord) -> Option<Manifest> {
    Manifest::from_value(&listing.publication["manifest"], Naming::Camel).ok()
}

/// A search result.
pub fn summary(listing: &ListingRecord, score: f64) -> Value {
    let service_url = listing.publication["manifest"]["serviceUrl"].clone();
    json!({
        "name": listing.name,
        "title": listing.title,
        "description": listing.description,
        "category": listing.category,
        "serviceUrl": service_url,
        "network": listing.network,
        "asset": listing.asset,
        "lowestPrice": listing.lowest_price.map(|price| price.to_string()),
        "status": listing.status.as_str(),
        "statusReason": listing.status_reason,
        "score": (score * 1000.0).round() / 1000.0,
    })
}

/// Everything about a listing: its manifest, its health and its signature.
pub fn detail(listing: &ListingRecord) -> Value {
    let manifest = &listing.publication["manifest"];
    let endpoints: Vec<Value> = manifest["endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .zip(
            listing
                .probes
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat(None)),
        )
        .map(|(mut endpoint, probe)| {
            if let Some(probe) = probe {
                endpoint["probe"] = json!({"ok": probe["ok"], "failure": probe["failure"]});
            }
            endpoint
        })
        .collect();
    json!({
        "name": listing.name,
        "title": listing.title,
        "description": listing.description,
        "useCase": manifest["useCase"],
        "category": listing.category,
        "serviceUrl": manifest["serviceUrl"],
        "sandboxServiceUrl": manifest["sandboxServiceUrl"],
        "version": manifest["version"],
        "network": listing.network,
        "asset": listing.asset,
        "decimals": manifest["decimals"],
        "payTo": manifest["payTo"],
        "schemes": manifest["schemes"],
        "facilitator": manifest["facilitator"],
        "endpoints": endpoints,
        "usage": manifest["usage"],
        "health": {
            "status": listing.status.as_str(),
            "reason": listing.status_reason,
            "probedAt": listing.probed_at,
            "failures": listing.failures,
        },
        "publication": {
            "signer": listing.signer,
            "signature": listing.publication["signature"],
            "publishedAt": listing.published_at,
        },
        "listedAt": listing.listed_at,
    })
}

/// What a discovery item says of the service and endpoint it is.
pub fn endpoint_metadata(manifest: &Manifest, endpoint: &Endpoint, status: Option<&str>) -> Value {
    let mut metadata = json!({
        "service": manifest.name,
        "title": manifest.title,
        "description": endpoint.description,
        "category": manifest.category.as_str(),
        "method": endpoint.method,
        "path": endpoint.path,
    });
    if let Some(status) = status {
        metadata["status"] = json!(status);
    }
    metadata
}

/// Its paid endpoints as bazaar discovery items (`/discovery/search`).
pub fn bazaar_items(listing: &ListingRecord) -> Vec<Value> {
    let Some(manifest) = manifest(listing) else {
        return Vec::new();
    };
    let probes = listing.probes.as_array().cloned().unwrap_or_default();
    manifest
        .endpoints
        .iter()
        .zip(probes)
        .filter(|(endpoint, probe)| {
            matches!(endpoint.access, Access::Paid(_)) && probe["accepts"].is_array()
        })
        .map(|(endpoint, probe)| {
            json!({
                "resource": format!("{}{}", manifest.service_url, endpoint.probe_path()),
                "type": "http",
                "x402Version": probe["x402Version"],
                "accepts": probe["accepts"],
                "lastUpdated": listing.probed_at,
                "metadata": endpoint_metadata(&manifest, endpoint, Some(listing.status.as_str())),
            })
        })
        .collect()
}
