//! The sample API behind the tests' gateways, which records every request it
//! serves, and a raw HTTP client that sends a target exactly as written.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::SLOW;

/// What the upstream served.
pub type Served = Arc<Mutex<Vec<String>>>;

/// The sample API: quotes, a slow route, a failing route, an echo, a health
/// check, and any other path answered with itself; every request's path and
/// query is recorded in `served`.
pub async fn sample_upstream(served: Served) -> SocketAddr {
    async fn quote(Path(symbol): Path<String>, headers: HeaderMap) -> impl IntoResponse {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        (
            [("x-upstream", "quotes")],
            Json(json!({
                "symbol": symbol,
                "price": 42,
                "apiKey": header("x-api-key"),
                "sawPayment": header("payment-signature").is_some() || header("paytab-proof").is_some(),
            })),
        )
    }
    async fn account(headers: HeaderMap) -> impl IntoResponse {
        let signed_in = headers
            .get("paytab-signed-in")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        Json(json!({"signedIn": signed_in}))
    }
    async fn record(
        State(served): State<Served>,
        request: Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str())
            .to_string();
        served.lock().unwrap().push(target);
        next.run(request).await
    }
    async fn slow(Path(id): Path<String>) -> impl IntoResponse {
        tokio::time::sleep(SLOW).await;
        Json(json!({"slow": id}))
    }
    async fn anything(request: Request) -> impl IntoResponse {
        Json(json!({"path": request.uri().path()}))
    }
    let app = Router::new()
        .route("/v1/quotes/{symbol}", get(quote))
        .route("/v1/slow/{id}", get(slow).post(slow))
        .route("/v1/account", get(account))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream broke") }),
        )
        .route("/echo", post(|body: Body| async move { body }))
        .route("/health", get(|| async { "ok" }))
        .fallback(anything)
        .layer(axum::middleware::from_fn_with_state(served, record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    address
}

/// Sends `GET target` to `base` exactly as written (a URL library would
/// normalise dot segments first) and returns the status and body.
pub async fn raw_get(base: &str, target: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    (status, body)
}
