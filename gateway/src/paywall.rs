//! The paywall: what happens to a request before and after the upstream.
//!
//! [`Paywall::admit`] decides from the request head alone: pass a free route,
//! answer 402 with every challenge, check a facilitator proof locally (the fast
//! path), verify an x402 payment or an MPP credential with the facilitator
//! (the standard path), or check an x402 sign-in on a sign-in route.
//! [`Paywall::complete`] runs once the upstream answered: a standard-path
//! payment is settled only if the upstream succeeded, so a failing upstream
//! never charges; a fast-path proof is released for another try.

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use paytab_protocol::amount::format_units;
use paytab_protocol::clock::unix_now;
use paytab_protocol::keys::KeySet;
use paytab_protocol::proof::{Binding, Proof, Settlement};
use serde_json::{json, Value};
use solana_pubkey::Pubkey;

use crate::challenge::{self, MppChallenge, Priced};
use crate::config::{Access, GatewayConfig, PayScheme};
use crate::facilitator::{FacilitatorClient, FacilitatorError};
use crate::mpp::{self, MppCredential, MppRefusal};
use crate::proof_check::{self, Expected, ProofRefusal};
use crate::replay::ReplayStore;
use crate::sign_in::{SignInRefusal, SignInTerms, SIGN_IN_HEADER};

/// Header carrying a facilitator proof (paytab's fast path).
pub const PROOF_HEADER: &str = "paytab-proof";
/// x402 v2 payment header.
pub const V2_PAYMENT_HEADER: &str = "payment-signature";
/// x402 v1 payment header.
pub const V1_PAYMENT_HEADER: &str = "x-payment";
/// x402 v2 challenge header.
pub const V2_REQUIRED_HEADER: &str = "payment-required";
/// x402 v2 settlement header.
pub const V2_RESPONSE_HEADER: &str = "payment-response";
/// x402 v1 settlement header.
pub const V1_RESPONSE_HEADER: &str = "x-payment-response";
/// Largest payment header accepted, bytes.
const MAX_PAYMENT_HEADER: usize = 16 * 1024;
/// Lifetime of an MPP challenge, seconds.
const MPP_CHALLENGE_TTL: i64 = 300;

/// What to do with a request.
pub enum Gate {
    /// Send it upstream; complete the payment (if any) afterwards.
    Pass(Option<Pending>),
    /// Answer it now.
    Stop(Response<Body>),
    /// A sign-in route, signed in by this wallet: send it upstream, naming it.
    SignedIn(Pubkey),
}

/// A payment to finish once the upstream answered.
pub enum Pending {
    /// A proof already checked and recorded.
    Proof(Box<Proof>),
    /// A payment verified by the facilitator, to settle on success.
    Settle {
        /// The facilitator request body.
        body: Value,
        /// How the paid response reports the settlement.
        reply: Reply,
    },
}

/// The protocol a standard-path payment came in, and so answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// x402 of this version (1 or 2): `X-PAYMENT-RESPONSE` / `PAYMENT-RESPONSE`.
    X402(u8),
    /// MPP: `Payment-Receipt`.
    Mpp,
}

/// The paywall of one gateway.
pub struct Paywall {
    config: GatewayConfig,
    public_url: String,
    keys: RwLock<KeySet>,
    replay: Arc<ReplayStore>,
    facilitator: FacilitatorClient,
    secret: Vec<u8>,
}

impl Paywall {
    /// A paywall trusting `keys` for proofs, keeping used proof ids in
    /// `replay`, and keying MPP challenge ids with `secret`. `public_url`
    /// overrides the configuration's when it has none.
    pub fn new(
        config: GatewayConfig,
        public_url: String,
        keys: KeySet,
        replay: Arc<ReplayStore>,
        facilitator: FacilitatorClient,
        secret: Vec<u8>,
    ) -> Self {
        keys.warm();
        Self {
            public_url: config.public_url.clone().unwrap_or(public_url),
            config,
            keys: RwLock::new(keys),
            replay,
            facilitator,
            secret,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Replaces the trusted proof keys (after fetching `GET /keys` again),
    /// reusing the verification tables of keys that did not change.
    pub fn set_keys(&self, mut keys: KeySet) {
        keys.keep_tables_from(
            &self
                .keys
                .read()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        keys.warm();
        *self
            .keys
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = keys;
    }

    /// Decides what to do with a request from its head.
    pub async fn admit(&self, parts: &Parts, now: i64) -> Gate {
        let method = parts.method.as_str();
        let path = parts.uri.path();
        let Some(route) = self.config.route(method, path) else {
            return Gate::Stop(problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route on this gateway",
            ));
        };
        let (price, description, mime_type) = match &route.access {
            Access::Free => return Gate::Pass(None),
            Access::SignIn => return self.admit_sign_in(parts, now).await,
            Access::Priced {
                price,
                description,
                mime_type,
            } => (*price, description.as_str(), mime_type.as_str()),
        };
        let url = self.absolute_url(parts);
        let priced = Priced {
            terms: &self.config.terms,
            url: &url,
            price,
            description,
            mime_type,
        };
        let headers = &parts.headers;
        if let Some(token) = header(headers, PROOF_HEADER) {
            return self.admit_proof(token, &priced, method, now).await;
        }
        if let Some(encoded) = header(headers, V2_PAYMENT_HEADER) {
            return self.admit_x402(encoded, 2, &priced, method).await;
        }
        if let Some(encoded) = header(headers, V1_PAYMENT_HEADER) {
            return self.admit_x402(encoded, 1, &priced, method).await;
        }
        if let Some(credential) =
            header(headers, AUTHORIZATION.as_str()).filter(|value| is_mpp_credential(value))
        {
            return self.admit_mpp(credential, &priced, now).await;
        }
        Gate::Stop(self.payment_required(&priced, headers, "payment required", now))
    }

    /// Finishes the payment of a request whose upstream answered `response`.
    pub async fn complete(
        &self,
        pending: Option<Pending>,
        response: Response<Body>,
    ) -> Response<Body> {
        let Some(pending) = pending else {
            return response;
        };
        let upstream_failed = response.status().is_server_error();
        match pending {
            Pending::Proof(proof) if upstream_failed => {
                if let Err(error) = self.replay.release(proof.id).await {
                    tracing::warn!(%error, "could not release a proof after an upstream failure");
                }
                with_header(
                    response,
                    V2_RESPONSE_HEADER,
                    &not_charged(&self.config.terms.network),
                )
            }
            Pending::Proof(proof) => {
                let settled = json!({
                    "success": true,
                    "transaction": settlement_reference(&proof.settlement),
                    "network": proof.network,
                    "payer": proof.payer.to_string(),
                });
                with_header(response, V2_RESPONSE_HEADER, &settled)
            }
            // An MPP response without `Payment-Receipt` was not charged.
            Pending::Settle {
                reply: Reply::Mpp, ..
            } if upstream_failed => response,
            Pending::Settle {
                reply: Reply::X402(version),
                ..
            } if upstream_failed => with_header(
                response,
                response_header(version),
                &not_charged(&self.config.terms.network),
            ),
            Pending::Settle { body, reply } => match self.facilitator.settle(&body).await {
                Ok(answer) if answer["success"] == true => match reply {
                    Reply::X402(version) => {
                        with_header(response, response_header(version), &answer)
                    }
                    Reply::Mpp => {
                        let reference = answer["transaction"].as_str().unwrap_or_default();
                        let mut response = response;
                        if let Ok(value) =
                            HeaderValue::from_str(&mpp::receipt(reference, unix_now()))
                        {
                            response.headers_mut().insert(mpp::RECEIPT_HEADER, value);
                        }
                        response
                    }
                },
                Ok(answer) => {
                    let reason = answer["errorReason"].as_str().unwrap_or("unknown reason");
                    let message = answer["errorMessage"].as_str().unwrap_or(reason);
                    match reply {
                        Reply::Mpp => MppRefusal::VerificationFailed(format!(
                            "the payment did not settle: {message}"
                        ))
                        .response(),
                        Reply::X402(_) => problem(
                            StatusCode::PAYMENT_REQUIRED,
                            "settlement_failed",
                            &format!("the payment did not settle: {reason}"),
                        ),
                    }
                }
                Err(error) => facilitator_unavailable(&error),
            },
        }
    }

    async fn admit_proof(&self, token: &str, priced: &Priced<'_>, method: &str, now: i64) -> Gate {
        let expected = Expected {
            terms: priced.terms,
            price: priced.price,
            binding: Binding::request(method, priced.url),
        };
        let checked = {
            let keys = self
                .keys
                .read()
                .unwrap_or_else(|poison| poison.into_inner());
            proof_check::check_signed(token, &keys, &expected, now)
        };
        let proof = match checked {
            Ok(proof) => proof,
            Err(refusal) => return Gate::Stop(self.refused_proof(priced, &refusal, now)),
        };
        match self.replay.first_use(proof.id, proof.expires_at, now).await {
            Ok(true) => {}
            Ok(false) => {
                return Gate::Stop(self.refused_proof(priced, &ProofRefusal::Replayed, now))
            }
            Err(error) => {
                tracing::error!(%error, "replay cache unavailable");
                return Gate::Stop(problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "replay_cache_unavailable",
                    "proofs cannot be checked right now; nothing was charged, try again",
                ));
            }
        }
        Gate::Pass(Some(Pending::Proof(Box::new(proof))))
    }

    async fn admit_x402(
        &self,
        encoded: &str,
        version: u8,
        priced: &Priced<'_>,
        method: &str,
    ) -> Gate {
        let payload = match decode_payment_header(encoded, version) {
            Ok(payload) => payload,
            Err(reason) => {
                return Gate::Stop(problem(
                    StatusCode::BAD_REQUEST,
                    "malformed_payment",
                    &reason,
                ))
            }
        };
        let Some(requirement) = matching_requirement(&payload, version, priced) else {
            return Gate::Stop(problem(
                StatusCode::PAYMENT_REQUIRED,
                "invalid_payment_requirements",
                "the payment does not match any option this route offers",
            ));
        };
        let body = json!({
            "x402Version": version,
            "paymentPayload": payload,
            "paymentRequirements": requirement,
            "paytab": {"method": method, "url": priced.url},
        });
        match self.facilitator.verify(&body).await {
            Ok(answer) if answer["isValid"] == true => Gate::Pass(Some(Pending::Settle {
                body,
                reply: Reply::X402(version),
            })),
            Ok(answer) => {
                let mut refused = json!({
                    "error": answer["invalidReason"].as_str().unwrap_or("invalid_payment"),
                    "message": answer["invalidMessage"]
                        .as_str()
                        .unwrap_or("the facilitator refused the payment"),
                });
                // e.g. `paytab.acceptedCumulative`, for a client to resync its receipts.
                if answer["extensions"].is_object() {
                    refused["extensions"] = answer["extensions"].clone();
                }
                Gate::Stop(json_response(StatusCode::PAYMENT_REQUIRED, &refused))
            }
            Err(error) => Gate::Stop(facilitator_unavailable(&error)),
        }
    }

    async fn admit_mpp(&self, authorization: &str, priced: &Priced<'_>, now: i64) -> Gate {
        let refused = |refusal: MppRefusal| Gate::Stop(self.refused_mpp(priced, &refusal, now));
        let credential: MppCredential = match mpp::parse_credential(authorization) {
            Ok(credential) => credential,
            Err(refusal) => return refused(refusal),
        };
        if !priced.terms.schemes.contains(&PayScheme::Mpp) {
            return refused(MppRefusal::MethodUnsupported(
                "this route does not take MPP payments".into(),
            ));
        }
        if let Err(refusal) =
            mpp::check_challenge(&credential, priced, &self.public_url, &self.secret, now)
        {
            return refused(refusal);
        }
        let body = mpp::facilitator_body(&credential, priced);
        match self.facilitator.verify(&body).await {
            Ok(answer) if answer["isValid"] == true => Gate::Pass(Some(Pending::Settle {
                body,
                reply: Reply::Mpp,
            })),
            Ok(answer) => refused(MppRefusal::VerificationFailed(format!(
                "{}: {}",
                answer["invalidReason"]
                    .as_str()
                    .unwrap_or("invalid_payment"),
                answer["invalidMessage"]
                    .as_str()
                    .unwrap_or("the facilitator refused the payment")
            ))),
            Err(error) => Gate::Stop(facilitator_unavailable(&error)),
        }
    }

    /// An MPP problem, with a fresh challenge unless the credential was malformed.
    fn refused_mpp(&self, priced: &Priced, refusal: &MppRefusal, now: i64) -> Response<Body> {
        let mut response = refusal.response();
        if refusal.status() == StatusCode::PAYMENT_REQUIRED {
            let challenge = MppChallenge::new(
                priced,
                &self.public_url,
                &self.secret,
                now,
                MPP_CHALLENGE_TTL,
            );
            if let Ok(value) = HeaderValue::from_str(&challenge.header_value()) {
                response.headers_mut().append(WWW_AUTHENTICATE, value);
            }
        }
        response
    }

    async fn admit_sign_in(&self, parts: &Parts, now: i64) -> Gate {
        let url = self.absolute_url(parts);
        let terms = self.sign_in_terms();
        let Some(signed) = header(&parts.headers, SIGN_IN_HEADER) else {
            return Gate::Stop(self.sign_in_required(&url, "sign in required", now));
        };
        let signed_in = match terms.verify(signed, now) {
            Ok(signed_in) => signed_in,
            Err(SignInRefusal::Malformed(reason)) => {
                return Gate::Stop(problem(
                    StatusCode::BAD_REQUEST,
                    "malformed_sign_in",
                    &reason,
                ))
            }
            Err(refusal) => {
                return Gate::Stop(self.sign_in_required(&url, &refusal.to_string(), now))
            }
        };
        match self
            .replay
            .first_use(signed_in.nonce_id, signed_in.usable_until, now)
            .await
        {
            Ok(true) => Gate::SignedIn(signed_in.address),
            Ok(false) => {
                Gate::Stop(self.sign_in_required(&url, &SignInRefusal::Replayed.to_string(), now))
            }
            Err(error) => {
                tracing::error!(%error, "replay cache unavailable");
                Gate::Stop(problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "replay_cache_unavailable",
                    "sign-ins cannot be checked right now; try again",
                ))
            }
        }
    }

    fn sign_in_terms(&self) -> SignInTerms<'_> {
        SignInTerms {
            origin: self.public_url.trim_end_matches('/'),
            network: &self.config.terms.network,
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

    fn refused_proof(&self, priced: &Priced, refusal: &ProofRefusal, now: i64) -> Response<Body> {
        let mut response =
            self.payment_required(priced, &HeaderMap::new(), &refusal.to_string(), now);
        *response.body_mut() = Body::from(
            json!({"error": "invalid_proof", "message": refusal.to_string()}).to_string(),
        );
        response
    }

    /// The 402: x402 v2 header, v1 body (or a page for browsers), MPP challenges.
    fn payment_required(
        &self,
        priced: &Priced,
        headers: &HeaderMap,
        error: &str,
        now: i64,
    ) -> Response<Body> {
        let required = challenge::payment_required_v2(priced, error);
        let wants_html =
            header(headers, ACCEPT.as_str()).is_some_and(|accept| accept.contains("text/html"));
        let (content_type, body) = if wants_html {
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
        if priced.terms.schemes.contains(&PayScheme::Mpp) {
            let mpp = MppChallenge::new(
                priced,
                &self.public_url,
                &self.secret,
                now,
                MPP_CHALLENGE_TTL,
            );
            if let Ok(value) = HeaderValue::from_str(&mpp.header_value()) {
                response_headers.append(WWW_AUTHENTICATE, value);
            }
        }
        response
    }

    fn absolute_url(&self, parts: &Parts) -> String {
        let path_and_query = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        format!("{}{path_and_query}", self.public_url)
    }
}

/// Whether an `Authorization` value uses the `Payment` scheme.
pub fn is_mpp_credential(authorization: &str) -> bool {
    authorization
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("payment "))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn response_header(version: u8) -> &'static str {
    if version == 1 {
        V1_RESPONSE_HEADER
    } else {
        V2_RESPONSE_HEADER
    }
}

/// The settlement a proof names: a transaction signature, or `allowance:cumulative`.
fn settlement_reference(settlement: &Settlement) -> String {
    match settlement {
        Settlement::Transaction(signature) => bs58::encode(signature).into_string(),
        Settlement::Receipt {
            allowance,
            cumulative,
        } => format!("{allowance}:{cumulative}"),
    }
}

fn not_charged(network: &str) -> Value {
    json!({
        "success": false,
        "errorReason": "upstream_error",
        "transaction": "",
        "network": network,
    })
}

/// Decodes a `PAYMENT-SIGNATURE` / `X-PAYMENT` header: base64 of a JSON object
/// whose `x402Version` is `version`.
pub fn decode_payment_header(encoded: &str, version: u8) -> Result<Value, String> {
    if encoded.len() > MAX_PAYMENT_HEADER {
        return Err(format!(
            "payment header longer than {MAX_PAYMENT_HEADER} bytes"
        ));
    }
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "payment header is not base64".to_string())?;
    let payload: Value = serde_json::from_slice(&bytes)
        .map_err(|_| "payment header is not base64 of JSON".to_string())?;
    if !payload.is_object() {
        return Err("payment header must hold a JSON object".into());
    }
    if payload["x402Version"].as_u64() != Some(u64::from(version)) {
        return Err(format!("payment header must carry x402Version {version}"));
    }
    if !payload["payload"].is_object() {
        return Err("payment header lacks a payload object".into());
    }
    Ok(payload)
}

/// The requirement of this route the payment chose: v2 echoes it in
/// `accepted`; v1 names its scheme and network.
fn matching_requirement(payload: &Value, version: u8, priced: &Priced) -> Option<Value> {
    if version == 2 {
        let accepted = &payload["accepted"];
        return challenge::requirements_v2(priced)
            .into_iter()
            .find(|offered| offered == accepted);
    }
    let body = challenge::v1_body(priced, "");
    body["accepts"]
        .as_array()?
        .iter()
        .find(|offered| {
            offered["scheme"] == payload["scheme"] && offered["network"] == payload["network"]
        })
        .cloned()
}

fn with_header(mut response: Response<Body>, name: &'static str, value: &Value) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&STANDARD.encode(value.to_string())) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// A JSON error `{error, message}`.
pub fn problem(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "message": message}))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn facilitator_unavailable(error: &FacilitatorError) -> Response<Body> {
    tracing::warn!(%error, "facilitator unavailable");
    problem(
        StatusCode::BAD_GATEWAY,
        "facilitator_unavailable",
        "the payment could not be checked right now; nothing was charged, try again",
    )
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
