//! The paywall as a tower layer, for Rust services that want it in-process:
//! `ServiceBuilder::new().layer(PaywallLayer::new(paywall)).service(app)`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use paytab_protocol::clock::unix_now;
use tower::{Layer, Service};

use crate::metrics::{self, Outcome};
use crate::paywall::{Gate, Paywall, Pending};
use crate::sign_in::SIGNED_IN_HEADER;

/// Wraps a service in the paywall.
#[derive(Clone)]
pub struct PaywallLayer {
    paywall: Arc<Paywall>,
}

impl PaywallLayer {
    /// A layer over `paywall`.
    pub fn new(paywall: Arc<Paywall>) -> Self {
        Self { paywall }
    }
}

impl<S> Layer<S> for PaywallLayer {
    type Service = PaywallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaywallService {
            paywall: self.paywall.clone(),
            inner,
        }
    }
}

/// A service behind the paywall.
#[derive(Clone)]
pub struct PaywallService<S> {
    paywall: Arc<Paywall>,
    inner: S,
}

impl<S> Service<Request<Body>> for PaywallService<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let paywall = self.paywall.clone();
        // The ready inner service handles this request; a fresh clone waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // Only the gateway says who signed in.
            parts.headers.remove(SIGNED_IN_HEADER);
            match paywall.admit(&parts, unix_now()).await {
                Gate::Stop(response) => {
                    metrics::record(if response.status() == StatusCode::PAYMENT_REQUIRED {
                        Outcome::Challenged
                    } else {
                        Outcome::Refused
                    });
                    Ok(response)
                }
                Gate::SignedIn(address) => {
                    if let Ok(value) = HeaderValue::from_str(&address.to_string()) {
                        parts.headers.insert(SIGNED_IN_HEADER, value);
                    }
                    metrics::record(Outcome::SignedIn);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Gate::Pass(pending) => {
                    let outcome = match &pending {
                        None => Outcome::Free,
                        Some(Pending::Proof(_)) => Outcome::PaidProof,
                        Some(Pending::Settle { .. }) => Outcome::PaidFacilitator,
                    };
                    let response = inner.call(Request::from_parts(parts, body)).await?;
                    let failed = pending.is_some() && response.status().is_server_error();
                    metrics::record(if failed {
                        Outcome::UpstreamFailed
                    } else {
                        outcome
                    });
                    Ok(paywall.complete(pending, response).await)
                }
            }
        })
    }
}
