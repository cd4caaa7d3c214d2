//! The reverse proxy to the upstream API: streams both bodies, keeps the
//! upstream's headers (minus hop-by-hop ones), strips payment and sign-in
//! headers (and an MPP `Authorization: Payment` credential), and
//! adds the configured upstream credential.
//!
//! The request's target is forwarded byte for byte as the paywall
//! canonicalised and matched it ([`crate::target`]); should a URL parser
//! still change its path, the request is refused instead of sent. An answer the
//! proxy makes itself (the upstream unreachable or too slow, a body over the
//! limit) carries [`NotAnswered`], so nothing is charged for it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use tower::Service;

use crate::config::{GatewayConfig, UpstreamAuth};
use crate::paywall::{
    is_mpp_credential, problem, PROOF_HEADER, V1_PAYMENT_HEADER, V2_PAYMENT_HEADER,
};
use crate::sign_in::SIGN_IN_HEADER;

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Marks a response the proxy made itself: the upstream did not answer.
#[derive(Debug, Clone, Copy)]
pub struct NotAnswered;

/// The upstream API as a service.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    /// The path of `base` (no trailing slash), which every forwarded path extends.
    base_path: String,
    http: reqwest::Client,
    auth: Option<UpstreamAuth>,
}

/// The upstream client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("upstream client: {0}")]
pub struct UpstreamError(String);

impl Upstream {
    /// The upstream of `config`.
    pub fn new(config: &GatewayConfig) -> Result<Self, UpstreamError> {
        let http = reqwest::Client::builder()
            .timeout(config.upstream_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| UpstreamError(error.to_string()))?;
        let base_path = reqwest::Url::parse(&config.upstream)
            .map_err(|error| UpstreamError(format!("upstream URL: {error}")))?
            .path()
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                base_path,
                base: config.upstream.clone(),
                http,
                auth: config.upstream_auth.clone(),
            }),
        })
    }

    /// Sends `request` upstream and returns its answer with a streaming body.
    pub async fn forward(&self, request: Request<Body>) -> Response<Body> {
        let inner = &self.inner;
        let (parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let mut url = format!("{}{path_and_query}", inner.base);
        let mut headers = forwarded_headers(&parts.headers);
        for name in [
            PROOF_HEADER,
            V2_PAYMENT_HEADER,
            V1_PAYMENT_HEADER,
            SIGN_IN_HEADER,
            "host",
        ] {
            headers.remove(name);
        }
        let mpp_credential = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_mpp_credential);
        if mpp_credential {
            headers.remove(AUTHORIZATION);
        }
        match &inner.auth {
            Some(UpstreamAuth::Header { name, secret }) => {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(secret),
                ) {
                    headers.insert(name, value);
                }
            }
            Some(UpstreamAuth::Query { name, secret }) => {
                let separator = if url.contains('?') { '&' } else { '?' };
                url = format!(
                    "{url}{separator}{}={}",
                    encode_component(name),
                    encode_component(secret)
                );
            }
            None => {}
        }
        let forwarded_path = format!("{}{}", inner.base_path, parts.uri.path());
        let url = match reqwest::Url::parse(&url) {
            Ok(url) if url.path() == forwarded_path => url,
            _ => {
                return not_answered(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "the path would reach the upstream changed",
                )
            }
        };
        let sent = inner
            .http
            .request(parts.method, url)
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body.into_data_stream()))
            .send()
            .await;
        match sent {
            Ok(answer) => {
                let status = answer.status();
                let headers = forwarded_headers(answer.headers());
                let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                response
            }
            Err(error) if body_too_large(&error) => not_answered(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than this gateway accepts",
            ),
            Err(error) if error.is_timeout() => not_answered(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the upstream API did not answer in time",
            ),
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "upstream request failed");
                not_answered(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    "the upstream API could not be reached",
                )
            }
        }
    }
}

/// An answer made here, marked so that nothing is charged for it.
fn not_answered(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let mut response = problem(status, code, message);
    response.extensions_mut().insert(NotAnswered);
    response
}

/// Whether sending failed because the request body passed the size limit
/// (a streamed or chunked body that announced no length).
fn body_too_large(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut forwarded = headers.clone();
    for name in HOP_BY_HOP {
        forwarded.remove(name);
    }
    forwarded
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl Service<Request<Body>> for Upstream {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let upstream = self.clone();
        Box::pin(async move { Ok(upstream.forward(request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_secrets_are_percent_encoded() {
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_component("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_others_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close"));
        headers.insert("x-upstream", HeaderValue::from_static("kept"));
        let forwarded = forwarded_headers(&headers);
        assert!(forwarded.get("connection").is_none());
        assert_eq!(
            forwarded.get("x-upstream").map(|v| v.as_bytes()),
            Some(&b"kept"[..])
        );
    }
}
