//! A standard x402 facilitator, as far as the gateway can tell: it serves
//! `exact` only, has no `GET /keys` (404) and returns no proofs. It relays
//! `/verify` and `/settle` to a paytab facilitator and drops everything
//! paytab adds (`extensions`), so the gateway must work without them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use tokio::net::TcpListener;

/// Where the shim relays to.
#[derive(Clone)]
struct Relay {
    http: reqwest::Client,
    target: String,
}

/// Starts the shim in front of the paytab facilitator at `facilitator`; returns its URL.
pub async fn start(facilitator: &str) -> String {
    let relay = Relay {
        http: reqwest::Client::new(),
        target: facilitator.to_string(),
    };
    let app = Router::new()
        .route("/supported", get(supported))
        .route("/verify", post(forward))
        .route("/settle", post(forward))
        .with_state(relay);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

/// The paytab facilitator's kinds, `exact` only.
async fn supported(State(relay): State<Relay>) -> Json<Value> {
    let mut answer: Value = relay
        .http
        .get(format!("{}/supported", relay.target))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(kinds) = answer["kinds"].as_array_mut() {
        kinds.retain(|kind| kind["scheme"] == "exact");
    }
    Json(answer)
}

/// Relays a payment call, answering without `extensions` (no proof).
async fn forward(
    State(relay): State<Relay>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = relay
        .http
        .post(format!("{}{}", relay.target, uri.path()))
        .header("content-type", "application/json")
        .body(body);
    if let Some(authorization) = headers.get("authorization") {
        request = request.header("authorization", authorization.as_bytes());
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut body: Value = answer.json().await.unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.remove("extensions");
    }
    (status, Json(body)).into_response()
}
