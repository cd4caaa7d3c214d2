//! The paytab client SDK.
//!
//! [`instructions`] builds every paytab program instruction from the program
//! crate's generated account and argument types (never from hand-written byte
//! layouts); [`receipts`] signs usage receipts; [`accounts`] reads the
//! program's accounts.

pub mod accounts;
pub mod instructions;
pub mod receipts;

pub use instructions::EscrowAccounts;
