//! The gateway in front of a sample API, with a facilitator and the embedded
//! localnet behind, as one test binary (each links the whole Agave runtime):
//! paying every way, the paths that are matched and forwarded, one payment
//! buying one answer whatever is done with it, the limits on clients, and
//! what discovery shows without payment.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

mod support;

mod charges;
mod discovery;
mod ecosystem;
mod limits;
mod one_answer;
mod paths;
mod paying;
mod state_file;
