//! The paytab gateway: what a provider runs in front of its API.
//!
//! The decisions live apart from any web framework: the canonical request
//! target ([`target`]), which route it is ([`routes`], [`config`]), the 402
//! challenges an unpaid request gets ([`challenge`]), the local check of a
//! facilitator proof ([`proof_check`]), MPP credentials ([`mpp`]), x402
//! sign-in ([`sign_in`]), each payment's identity ([`identity`]) and the
//! store that lets it be used once ([`reservations`]), and the whole
//! before/after of a paid request ([`paywall`]), and what discovery shows of
//! it all without payment ([`discovery`]).
//! [`layer`] puts the paywall in front of any tower service; [`server`] runs it
//! in front of the reverse proxy ([`proxy`]).

pub mod challenge;
pub mod config;
pub mod discovery;
pub mod facilitator;
pub mod identity;
pub mod layer;
pub mod metrics;
pub mod mpp;
pub mod paywall;
pub mod proof_check;
pub mod proxy;
pub mod reservations;
pub mod routes;
pub mod server;
pub mod sign_in;
pub mod target;
