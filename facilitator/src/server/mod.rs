//! The HTTP API: x402 `/verify`, `/settle`, `/supported`, discovery, keys,
//! health and metrics, with request ids, size limits, timeouts and JSON errors.
//!
//! Who may call what is [`crate::access`]'s: `/verify` and `/settle` pass an
//! access check first (the caller is then known to the handler), claims and
//! metrics are the operator's. A refusal of the payment is an x402 answer
//! (200); a failure of the facilitator is 503 (nothing was done) or 504 (the
//! outcome is unknown), with the same x402 body.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

mod catalog_routes;
mod discovery_routes;
mod operator;
mod payments;

use crate::access::{Access, Denied};
use crate::catalog::Catalog;
use crate::claimer::Claimer;
use crate::escrow::{self, EscrowScheme};
use crate::exact::charge;
use crate::exact::scheme::{self as exact, ExactScheme};
use crate::health::Readiness;
use crate::metrics;
use crate::proofs::ProofIssuer;
use crate::store::Store;
use crate::x402::{SupportedKind, Version};
use discovery_routes::{list_resources, register_resource};
use operator::{claim_round, owed_to};
use payments::{echoed_network, settle, verify};

/// What every handler shares.
pub struct AppState {
    /// CAIP-2 id of the chain served.
    pub network: String,
    /// The `exact` scheme.
    pub exact: ExactScheme,
    /// The `escrow` scheme.
    pub escrow: EscrowScheme,
    /// Proof keys.
    pub proofs: Arc<ProofIssuer>,
    /// The database.
    pub store: Store,
    /// Bearer token for resource registration.
    pub registration_token: Option<String>,
    /// Claims accepted receipts (shared with the background claimer).
    pub claimer: Claimer,
    /// Who may call what.
    pub access: Access,
    /// Smallest payment verified or settled, raw units.
    pub min_amount: u64,
    /// Whether the chain and the store can be used.
    pub readiness: Readiness,
    /// The service catalog, if it runs.
    pub catalog: Option<Arc<Catalog>>,
}

/// The router with every route and layer.
pub fn router(state: Arc<AppState>, max_body_bytes: usize, timeout: Duration) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let payments = Router::new()
        .route("/verify", post(verify))
        .route("/settle", post(settle))
        .route_layer(middleware::from_fn_with_state(state.clone(), known_caller));
    let operator = Router::new()
        .route("/claims", post(claim_round))
        .route("/claims/{provider}", get(owed_to))
        .route("/metrics", get(metrics_text))
        .route("/catalog/probe", post(catalog_routes::probe_now))
        .route_layer(middleware::from_fn_with_state(state.clone(), operator_only));
    Router::new()
        .merge(payments)
        .merge(operator)
        .route("/supported", get(supported))
        .route("/keys", get(keys))
        .route(
            "/discovery/resources",
            get(list_resources).post(register_resource),
        )
        .route("/discovery/search", get(catalog_routes::discovery_search))
        .route("/catalog/publish", post(catalog_routes::publish))
        .route("/catalog/search", get(catalog_routes::search))
        .route("/catalog/services/{name}", get(catalog_routes::show))
        .route("/healthz", get(ready))
        .route("/readyz", get(ready))
        .route("/livez", get(|| async { Json(json!({"status": "ok"})) }))
        .fallback(not_found)
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Lets `/verify` and `/settle` through for a caller the access rules know.
async fn known_caller(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = paytab_protocol::server::peer(&request);
    match state.access.caller(request.headers(), peer) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(denied) => denied_response(&denied),
    }
}

/// Lets only the operator through.
async fn operator_only(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match state.access.operator(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(denied) => denied_response(&denied),
    }
}

fn denied_response(denied: &Denied) -> Response {
    let (status, code, message) = denied.parts();
    error(status, code, message)
}

/// A JSON error body `{error, message}` with a status.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

fn bad_body(rejection: JsonRejection) -> Response {
    let status = match rejection {
        JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, "invalid_request", rejection.body_text())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// `/healthz`, `/readyz`: 200 when the chain and the store can be used, 503 naming what fails.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.readiness.check().await {
        Ok(report) => Json(report).into_response(),
        Err(report) => (StatusCode::SERVICE_UNAVAILABLE, Json(report)).into_response(),
    }
}

async fn metrics_text() -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics::render(),
    )
        .into_response()
}

async fn supported(State(state): State<Arc<AppState>>) -> Response {
    let fee_payer = state.exact.fee_payer().to_string();
    let delegate = state.escrow.delegate().to_string();
    let mut kinds = Vec::new();
    for version in [Version::V2, Version::V1] {
        let network = echoed_network(&state, version);
        let version = version.number();
        kinds.push(SupportedKind {
            x402_version: version,
            scheme: exact::SCHEME.into(),
            network: network.clone(),
            extra: Some(json!({"feePayer": fee_payer})),
        });
        kinds.push(SupportedKind {
            x402_version: version,
            scheme: escrow::SCHEME.into(),
            network,
            extra: Some(json!({
                "delegate": delegate,
                "programId": paytab::ID.to_string(),
                "feePayer": fee_payer,
            })),
        });
    }
    // paytab's own: the gateway settles MPP Solana charges through it.
    kinds.push(SupportedKind {
        x402_version: Version::V2.number(),
        scheme: charge::SCHEME.into(),
        network: echoed_network(&state, Version::V2),
        extra: Some(json!({"feePayer": fee_payer})),
    });
    Json(json!({
        "kinds": kinds,
        "extensions": [],
        "signers": {"solana:*": [fee_payer]},
    }))
    .into_response()
}

async fn keys(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({"keys": state.proofs.published()})).into_response()
}
