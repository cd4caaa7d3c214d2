//! The catalog's HTTP API: publish, search, show, probe now; and the x402
//! bazaar's `GET /discovery/search` over the same listings.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bad_body, error, AppState};
use crate::catalog::search::{words, SearchParams};
use crate::catalog::views;
use crate::store::ListingQuery;

/// The answer when the operator turned the catalog off.
fn disabled() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "catalog_disabled",
        "this facilitator runs no catalog",
    )
}

fn unavailable(cause: impl std::fmt::Display) -> Response {
    tracing::error!(%cause, "catalog store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the catalog could not be read or written; try again",
    )
}

/// `POST /catalog/publish`: a signed publication, probed, then listed.
pub(super) async fn publish(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(catalog) = state.catalog.clone() else {
        return disabled();
    };
    let peer = paytab_protocol::server::peer(&request).map(|address| address.ip());
    let body: Result<Json<Value>, JsonRejection> = Json::from_request(request, &()).await;
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    match catalog.publish(&body, peer).await {
        Ok(listing) => (StatusCode::CREATED, Json(views::detail(&listing))).into_response(),
        Err(refusal) => {
            let (status, code) = refusal.parts();
            if status.is_server_error() {
                tracing::error!(%refusal, "publication failed");
            }
            let mut body = json!({"error": code, "message": refusal.to_string()});
            if let (Some(target), Some(details)) =
                (body.as_object_mut(), refusal.details().as_object())
            {
                target.extend(details.clone());
            }
            (status, Json(body)).into_response()
        }
    }
}

/// `GET /catalog/search?q=&category=&network=&asset=&maxPrice=&limit=&offset=`.
pub(super) async fn search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let Some(catalog) = state.catalog.as_ref() else {
        return disabled();
    };
    let Ok(Query(params)) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "maxPrice, limit and offset must be non-negative integers",
        );
    };
    let query = match params.query() {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_request", message),
    };
    match catalog.store().search_listings(&query).await {
        Ok(results) => Json(json!({
            "query": {"words": query.words, "category": query.category, "network": query.network,
                      "asset": query.asset, "maxPrice": query.max_price.map(|p| p.to_string())},
            "results": results.iter().map(|(listing, score)| views::summary(listing, *score)).collect::<Vec<_>>(),
            "limit": query.limit,
            "offset": query.offset,
        }))
        .into_response(),
        Err(cause) => unavailable(cause),
    }
}

/// `GET /catalog/services/{name}`: one listing in full.
pub(super) async fn show(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(catalog) = state.catalog.as_ref() else {
        return disabled();
    };
    match catalog.store().listing(&name).await {
        Ok(Some(listing)) => Json(views::detail(&listing)).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_listed",
            format!("no service named {name:?} is listed"),
        ),
        Err(cause) => unavailable(cause),
    }
}

/// `POST /catalog/probe` (operator): probe every listing now.
pub(super) async fn probe_now(State(state): State<Arc<AppState>>) -> Response {
    let Some(catalog) = state.catalog.as_ref() else {
        return disabled();
    };
    match catalog.probe_all().await {
        Ok(round) => Json(json!(round)).into_response(),
        Err(cause) => unavailable(cause),
    }
}

/// The query of the bazaar's `GET /discovery/search`.
#[derive(Debug, Deserialize)]
pub(super) struct DiscoverySearch {
    query: Option<String>,
    network: Option<String>,
    limit: Option<u32>,
}

/// `GET /discovery/search?query=&network=&limit=`: the x402 bazaar search,
/// answered from the catalog (each paid endpoint of each match).
pub(super) async fn discovery_search(
    State(state): State<Arc<AppState>>,
    params: Result<Query<DiscoverySearch>, QueryRejection>,
) -> Response {
    let Some(catalog) = state.catalog.as_ref() else {
        return disabled();
    };
    let Ok(Query(params)) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "limit must be a non-negative integer",
        );
    };
    let Some(text) = params.query.filter(|text| !text.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "query is required",
        );
    };
    let limit = params.limit.unwrap_or(20).clamp(1, 100);
    let query = ListingQuery {
        words: words(&text),
        network: params
            .network
            .as_deref()
            .map(paytab_protocol::networks::normalise_network),
        limit,
        ..ListingQuery::default()
    };
    match catalog.store().search_listings(&query).await {
        Ok(results) => {
            let resources: Vec<Value> = results
                .iter()
                .flat_map(|(listing, _)| views::bazaar_items(listing))
                .take(limit as usize)
                .collect();
            Json(json!({
                "x402Version": 2,
                "resources": resources,
                "partialResults": false,
                "pagination": {"limit": limit, "cursor": null},
            }))
            .into_response()
        }
        Err(cause) => unavailable(cause),
    }
}
