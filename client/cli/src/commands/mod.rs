//! One module per group of commands.

pub mod catalog;
pub mod curl;
pub mod demo;
pub mod escrow;
pub mod history;
pub mod localnet;
pub mod mcp;
pub mod provider;
pub mod wallet;
