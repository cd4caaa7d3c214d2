//! Discovery: the paid resources registered with this facilitator.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paytab_protocol::clock::unix_now;
use serde::Deserialize;

use super::{bad_body, error, AppState};
use crate::discovery::{self, Registration};

/// Query of `GET /discovery/resources`.
#[derive(Debug, Deserialize)]
pub(super) struct ResourceQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(super) async fn list_resources(
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

pub(super) async fn register_resource(
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
