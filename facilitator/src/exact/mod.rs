//! Token transfers on Solana: x402 `exact` payments and MPP Solana charges.

pub mod charge;
pub mod pushed;
pub mod rules;
pub mod scheme;
