//! The paytab client SDK.
//!
//! [`instructions`] builds every paytab program instruction from the program
//! crate's generated account and argument types (never from hand-written byte
//! layouts); [`receipts`] signs usage receipts; [`accounts`] reads the
//! program's accounts; [`exact`] builds the payment transaction of the x402
//! `exact` scheme (and of an MPP `charge`).

pub mod accounts;
pub mod exact;
pub mod instructions;
pub mod receipts;

pub use instructions::EscrowAccounts;
