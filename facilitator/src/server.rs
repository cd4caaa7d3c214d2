//! The HTTP API: x402 `/verify`, `/settle`, `/supported`, discovery, keys,
//! health and metrics, with request ids, size limits, timeouts and JSON errors.
//!
//! Who may call what is [`crate::access`]'s: `/verify` and `/settle` pass an
//! access check first (the caller is then known to the handler), claims and
//! metrics are the operator's. A refusal of the payment is an x402 answer
//! (200); a failure of the facilitator is 503 (nothing was done) or 504 (the
//! outcome is unknown), with the same x402 body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use paytab_protocol::clock::unix_now;
use serde::Deserialize;
use serde_json::{json, Value};
use solana_pubkey::Pubkey;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::access::{Access, Caller, Denied};
use crate::claimer::Claimer;
use crate::discovery::{self, Registration};
use crate::escrow::{self, EscrowScheme};
use crate::exact::scheme::{self as exact, ExactScheme};
use crate::health::Readiness;
use crate::metrics::{self, Outcomes, METRICS};
use crate::proofs::ProofIssuer;
use crate::rejection::{Fault, Rejection};
use crate::store::Store;
use crate::x402::{
    v1_network_name, FacilitatorRequest, PaymentRequest, SettleResponse, SupportedKind,
    VerifyResponse, Version,
};

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

/// `POST /claims`: one claim round now (after any round in progress).
async fn claim_round(State(state): State<Arc<AppState>>) -> Response {
    match state.claimer.run_once().await {
        Ok(round) => {
            metrics::record_claims(&round);
            Json(json!({
                "confirmed": round.confirmed,
                "failed": round.failed,
                "expired": round.expired,
                "paid": round.paid.to_string(),
                "withoutTokenAccount": round.without_token_account,
                "belowMinimum": round.below_minimum,
            }))
            .into_response()
        }
        Err(claim_error) => {
            tracing::warn!(error = %claim_error, "claim round on request failed");
            error(
                StatusCode::BAD_GATEWAY,
                "claim_failed",
                "the claim round could not finish; nothing was lost, try again",
            )
        }
    }
}

/// Most unclaimed allowances `GET /claims/{provider}` looks through.
const OWED_SCAN_LIMIT: u32 = 10_000;

/// `GET /claims/{provider}`: what accepted receipts owe `provider` and no
/// claim has paid yet.
async fn owed_to(State(state): State<Arc<AppState>>, Path(provider): Path<String>) -> Response {
    let Ok(provider) = provider.parse::<Pubkey>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the provider is not a base58 address",
        );
    };
    match state.store.unclaimed(OWED_SCAN_LIMIT).await {
        Ok(entries) => {
            let owed: Vec<_> = entries
                .iter()
                .filter(|entry| entry.provider == provider)
                .collect();
            let unclaimed = owed.iter().fold(0u64, |total, entry| {
                total.saturating_add(entry.accepted.saturating_sub(entry.claimed))
            });
            let mut missing = Vec::new();
            for mint in owed
                .iter()
                .map(|entry| entry.mint)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let has = match state.claimer.token_program(&mint).await {
                    Ok(program) => {
                        state
                            .claimer
                            .has_token_account(provider, mint, program)
                            .await
                    }
                    Err(error) => Err(error),
                };
                match has {
                    Ok(true) => {}
                    Ok(false) => missing.push(mint.to_string()),
                    Err(claim_error) => {
                        tracing::warn!(error = %claim_error, "token account lookup")
                    }
                }
            }
            Json(json!({
                "provider": provider.to_string(),
                "unclaimed": unclaimed.to_string(),
                "allowances": owed.len(),
                "missingTokenAccounts": missing,
            }))
            .into_response()
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, "reading unclaimed receipts");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "try again",
            )
        }
    }
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

/// Which network name to echo: the v1 name for v1 requests where one exists.
fn echoed_network(state: &AppState, version: Version) -> String {
    match version {
        Version::V1 => v1_network_name(&state.network)
            .map(str::to_string)
            .unwrap_or_else(|| state.network.clone()),
        Version::V2 => state.network.clone(),
    }
}

/// Why a request never reached a scheme.
enum Unparsed {
    /// The body is not a facilitator request at all: an HTTP error.
    Body(Response),
    /// The body is one, but refused: an x402 answer.
    Refused(Rejection),
}

fn parse_request(
    state: &AppState,
    caller: &Caller,
    body: Result<Json<FacilitatorRequest>, JsonRejection>,
) -> Result<PaymentRequest, Box<Unparsed>> {
    let Json(body) = body.map_err(|rejection| Box::new(Unparsed::Body(bad_body(rejection))))?;
    let request =
        PaymentRequest::parse(body).map_err(|rejection| Box::new(Unparsed::Refused(rejection)))?;
    let requirement = &request.requirement;
    if requirement.network != state.network {
        return Err(Box::new(Unparsed::Refused(Rejection::new(
            "invalid_network",
            format!(
                "this facilitator settles on {}, not {}",
                state.network, requirement.network
            ),
        ))));
    }
    if requirement.scheme == exact::SCHEME
        && !state.access.pays_fees_for(caller, &requirement.pay_to)
    {
        return Err(Box::new(Unparsed::Body(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this facilitator pays transaction fees for its clients and listed payees only",
        ))));
    }
    if requirement.amount < state.min_amount {
        return Err(Box::new(Unparsed::Refused(Rejection::new(
            "invalid_payment_requirements",
            format!(
                "this facilitator settles payments of at least {} raw units",
                state.min_amount
            ),
        ))));
    }
    Ok(request)
}

/// The status an x402 answer goes out with: 200 for a judgement of the
/// payment, 503 or 504 when the facilitator failed.
fn answer_status(rejection: Option<&Rejection>) -> StatusCode {
    match rejection.and_then(|rejection| rejection.fault) {
        None => StatusCode::OK,
        Some(Fault::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        Some(Fault::OutcomeUnknown) => StatusCode::GATEWAY_TIMEOUT,
    }
}

fn count(outcomes: &Outcomes, ok: bool) {
    if ok {
        outcomes.ok.add(1);
    } else {
        outcomes.refused.add(1);
    }
}

async fn verify(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<FacilitatorRequest>, JsonRejection>,
) -> Response {
    let request = match parse_request(&state, &caller, body) {
        Ok(request) => request,
        Err(unparsed) => match *unparsed {
            Unparsed::Body(response) => return response,
            Unparsed::Refused(rejection) => {
                return Json(VerifyResponse::refused(&rejection)).into_response()
            }
        },
    };
    let now = unix_now();
    let outcome = match request.requirement.scheme.as_str() {
        exact::SCHEME => {
            let outcome = state.exact.verify(&request).await;
            count(&METRICS.verify_exact, outcome.is_ok());
            outcome.map(|verified| verified.transfer.payer)
        }
        escrow::SCHEME => {
            let outcome = state.escrow.verify(&request, now).await;
            count(&METRICS.verify_escrow, outcome.is_ok());
            outcome.map(|verified| verified.payer)
        }
        other => Err(unsupported(other)),
    };
    match outcome {
        Ok(payer) => Json(valid(payer.to_string(), None)).into_response(),
        Err(rejection) => {
            note_stale(&rejection);
            (
                answer_status(Some(&rejection)),
                Json(VerifyResponse::refused(&rejection)),
            )
                .into_response()
        }
    }
}

fn valid(payer: String, extensions: Option<Value>) -> VerifyResponse {
    VerifyResponse {
        is_valid: true,
        invalid_reason: None,
        invalid_message: None,
        payer: Some(payer),
        extensions,
    }
}

fn unsupported(scheme: &str) -> Rejection {
    Rejection::new(
        "unsupported_scheme",
        format!("scheme {scheme:?} is not supported (exact, escrow)"),
    )
}

fn note_stale(rejection: &Rejection) {
    if rejection.reason == "invalid_escrow_payload_stale_cumulative" {
        METRICS.stale_receipts.add(1);
    }
}

async fn settle(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<FacilitatorRequest>, JsonRejection>,
) -> Response {
    let started = Instant::now();
    let request = match parse_request(&state, &caller, body) {
        Ok(request) => request,
        Err(unparsed) => match *unparsed {
            Unparsed::Body(response) => return response,
            Unparsed::Refused(rejection) => {
                return Json(SettleResponse::refused(&rejection, state.network.clone()))
                    .into_response()
            }
        },
    };
    let network = echoed_network(&state, request.payment.version);
    let now = unix_now();
    let outcome = match request.requirement.scheme.as_str() {
        exact::SCHEME => {
            let outcome = state.exact.settle(&request, now).await;
            count(&METRICS.settle_exact, outcome.is_ok());
            outcome.map(|settled| {
                SettleResponse::settled(
                    settled.payer,
                    settled.signature.to_string(),
                    network.clone(),
                    settled.amount,
                    json!({"paytab": {"proof": settled.proof}}),
                )
            })
        }
        escrow::SCHEME => {
            let outcome = state.escrow.settle(&request, now).await;
            count(&METRICS.settle_escrow, outcome.is_ok());
            outcome.map(|settled| {
                SettleResponse::settled(
                    settled.payer,
                    String::new(),
                    network.clone(),
                    settled.amount,
                    EscrowScheme::extensions(&settled),
                )
            })
        }
        other => Err(unsupported(other)),
    };
    METRICS
        .settle_latency
        .observe(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    match outcome {
        Ok(settled) => Json(settled).into_response(),
        Err(rejection) => {
            note_stale(&rejection);
            (
                answer_status(Some(&rejection)),
                Json(SettleResponse::refused(&rejection, network)),
            )
                .into_response()
        }
    }
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

/// Query of `GET /discovery/resources`.
#[derive(Debug, Deserialize)]
struct ResourceQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_resources(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ResourceQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "type must be text; limit and offset non-negative integers",
        );
    };
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let offset = query.offset.unwrap_or(0);
    match discovery::list(&state.store, query.kind.as_deref(), limit, offset).await {
        Ok(page) => Json(page).into_response(),
        Err(cause) => {
            tracing::error!(%cause, "listing resources failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "could not list resources; try again",
            )
        }
    }
}

async fn register_resource(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<Registration>, JsonRejection>,
) -> Response {
    let Some(token) = state.registration_token.as_deref() else {
        return error(
            StatusCode::FORBIDDEN,
            "registration_disabled",
            "this facilitator does not accept resource registrations",
        );
    };
    let presented = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented != Some(token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid registration bearer token is required",
        );
    }
    let Json(registration) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    match discovery::register(&state.store, registration, unix_now()).await {
        Ok(record) => (StatusCode::CREATED, Json(discovery::item(&record))).into_response(),
        Err(discovery::RegisterError::Invalid(message)) => {
            error(StatusCode::BAD_REQUEST, "invalid_resource", message)
        }
        Err(discovery::RegisterError::Store(cause)) => {
            tracing::error!(%cause, "registering a resource failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "could not register the resource; try again",
            )
        }
    }
}
