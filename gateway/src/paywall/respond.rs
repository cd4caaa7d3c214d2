//! The paywall's answers: 402s with every challenge, refusals, and the words
//! that tell a client whether it was charged. Every such answer is built here.

use axum::body::Body;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab_protocol::amount::format_units;
use serde_json::{json, Value};

use super::Reply;
use crate::challenge::{self, ChargeMode, MppChallenge, Priced};
use crate::config::PayScheme;
use crate::mpp::MppRefusal;

/// x402 v2 challenge header.
pub const V2_REQUIRED_HEADER: &str = "payment-required";
/// x402 v2 settlement header.
pub const V2_RESPONSE_HEADER: &str = "payment-response";
/// x402 v1 settlement header.
pub const V1_RESPONSE_HEADER: &str = "x-payment-response";
/// [`V2_RESPONSE_HEADER`], parsed once.
pub const V2_RESPONSE: HeaderName = HeaderName::from_static(V2_RESPONSE_HEADER);
/// [`V1_RESPONSE_HEADER`], parsed once.
pub const V1_RESPONSE: HeaderName = HeaderName::from_static(V1_RESPONSE_HEADER);

/// What a client is told about its money, in one place.
pub mod words {
    /// Refused before anything was charged.
    pub const NOT_CHARGED: &str = "nothing was charged";
    /// The payment may have settled; resending it recovers the answer.
    pub const RESEND: &str = "the payment may have been charged: resend the same payment \
        (not a new one) to get this answer; a payment is never charged twice";
}

/// Why a paid request was not answered, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The payment is refused (402): the reason code and message.
    Refused {
        /// x402 reason code.
        code: String,
        /// Detail for people.
        message: String,
        /// `extensions` to pass on (e.g. a receipt count to resync from).
        extensions: Option<Value>,
    },
    /// The same payment is in use by another request (409).
    InFlight,
    /// The payment already bought an answer (402), with the facilitator's
    /// `extensions` if it said where the payer's count stands.
    AlreadyUsed(Option<Value>),
    /// Nothing was charged; try again (503).
    Unavailable(&'static str),
    /// The outcome is unknown; resend the same payment (502).
    OutcomeUnknown,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn refused(code: &str, message: impl Into<String>) -> Self {
        Self::Refused {
            code: code.into(),
            message: message.into(),
            extensions: None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Refused { .. } | Self::AlreadyUsed(_) => StatusCode::PAYMENT_REQUIRED,
            Self::InFlight => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::OutcomeUnknown => StatusCode::BAD_GATEWAY,
        }
    }

    fn code(&self) -> &str {
        match self {
            Self::Refused { code, .. } => code,
            Self::InFlight => "payment_in_flight",
            Self::AlreadyUsed(_) => "payment_already_used",
            Self::Unavailable(_) => "payment_unavailable",
            Self::OutcomeUnknown => "payment_outcome_unknown",
        }
    }

    /// The sentence a client reads.
    pub fn message(&self) -> String {
        match self {
            Self::Refused { message, .. } => format!("{message}; {}", words::NOT_CHARGED),
            Self::InFlight => format!(
                "another request is using this same payment right now; {} for this one: \
                 wait for that answer, or resend the same payment later",
                words::NOT_CHARGED
            ),
            Self::AlreadyUsed(_) => {
                "this payment was already used for an answer; pay again for another".into()
            }
            Self::Unavailable(what) => {
                format!("{what} right now; {}, try again", words::NOT_CHARGED)
            }
            Self::OutcomeUnknown => words::RESEND.into(),
        }
    }

    fn extensions(&self) -> Option<&Value> {
        match self {
            Self::Refused { extensions, .. } | Self::AlreadyUsed(extensions) => extensions.as_ref(),
            _ => None,
        }
    }

    /// RFC 9457 problem details with the refusal's status, sentence and code.
    fn problem_details(&self) -> Response<Body> {
        let status = self.status();
        let body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.message(),
            "code": self.code(),
        });
        let mut response = json_response(status, &body);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }

    /// The answer to an x402 payment (or a proof, `reply`): a 402 carries
    /// fresh challenges with the reason (`PAYMENT-REQUIRED`, MPP), every
    /// answer says it in JSON, and, unless the outcome is unknown, the
    /// settlement header says `success: false`.
    pub fn x402(
        &self,
        challenges: &Challenges,
        headers: &HeaderMap,
        reply: Reply,
    ) -> Response<Body> {
        let status = self.status();
        let message = self.message();
        let mut response = if status == StatusCode::PAYMENT_REQUIRED {
            let mut response = challenges.payment_required(headers, self.code());
            let mut body = challenge::v1_body(challenges.priced, self.code());
            body["message"] = json!(message);
            if let Some(extensions) = self.extensions() {
                body["extensions"] = extensions.clone();
            }
            if !wants_html(headers) {
                *response.body_mut() = Body::from(body.to_string());
            }
            response
        } else {
            let mut body = json!({"error": self.code(), "message": message});
            if let Some(extensions) = self.extensions() {
                body["extensions"] = extensions.clone();
            }
            json_response(status, &body)
        };
        if *self != Self::OutcomeUnknown {
            let name = match reply {
                Reply::X402(version) => response_header(version),
                Reply::Proof | Reply::Mpp => V2_RESPONSE,
            };
            response = with_header(
                response,
                name,
                &not_charged(&challenges.priced.terms.network, self.code()),
            );
        }
        response
    }

    /// The answer to an MPP credential: problem details with fresh
    /// challenges, whatever the status.
    pub fn mpp(&self, challenges: &Challenges) -> Response<Body> {
        match self {
            Self::Refused { message, .. } => challenges.mpp_refusal(
                &MppRefusal::VerificationFailed(format!("{message}; {}", words::NOT_CHARGED)),
            ),
            Self::AlreadyUsed(_) => {
                challenges.mpp_refusal(&MppRefusal::InvalidChallenge(self.message()))
            }
            other => {
                let mut response = other.problem_details();
                challenges.append_mpp_challenges(&mut response);
                response
            }
        }
    }
}

/// Everything a 402 for one priced request offers.
pub struct Challenges<'a> {
    /// The request's terms.
    pub priced: &'a Priced<'a>,
    /// The realm of MPP challenges (the gateway's public URL).
    pub realm: &'a str,
    /// The key of MPP challenge ids.
    pub secret: &'a [u8],
    /// Unix seconds.
    pub now: i64,
    /// How long an MPP challenge lives, seconds.
    pub mpp_ttl: i64,
}

impl Challenges<'_> {
    /// The 402: x402 v2 header, v1 body (or a page for browsers), MPP challenges.
    pub fn payment_required(&self, headers: &HeaderMap, error: &str) -> Response<Body> {
        let priced = self.priced;
        let required = challenge::payment_required_v2(priced, error);
        let (content_type, body) = if wants_html(headers) {
            ("text/html; charset=utf-8", page(priced))
        } else {
            (
                "application/json",
                challenge::v1_body(priced, error).to_string(),
            )
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
        let response_headers = response.headers_mut();
        response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(&challenge::header_value(&required)) {
            response_headers.insert(V2_REQUIRED_HEADER, value);
        }
        self.append_mpp_challenges(&mut response);
        response
    }

    /// An MPP problem, with fresh challenges.
    pub fn mpp_refusal(&self, refusal: &MppRefusal) -> Response<Body> {
        let mut response = refusal.response();
        self.append_mpp_challenges(&mut response);
        response
    }

    /// `WWW-Authenticate: Payment` challenges, when the route takes MPP: one
    /// whose fees the facilitator pays, and, when the facilitator settles
    /// charges, one whose fees the client pays (push mode allowed).
    fn append_mpp_challenges(&self, response: &mut Response<Body>) {
        let terms = self.priced.terms;
        if !terms.schemes.contains(&PayScheme::Mpp) {
            return;
        }
        let mut modes = vec![ChargeMode::FacilitatorPays];
        if terms.settles_charges {
            modes.push(ChargeMode::client_pays());
        }
        for mode in &modes {
            let challenge = MppChallenge::new(
                self.priced,
                mode,
                self.realm,
                self.secret,
                self.now,
                self.mpp_ttl,
            );
            if let Ok(value) = HeaderValue::from_str(&challenge.header_value()) {
                response.headers_mut().append(WWW_AUTHENTICATE, value);
            }
        }
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Adds `name: base64(JSON value)`.
pub fn with_header(
    mut response: Response<Body>,
    name: HeaderName,
    value: &impl serde::Serialize,
) -> Response<Body> {
    // Sized for a settlement response: one allocation each for the JSON and
    // its base64.
    let mut json = Vec::with_capacity(320);
    let value = serde_json::to_writer(&mut json, value).ok().and_then(|()| {
        let mut encoded = String::with_capacity(json.len().div_ceil(3) * 4);
        STANDARD.encode_string(&json, &mut encoded);
        HeaderValue::try_from(encoded).ok()
    });
    if let Some(value) = value {
        response.headers_mut().insert(name, value);
    }
    response
}

/// The x402 settlement header of `version`.
pub fn response_header(version: u8) -> HeaderName {
    if version == 1 {
        V1_RESPONSE
    } else {
        V2_RESPONSE
    }
}

/// A `SettlementResponse` saying nothing was charged, and why.
pub fn not_charged(network: &str, reason: &str) -> Value {
    json!({
        "success": false,
        "errorReason": reason,
        "transaction": "",
        "network": network,
    })
}

/// A JSON error `{error, message}`.
pub fn problem(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "message": message}))
}

/// A JSON body with `status`.
pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A readable 402 page for browsers.
fn page(priced: &Priced) -> String {
    let amount = format_units(priced.price, priced.terms.decimals);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Payment required</title></head>\
         <body><h1>Payment required</h1><p>{} costs <strong>{amount}</strong> of token {} on {}, paid to {}.</p>\
         <p>Pay with an x402 or MPP client, for example <code>paytab curl {}</code>.</p></body></html>",
        escape(priced.url),
        priced.terms.asset,
        escape(&priced.terms.network),
        priced.terms.pay_to,
        escape(priced.url),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
