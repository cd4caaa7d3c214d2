//! The gateway in front of a sample API, with a facilitator and the embedded
//! localnet behind, as one test binary (each links the whole Agave runtime):
//! paying every way, the paths that are matched and forwarded, and one
//! payment buying one answer whatever is done with it.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

mod support;

mod one_answer;
mod paths;
mod paying;
