//! The localnet through `solana-rpc-client`'s `RpcClient` and raw JSON-RPC
//! only, as one test binary (each links the whole Agave runtime).

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

mod chain;
mod history;
mod net;
mod pubsub;
mod robustness;
