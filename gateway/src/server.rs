//! The gateway as a server: the paywall in front of the reverse proxy, plus
//! `/healthz` (liveness), `/readyz` (the used-payments store can be written),
//! `/metrics` and `/openapi.json` (discovery), started and stopped gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use paytab_protocol::clock::unix_now;
use paytab_protocol::server::{serve, ServeOptions};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::Layer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::{GatewayConfig, PayScheme, StateStore, TermsError};
use crate::facilitator::{FacilitatorClient, FacilitatorError};
use crate::layer::PaywallLayer;
use crate::paywall::Paywall;
use crate::proxy::{Upstream, UpstreamError};
use crate::reservations::{ReservationError, Reservations};

/// How often the facilitator's keys are fetched again.
const KEY_REFRESH: Duration = Duration::from_secs(60);

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The facilitator could not be asked what it serves, or for its keys.
    #[error("facilitator: {0}")]
    Facilitator(#[from] FacilitatorError),
    /// The facilitator does not serve the configured terms.
    #[error("{0}")]
    Terms(#[from] TermsError),
    /// `paytab-escrow` needs proofs, which this facilitator does not issue.
    #[error("payment.schemes has escrow, but the facilitator issues no proofs (GET /keys answered 404): a standard x402 facilitator cannot settle paytab-escrow; remove it")]
    EscrowWithoutProofs,
    /// The used-payments store could not be opened or reached.
    #[error(transparent)]
    Reservations(#[from] ReservationError),
    /// The upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The challenge secret is missing.
    #[error("set {0} to a random secret (32+ characters) that keys MPP challenge ids")]
    Secret(String),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// Where.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running gateway.
pub struct Gateway {
    address: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Asks the facilitator what it serves (completing the payment terms)
    /// and for its proof keys, opens the used-payments store and serves.
    /// `secret` keys MPP challenge ids; `None` reads it from the configured
    /// environment variable.
    pub async fn start(config: GatewayConfig, secret: Option<Vec<u8>>) -> Result<Self, StartError> {
        let reservations = match &config.store {
            StateStore::File(path) => Reservations::file(path, unix_now()).await?,
            StateStore::Redis(url) => Reservations::redis(url, "paytab:used:").await?,
        };
        Self::start_with(config, secret, reservations).await
    }

    /// Starts with the given used-payments store (tests and benchmarks may
    /// keep it in memory).
    pub async fn start_with(
        config: GatewayConfig,
        secret: Option<Vec<u8>>,
        reservations: Reservations,
    ) -> Result<Self, StartError> {
        let secret = match secret {
            Some(secret) => secret,
            None => std::env::var(&config.challenge_secret_env)
                .ok()
                .filter(|secret| secret.len() >= 32)
                .map(String::into_bytes)
                .ok_or_else(|| StartError::Secret(config.challenge_secret_env.clone()))?,
        };
        let facilitator = FacilitatorClient::new(
            &config.facilitator_url,
            config.facilitator_timeout,
            config.facilitator_api_key.clone(),
        )?;
        let terms = config.payment.terms(&facilitator.supported().await?)?;
        let keys = facilitator.keys().await?;
        if keys.is_none() {
            if terms.schemes.contains(&PayScheme::Escrow) {
                return Err(StartError::EscrowWithoutProofs);
            }
            tracing::warn!(
                facilitator = %config.facilitator_url,
                "the facilitator publishes no proof keys (GET /keys answered 404): every payment is verified and settled through it; the Paytab-Proof fast path is off"
            );
        }
        tracing::info!(network = %terms.network, fee_payer = ?terms.fee_payer.map(|key| key.to_string()), "selling on");
        let refreshes_keys = keys.is_some();
        let reservations = Arc::new(reservations);
        let upstream = Upstream::new(&config)?;
        let listen = config.listen;
        let max_body = config.max_body_bytes;
        let options = ServeOptions {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            ..ServeOptions::default()
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                address: listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: listen,
            source,
        })?;
        let paywall = Arc::new(Paywall::new(
            config,
            terms,
            format!("http://{address}"),
            keys,
            reservations,
            facilitator.clone(),
            secret,
        ));
        let (stop, stopped) = watch::channel(false);
        let app = router(paywall.clone(), upstream, max_body);
        let mut shutdown = stopped.clone();
        let server = tokio::spawn(serve(listener, app, options, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }));
        let mut tasks = vec![server];
        if refreshes_keys {
            tasks.push(tokio::spawn(refresh_keys(paywall, facilitator, stopped)));
        }
        tracing::info!(%address, "gateway listening");
        Ok(Self {
            address,
            stop,
            tasks,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:4021`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting requests and lets those in flight finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// `/healthz`, `/readyz`, `/metrics`, and everything else through the
/// paywall to the upstream.
pub fn router(paywall: Arc<Paywall>, upstream: Upstream, max_body: usize) -> Router {
    let paid = PaywallLayer::new(paywall.clone()).layer(upstream);
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready).with_state(paywall.clone()))
        .route("/openapi.json", get(openapi).with_state(paywall))
        .route(
            "/metrics",
            get(|| async {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    crate::metrics::render(),
                )
                    .into_response()
            }),
        )
        .fallback_service(paid)
        .layer(RequestBodyLimitLayer::new(max_body))
}

/// `GET /openapi.json`: the routes, prices and service, free to read.
async fn openapi(State(paywall): State<Arc<Paywall>>) -> axum::response::Response {
    let config = paywall.config();
    let document = crate::discovery::openapi(
        config.service.as_ref(),
        &config.routes,
        paywall.terms(),
        paywall.public_url(),
        &config.facilitator_url,
    );
    ([("cache-control", "max-age=300")], Json(document)).into_response()
}

/// Ready when the used-payments store takes a write: without it no payment
/// can be accepted.
async fn ready(State(paywall): State<Arc<Paywall>>) -> axum::response::Response {
    match paywall.reservations().check().await {
        Ok(()) => Json(json!({"status": "ok", "checks": {"reservations": "ok"}})).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({"status": "unavailable", "checks": {"reservations": error.to_string()}}),
                ),
            )
                .into_response()
        }
    }
}

async fn refresh_keys(
    paywall: Arc<Paywall>,
    facilitator: FacilitatorClient,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(KEY_REFRESH) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match facilitator.keys().await {
            Ok(Some(keys)) => paywall.set_keys(keys),
            Ok(None) => {
                tracing::warn!("GET /keys answered 404; keeping the previous facilitator keys")
            }
            Err(error) => tracing::warn!(%error, "keeping the previous facilitator keys"),
        }
    }
}
