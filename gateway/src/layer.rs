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
use crate::paywall::{problem, Gate, Paywall};
use crate::sign_in::SIGNED_IN_HEADER;
use crate::target::Target;

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
            // One canonical target: matched here, and the very one the inner service gets.
            let target = match Target::parse(&parts.uri) {
                Ok(target) => target,
                Err(refusal) => {
                    metrics::record(Outcome::Refused);
                    return Ok(problem(
                        StatusCode::BAD_REQUEST,
                        "invalid_target",
                        &refusal.to_string(),
                    ));
                }
            };
            parts.uri = target.uri();
            match paywall.admit(&parts, &target, unix_now()).await {
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
                Gate::Pass(None) => {
                    metrics::record(Outcome::Free);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Gate::Pass(Some(pending)) => {
                    let paid = if pending.settles() {
                        Outcome::PaidFacilitator
                    } else {
                        Outcome::PaidProof
                    };
                    let response = inner.call(Request::from_parts(parts, body)).await?;
                    let upstream_failed = !Paywall::answered(&response);
                    let response = paywall.complete(Some(pending), response).await;
                    metrics::record(if upstream_failed {
                        Outcome::UpstreamFailed
                    } else if response.status().is_success() {
                        paid
                    } else {
                        Outcome::Refused
                    });
                    Ok(response)
                }
            }
        })
    }
}
