//! `POST /verify` and `POST /settle`: parse, check the caller may have its
//! fees paid and the amount is not below the minimum, run the scheme, and
//! answer: 200 for a judgement of the payment, 503 or 504 for a failure of
//! the facilitator (with the same x402 body).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use paytab_protocol::clock::unix_now;
use serde_json::{json, Value};

use super::{bad_body, error, AppState};
use crate::access::Caller;
use crate::escrow::{self, EscrowScheme};
use crate::exact::pushed::is_pushed;
use crate::exact::{charge, scheme as exact};
use crate::metrics::{Outcomes, METRICS};
use crate::rejection::{Fault, Rejection};
use crate::x402::{
    v1_network_name, FacilitatorRequest, PaymentRequest, SettleResponse, VerifyResponse, Version,
};

/// Which network name to echo: the v1 name for v1 requests where one exists.
pub(super) fn echoed_network(state: &AppState, version: Version) -> String {
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
    let facilitator_pays_fees = requirement.scheme == exact::SCHEME
        || (requirement.scheme == charge::SCHEME
            && requirement
                .extra
                .get("feePayer")
                .is_some_and(|key| !key.is_null()));
    if facilitator_pays_fees && !state.access.pays_fees_for(caller, &requirement.pay_to) {
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

pub(super) async fn verify(
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
        charge::SCHEME if is_pushed(&request) => {
            let outcome = state.exact.verify_pushed(&request).await;
            count(&METRICS.verify_exact, outcome.is_ok());
            outcome.map(|transfer| transfer.payer)
        }
        charge::SCHEME => {
            let outcome = state.exact.verify(&request).await;
            count(&METRICS.verify_exact, outcome.is_ok());
            outcome.map(|verified| verified.transfer.payer)
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
        format!(
            "scheme {scheme:?} is not supported ({}, {}, {})",
            exact::SCHEME,
            escrow::SCHEME,
            charge::SCHEME
        ),
    )
}

fn note_stale(rejection: &Rejection) {
    if rejection.reason == "invalid_escrow_payload_stale_cumulative" {
        METRICS.stale_receipts.add(1);
    }
}

pub(super) async fn settle(
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
    let transferred = |settled: exact::ExactSettled| {
        SettleResponse::settled(
            settled.payer,
            settled.signature.to_string(),
            network.clone(),
            settled.amount,
            json!({"paytab": {"proof": settled.proof}}),
        )
    };
    let outcome = match request.requirement.scheme.as_str() {
        exact::SCHEME => {
            let outcome = state.exact.settle(&request, now).await;
            count(&METRICS.settle_exact, outcome.is_ok());
            outcome.map(transferred)
        }
        charge::SCHEME if is_pushed(&request) => {
            let outcome = state.exact.settle_pushed(&request, now).await;
            count(&METRICS.settle_exact, outcome.is_ok());
            outcome.map(transferred)
        }
        charge::SCHEME => {
            let outcome = state.exact.settle(&request, now).await;
            count(&METRICS.settle_exact, outcome.is_ok());
            outcome.map(transferred)
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
