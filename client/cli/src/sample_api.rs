//! A small API to put behind the gateway: price quotes (cheap), a report
//! (dear), who signed in on `/v1/account`, and a free `/health`.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Serves the sample API on a free local port and returns its address.
pub async fn serve() -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/v1/quotes/{symbol}", get(quote))
        .route("/v1/report", get(report))
        .route("/v1/account", get(account))
        .route("/health", get(|| async { Json(json!({"ok": true})) }));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("sample API stopped: {error}");
        }
    });
    Ok(address)
}

async fn quote(Path(symbol): Path<String>) -> Json<Value> {
    let price = match symbol.to_ascii_uppercase().as_str() {
        "SOL" => "187.42",
        "BTC" => "97310.00",
        "ETH" => "3521.18",
        _ => "1.00",
    };
    Json(json!({"symbol": symbol.to_ascii_uppercase(), "price": price, "currency": "USD"}))
}

async fn report() -> Json<Value> {
    Json(json!({"report": "quarterly outlook", "pages": 42}))
}

async fn account(headers: HeaderMap) -> Json<Value> {
    let signed_in = headers
        .get("paytab-signed-in")
        .and_then(|value| value.to_str().ok());
    Json(json!({"signedIn": signed_in}))
}
