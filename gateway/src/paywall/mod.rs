//! The paywall: what happens to a request before and after the upstream.
//!
//! Every kind of payment has one life:
//!
//! ```text
//! canonical target ─▶ route ─▶ payment (parse) ─▶ its identities
//!   ─▶ reserve them (taken: refused, the upstream never runs)
//!   ─▶ verify (a proof locally; x402 / MPP with the facilitator)
//!        refused ─▶ release, refuse with fresh challenges
//!   ─▶ upstream ─▶ failed (5xx) ─▶ release: nothing charged
//!   ─▶ settle (standard path) ─▶ a proof, checked here; its id reserved too
//!        refused ─▶ release: nothing charged · no answer ─▶ release: resend to recover
//!   ─▶ consume every identity ─▶ the answer
//! ```
//!
//! [`Paywall::admit`] runs up to the upstream call; [`Paywall::complete`] after it.
//! A payment the facilitator reports as settled before comes back with the
//! proof issued then: the answer is served only if that proof's id was never
//! consumed, so a lost answer can be recovered by resending the same payment
//! but one payment never buys two answers.

mod answer;
mod respond;
mod sign_in_route;
mod standard;

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Response, StatusCode};
use paytab_protocol::keys::KeySet;
use paytab_protocol::proof::{Binding, Proof};
use paytab_protocol::proof_batch::VerifiedRoots;
use serde_json::Value;
use solana_pubkey::Pubkey;

use crate::challenge::Priced;
use crate::config::{Access, GatewayConfig, PaymentTerms};
use crate::facilitator::FacilitatorClient;
use crate::identity;
use crate::proof_check::{self, Expected, ProofRefusal};
use crate::proxy::NotAnswered;
use crate::reservations::{PaymentId, Reservation, Reservations};
use crate::target::Target;

use answer::Paid;
use respond::{not_charged, response_header, with_header, Challenges, V2_RESPONSE};
pub use respond::{
    problem, words, Refusal, V1_RESPONSE_HEADER, V2_REQUIRED_HEADER, V2_RESPONSE_HEADER,
};

/// Header carrying a facilitator proof (paytab's fast path).
pub const PROOF_HEADER: &str = "paytab-proof";
/// x402 v2 payment header.
pub const V2_PAYMENT_HEADER: &str = "payment-signature";
/// x402 v1 payment header.
pub const V1_PAYMENT_HEADER: &str = "x-payment";
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

/// The identities a request has reserved.
#[derive(Debug, Clone, Default)]
struct Identities {
    /// Held while the request runs: copies of the payment wait or are
    /// refused meanwhile, and find out from the facilitator afterwards.
    held: Vec<PaymentId>,
    /// Used up by the answer: the proof that paid (and an MPP challenge).
    spent: Vec<PaymentId>,
}

impl Identities {
    fn all(&self) -> Vec<PaymentId> {
        self.held.iter().chain(&self.spent).copied().collect()
    }
}

/// A payment reserved for a request, to finish once the upstream answered.
pub struct Pending {
    /// How it finishes.
    finish: Finish,
    /// What it pays for and how the answer speaks.
    paying: Paying,
}

impl Pending {
    /// Whether the facilitator settles it after the upstream (the standard path).
    pub fn settles(&self) -> bool {
        matches!(self.finish, Finish::Settle { .. })
    }
}

/// A verified payment waiting for its answer.
pub(super) struct Paying {
    /// What it reserved.
    ids: Identities,
    /// The protocol the answer speaks.
    reply: Reply,
    /// What its proof must be bound to.
    binding: Binding,
    /// What it buys.
    sold: Sold,
    /// The MPP challenge it answers, if any.
    challenge_id: Option<String>,
}

/// What a request buys, kept for answers made after the upstream ran.
#[derive(Debug, Clone)]
pub(super) struct Sold {
    url: String,
    price: u64,
    description: String,
    mime_type: String,
    bazaar: Option<Arc<Value>>,
}

impl Sold {
    fn of(priced: &Priced) -> Self {
        Self {
            url: priced.url.to_string(),
            price: priced.price,
            description: priced.description.to_string(),
            mime_type: priced.mime_type.to_string(),
            bazaar: priced.bazaar.cloned(),
        }
    }

    fn priced<'a>(&'a self, terms: &'a PaymentTerms) -> Priced<'a> {
        Priced {
            terms,
            url: &self.url,
            price: self.price,
            description: &self.description,
            mime_type: &self.mime_type,
            bazaar: self.bazaar.as_ref(),
        }
    }
}

enum Finish {
    /// Paid by a checked proof: the fast path, or a settlement recovered.
    Proof(Box<Proof>),
    /// Verified by the facilitator; settled once the upstream succeeded.
    Settle { body: Value },
}

/// The protocol a payment came in, and so answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A `Paytab-Proof`: `PAYMENT-RESPONSE`.
    Proof,
    /// x402 of this version (1 or 2): `X-PAYMENT-RESPONSE` / `PAYMENT-RESPONSE`.
    X402(u8),
    /// MPP: `Payment-Receipt`.
    Mpp,
}

/// The paywall of one gateway.
pub struct Paywall {
    config: GatewayConfig,
    terms: PaymentTerms,
    public_url: String,
    keys: RwLock<KeySet>,
    /// Roots of proof batches whose signature verified here.
    roots: VerifiedRoots,
    /// Whether the facilitator issues proofs (paytab's `GET /keys`); a
    /// standard x402 facilitator does not.
    issues_proofs: bool,
    reservations: Arc<Reservations>,
    facilitator: FacilitatorClient,
    secret: Vec<u8>,
}

impl Paywall {
    /// A paywall selling on `terms`, trusting `keys` for proofs (`None`: the
    /// facilitator issues none), keeping used payments in `reservations`,
    /// and keying MPP challenge ids with `secret`. `public_url` applies when
    /// the configuration names none.
    pub fn new(
        config: GatewayConfig,
        terms: PaymentTerms,
        public_url: String,
        keys: Option<KeySet>,
        reservations: Arc<Reservations>,
        facilitator: FacilitatorClient,
        secret: Vec<u8>,
    ) -> Self {
        let issues_proofs = keys.is_some();
        let keys = keys.unwrap_or_default();
        keys.warm();
        Self {
            public_url: config.public_url.clone().unwrap_or(public_url),
            config,
            terms,
            keys: RwLock::new(keys),
            roots: VerifiedRoots::default(),
            issues_proofs,
            reservations,
            facilitator,
            secret,
        }
    }

    /// The URL clients reach the gateway at.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The configuration it enforces.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The payment terms every priced route sells on.
    pub fn terms(&self) -> &PaymentTerms {
        &self.terms
    }

    /// The reservations store.
    pub fn reservations(&self) -> &Reservations {
        &self.reservations
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

    /// Decides what to do with a request from its head; `target` is its
    /// canonical target, which the upstream will receive.
    pub async fn admit(&self, parts: &Parts, target: &Target, now: i64) -> Gate {
        let method = parts.method.as_str();
        let Some(route) = self.config.route(method, target) else {
            return Gate::Stop(problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route on this gateway",
            ));
        };
        let url = format!("{}{}", self.public_url, target.path_and_query());
        let (price, description, mime_type) = match &route.access {
            Access::Free => return Gate::Pass(None),
            Access::SignIn => return self.admit_sign_in(parts, &url, now).await,
            Access::Priced {
                price,
                description,
                mime_type,
            } => (*price, description.as_str(), mime_type.as_str()),
        };
        let priced = Priced {
            terms: &self.terms,
            url: &url,
            price,
            description,
            mime_type,
            bazaar: route.bazaar.as_ref(),
        };
        let headers = &parts.headers;
        if let Some(token) = header(headers, PROOF_HEADER) {
            return self.admit_proof(token, &priced, method, headers, now).await;
        }
        if let Some(encoded) = header(headers, V2_PAYMENT_HEADER) {
            return self
                .admit_x402(encoded, 2, &priced, method, headers, now)
                .await;
        }
        if let Some(encoded) = header(headers, V1_PAYMENT_HEADER) {
            return self
                .admit_x402(encoded, 1, &priced, method, headers, now)
                .await;
        }
        if let Some(credential) =
            header(headers, AUTHORIZATION.as_str()).filter(|value| is_mpp_credential(value))
        {
            return self.admit_mpp(credential, &priced, now).await;
        }
        Gate::Stop(
            self.challenges(&priced, now)
                .payment_required(headers, "payment required"),
        )
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
        let Pending { finish, paying } = pending;
        if !Self::answered(&response) {
            self.release(&paying.ids).await;
            return match paying.reply {
                // An MPP response without `Payment-Receipt` was not charged.
                Reply::Mpp => response,
                Reply::Proof => with_header(
                    response,
                    V2_RESPONSE,
                    &not_charged(&self.terms.network, "upstream_error"),
                ),
                Reply::X402(version) => with_header(
                    response,
                    response_header(version),
                    &not_charged(&self.terms.network, "upstream_error"),
                ),
            };
        }
        match finish {
            Finish::Proof(proof) => {
                self.serve(
                    &paying,
                    &paying.ids,
                    &Paid::by_proof(&proof),
                    None,
                    response,
                )
                .await
            }
            Finish::Settle { body } => self.settle_and_serve(paying, &body, response).await,
        }
    }

    /// Whether the upstream answered: not a 5xx, and not an answer the proxy
    /// made itself ([`NotAnswered`]). Only answers are charged for.
    pub fn answered(response: &Response<Body>) -> bool {
        !response.status().is_server_error() && response.extensions().get::<NotAnswered>().is_none()
    }

    /// The fast path: a proof checked here, its id reserved.
    async fn admit_proof(
        &self,
        token: &str,
        priced: &Priced<'_>,
        method: &str,
        headers: &HeaderMap,
        now: i64,
    ) -> Gate {
        let binding = Binding::request(method, priced.url);
        if !self.issues_proofs {
            return Gate::Stop(
                Refusal::refused(
                    "invalid_proof",
                    "this gateway's facilitator issues no proofs: pay with x402 or MPP",
                )
                .x402(&self.challenges(priced, now), headers, Reply::Proof),
            );
        }
        let proof = match self.check_proof(token, priced.price, binding, now) {
            Ok(proof) => proof,
            Err(refusal) => {
                return Gate::Stop(Refusal::refused("invalid_proof", refusal.to_string()).x402(
                    &self.challenges(priced, now),
                    headers,
                    Reply::Proof,
                ))
            }
        };
        let ids = Identities {
            held: Vec::new(),
            spent: vec![identity::proof(&proof.id)],
        };
        if let Err(refusal) = self.reserve(&ids, now).await {
            return Gate::Stop(refusal.x402(&self.challenges(priced, now), headers, Reply::Proof));
        }
        Gate::Pass(Some(Pending {
            finish: Finish::Proof(Box::new(proof)),
            paying: Paying {
                ids,
                reply: Reply::Proof,
                binding,
                sold: Sold::of(priced),
                challenge_id: None,
            },
        }))
    }

    /// Checks a proof's signature, time and terms for a request of `price` bound to `binding`.
    fn check_proof(
        &self,
        token: &str,
        price: u64,
        binding: Binding,
        now: i64,
    ) -> Result<Proof, ProofRefusal> {
        let expected = Expected {
            terms: &self.terms,
            price,
            binding,
        };
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        proof_check::check_signed(token, &keys, Some(&self.roots), &expected, now)
    }

    /// Reserves `ids` for one request's lifetime.
    async fn reserve(&self, ids: &Identities, now: i64) -> Result<(), Refusal> {
        self.reserve_ids(&ids.all(), now).await
    }

    async fn reserve_ids(&self, ids: &[PaymentId], now: i64) -> Result<(), Refusal> {
        let until = now.saturating_add(self.config.reservation_ttl_secs());
        match self.reservations.reserve(ids, until, now).await {
            Ok(Reservation::Reserved) => Ok(()),
            Ok(Reservation::InFlight) => Err(Refusal::InFlight),
            Ok(Reservation::Used) => Err(Refusal::AlreadyUsed(None)),
            Err(error) => {
                tracing::error!(%error, "reservations unavailable");
                Err(Refusal::Unavailable("payments cannot be checked"))
            }
        }
    }

    /// Reserves the id of the proof that pays for this request, which must
    /// never have bought an answer, and adds it to what the answer uses up.
    async fn spend_proof(
        &self,
        ids: &mut Identities,
        proof: &Proof,
        now: i64,
    ) -> Result<(), Refusal> {
        let proof_id = identity::proof(&proof.id);
        self.reserve_ids(&[proof_id], now).await?;
        ids.spent.push(proof_id);
        Ok(())
    }

    async fn release(&self, ids: &Identities) {
        if let Err(error) = self.reservations.release(&ids.all()).await {
            // The reservation lapses on its own at the end of its lifetime.
            tracing::warn!(%error, "could not release a reservation");
        }
    }

    /// The challenges of a 402 for `priced` at `now`.
    fn challenges<'a>(&'a self, priced: &'a Priced<'a>, now: i64) -> Challenges<'a> {
        Challenges {
            priced,
            realm: &self.public_url,
            secret: &self.secret,
            now,
            mpp_ttl: MPP_CHALLENGE_TTL,
        }
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
