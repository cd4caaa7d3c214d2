//! Sign-in routes: an x402 `sign-in-with-x` answer checked here, each nonce
//! used once. Nothing is paid and no facilitator is involved.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::{header, problem, Gate, Paywall, V2_REQUIRED_HEADER};
use crate::challenge;
use crate::identity;
use crate::sign_in::{SignInRefusal, SignInTerms, SIGN_IN_HEADER};

impl Paywall {
    /// A request to a sign-in route for `url`.
    pub(super) async fn admit_sign_in(&self, parts: &Parts, url: &str, now: i64) -> Gate {
        let Some(signed) = header(&parts.headers, SIGN_IN_HEADER) else {
            return Gate::Stop(self.sign_in_required(url, "sign in required", now));
        };
        let signed_in = match self.sign_in_terms().verify(signed, now) {
            Ok(signed_in) => signed_in,
            Err(SignInRefusal::Malformed(reason)) => {
                return Gate::Stop(problem(
                    StatusCode::BAD_REQUEST,
                    "malformed_sign_in",
                    &reason,
                ))
            }
            Err(refusal) => {
                return Gate::Stop(self.sign_in_required(url, &refusal.to_string(), now))
            }
        };
        let nonce = identity::sign_in(&signed_in.nonce_id);
        match self
            .reservations
            .use_once(nonce, signed_in.usable_until, now)
            .await
        {
            Ok(true) => Gate::SignedIn(signed_in.address),
            Ok(false) => {
                Gate::Stop(self.sign_in_required(url, &SignInRefusal::Replayed.to_string(), now))
            }
            Err(error) => {
                tracing::error!(%error, "reservations unavailable");
                Gate::Stop(problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "reservations_unavailable",
                    "sign-ins cannot be checked right now; try again",
                ))
            }
        }
    }

    fn sign_in_terms(&self) -> SignInTerms<'_> {
        SignInTerms {
            origin: self.public_url.trim_end_matches('/'),
            network: &self.terms.network,
            secret: &self.secret,
        }
    }

    /// The 402 of a sign-in route: no payment options, the `sign-in-with-x`
    /// extension in `PAYMENT-REQUIRED` and in the JSON body.
    fn sign_in_required(&self, url: &str, error: &str, now: i64) -> Response<Body> {
        let required = json!({
            "x402Version": 2,
            "error": error,
            "resource": {"url": url, "description": "sign in (nothing is paid)"},
            "accepts": [],
            "extensions": {
                crate::sign_in::EXTENSION: self.sign_in_terms().extension(url, now),
            },
        });
        let mut response = Response::new(Body::from(required.to_string()));
        *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&challenge::header_value(&required)) {
            headers.insert(V2_REQUIRED_HEADER, value);
        }
        response
    }
}
