//! paytab's wire formats shared by the facilitator, the gateway and the client.
//!
//! - [`proof`]: the facilitator-signed payment proof a gateway checks with one
//!   signature verification and no network call;
//! - [`keys`]: facilitator verifying keys by key id, as `GET /keys` publishes them;
//! - [`precomputed`]: Ed25519 verification with per-key tables, for those keys;
//! - [`networks`]: Solana network names in x402 v1, v2 (CAIP-2) and MPP;
//! - [`sign_in`]: the x402 sign-in-with-x answer for Solana;
//! - [`mpp`]: the MPP `Authorization: Payment` credential;
//! - [`manifest`]: the provider manifest a catalog lists, and its signed publication;
//! - [`schemes`]: payment scheme names on the wire;
//! - [`clock`]: unix seconds and RFC 3339;
//! - [`amount`]: raw token units as decimal amounts;
//! - [`private_file`]: owner-only files for payment databases;
//! - `server` (feature `server`): the HTTP accept loop every paytab server shares.
//!
//! `docs/protocol.md` specifies each format with test vectors that the tests check.

pub mod amount;
pub mod clock;
pub mod doc_vectors;
pub mod keys;
pub mod manifest;
pub mod mpp;
pub mod networks;
pub mod precomputed;
pub mod private_file;
pub mod proof;
pub mod proof_batch;
pub mod schemes;
#[cfg(feature = "server")]
pub mod server;
pub mod sign_in;

pub use keys::{KeyId, KeySet, PublishedKey};
pub use proof::{Binding, Proof, ProofError, Scheme, Settlement};
