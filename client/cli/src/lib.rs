//! The `paytab` command, as a library: the commands, and the in-process
//! [`world`] (localnet, facilitator, gateway, sample API) that `paytab demo`
//! and the end-to-end tests run, and the MCP server ([`mcp`]).

pub mod chain;
pub mod commands;
pub mod context;
pub mod error;
pub mod mcp;
pub mod output;
pub mod sample_api;
pub mod world;
