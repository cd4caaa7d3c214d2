//! An embedded Solana localnet: the Agave runtime with the paytab program loaded
//! natively, SPL Token, Token-2022, ATA and Memo as shipped, a USDC-like test
//! mint and a faucet, served over the standard Solana JSON-RPC.
//!
//! Nothing that talks to it needs to know it is local: `solana-rpc-client` and
//! other Solana clients work unchanged. It is not a cluster: there is no
//! consensus or gossip, slots advance on a timer, and the natively loaded paytab
//! program's compute units are not metered.

// solana-program-test 3.1 and solana-transaction-status mark the interfaces the
// localnet builds on as heading for Agave's unstable API; they are stable on 3.x.
#![allow(deprecated)]

mod balances;
pub mod chain;
mod genesis;
mod ledger;
pub mod pubsub;
pub mod rpc;
mod server;

pub use chain::{Chain, ChainInfo};
pub use genesis::{usdc_mint_address, USDC_DECIMALS};
pub use ledger::StoredTransaction;
pub use server::{Localnet, LocalnetConfig, DEFAULT_GENESIS_SEED};
