//! The paytab facilitator: verifies and settles x402 payments on Solana (the
//! standard `exact` transfer and paytab's `escrow` receipts), answers each
//! settlement with a proof a gateway checks offline, stores what it accepted
//! durably, claims escrow receipts on chain in batches, and keeps the service
//! catalog providers publish to and agents search.
//!
//! [`Facilitator::start`] runs it in-process; the `paytab-facilitator` binary
//! runs it from a configuration file.

pub mod access;
pub mod catalog;
pub mod chain;
pub mod claimer;
pub mod committer;
pub mod config;
pub mod discovery;
pub mod escrow;
pub mod exact;
pub mod health;
pub mod metrics;
pub mod proofs;
pub mod rejection;
pub mod server;
pub mod signatures;
pub mod store;
pub mod x402;

mod service;

pub use config::{FileConfig, Settings};
pub use service::{Facilitator, StartError};
