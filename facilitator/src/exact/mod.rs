//! x402 `exact` payments on Solana.

pub mod rules;
pub mod scheme;
