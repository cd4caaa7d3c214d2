//! The paytab client SDK.
//!
//! [`instructions`] builds every paytab program instruction from the program
//! crate's generated account and argument types (never from hand-written byte
//! layouts); [`receipts`] signs usage receipts; [`accounts`] reads the
//! program's accounts; [`exact`] builds the payment transaction of the x402
//! `exact` scheme (and of an MPP `charge`).
//!
//! [`program`] sends the owner's transactions and reads the program's
//! accounts through anchor-client.
//!
//! Paying for HTTP: [`offers`] reads what a 402 asks, [`policy`] is the
//! owner's spending policy, [`ledger`] the local record of payments and
//! receipt counters, [`pay`] the paying client, [`wallet`] the Solana CLI's
//! keypair and config files; [`catalog`] searches the service catalog and
//! publishes to it.

pub mod accounts;
pub mod catalog;
pub mod exact;
pub mod instructions;
pub mod ledger;
pub mod offers;
pub mod pay;
pub mod policy;
pub mod program;
pub mod receipts;
pub mod wallet;

pub use instructions::EscrowAccounts;
