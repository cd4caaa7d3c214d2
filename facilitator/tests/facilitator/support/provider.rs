//! A provider's API as a catalog probe sees it: each service lives under
//! `/{service}/…` and answers with the x402 terms the test set for it (a paid
//! 402 at its price, a sign-in 402, or a free 200), which a test can change
//! to make a listing go stale. Every request is counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab_protocol::manifest::fields::Naming;
use paytab_protocol::manifest::{Manifest, Publication};
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

/// What one service's paid endpoints ask.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Raw units per call.
    pub price: u64,
    /// Who is paid.
    pub pay_to: Pubkey,
    /// The mint.
    pub asset: Pubkey,
    /// CAIP-2 network.
    pub network: String,
}

#[derive(Default)]
struct Shared {
    services: Mutex<HashMap<String, Asked>>,
    requests: AtomicUsize,
}

/// The provider's server.
#[derive(Clone)]
pub struct FakeProvider {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{service}/{*rest}", any(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { address, shared }
    }

    /// Makes `service`'s paid endpoints ask `asked`.
    pub fn set(&self, service: &str, asked: Asked) {
        self.shared
            .services
            .lock()
            .unwrap()
            .insert(service.into(), asked);
    }

    /// The base URL of `service`.
    pub fn url(&self, service: &str) -> String {
        format!("http://{}/{service}", self.address)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

/// `/{service}/health` is free, `/{service}/account` signs in, anything else is paid.
async fn answer(
    State(shared): State<Arc<Shared>>,
    Path((service, rest)): Path<(String, String)>,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let Some(asked) = shared.services.lock().unwrap().get(&service).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let required = match rest.as_str() {
        "health" => return (StatusCode::OK, "{}").into_response(),
        "account" => json!({
            "x402Version": 2,
            "accepts": [],
            "extensions": {"sign-in-with-x": {"info": {}, "supportedChains": []}},
        }),
        _ => {
            let accept = |scheme: &str| {
                json!({
                    "scheme": scheme, "network": asked.network, "amount": asked.price.to_string(),
                    "asset": asked.asset.to_string(), "payTo": asked.pay_to.to_string(),
                    "maxTimeoutSeconds": 60, "extra": {},
                })
            };
            json!({"x402Version": 2, "accepts": [accept("paytab-escrow"), accept("exact")]})
        }
    };
    (
        StatusCode::PAYMENT_REQUIRED,
        [("payment-required", STANDARD.encode(required.to_string()))],
        "{}",
    )
        .into_response()
}

/// A manifest for `service` at `service_url`, paid to `pay_to`: a paid
/// quote endpoint at `price`, a sign-in and a free one.
pub fn manifest_json(service: &str, service_url: &str, asked: &Asked) -> Value {
    json!({
        "name": service,
        "title": format!("{service} quotes"),
        "description": "Price quotes for crypto assets by symbol, refreshed every second from several venues, paid per call.",
        "category": "finance",
        "serviceUrl": service_url,
        "version": "1.0.0",
        "network": asked.network,
        "asset": asked.asset.to_string(),
        "decimals": 6,
        "payTo": asked.pay_to.to_string(),
        "schemes": ["escrow", "exact"],
        "facilitator": "http://127.0.0.1:4020",
        "endpoints": [
            {"method": "GET", "path": "/v1/quotes/:symbol", "description": "A price quote",
             "access": "paid", "price": asked.price.to_string(), "examplePath": "/v1/quotes/SOL"},
            {"method": "GET", "path": "/account", "description": "Who you are", "access": "sign-in"},
            {"method": "GET", "path": "/health", "description": "Liveness", "access": "free"},
        ],
        "usage": "Symbols are upper case.",
    })
}

/// `manifest` published now, signed by `key`.
pub fn publication(manifest: &Value, key: &Keypair, published_at: i64) -> Value {
    let manifest = Manifest::from_value(manifest, Naming::Camel).unwrap();
    Publication::sign(&manifest, published_at, |message| {
        (key.pubkey(), key.sign_message(message).into())
    })
    .to_json()
}
