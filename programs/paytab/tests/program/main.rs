//! The paytab program, run natively inside solana-program-test.

// solana-program-test 3.1 marks `ProgramTestContext`'s fields as heading for its
// unstable API; they are its documented way in and stay so on the 3.x line.
#![allow(deprecated)]
// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

mod harness;
mod ix;

mod allowances;
mod batch_claims;
mod claims;
mod demo;
mod escrow;
mod invariants;
mod protocol_vectors;

use anchor_lang::solana_program::instruction::error::InstructionError;
use paytab::errors::PaytabError;
use paytab::instructions::GrantAllowanceArgs;
use solana_transaction_error::TransactionError;

/// Terms of a plain allowance: `cap`, no period limit, no expiry, no delegate.
pub fn terms(cap: u64) -> GrantAllowanceArgs {
    GrantAllowanceArgs {
        cap,
        period_secs: 0,
        period_limit: 0,
        expires_at: 0,
        delegate: None,
    }
}

/// Asserts that a transaction failed with the program's `expected` error.
#[track_caller]
pub fn assert_paytab_error(result: Result<(), TransactionError>, expected: PaytabError) {
    let code = anchor_lang::error::ERROR_CODE_OFFSET + expected as u32;
    assert_custom_error(result, code, &format!("{expected:?}"));
}

/// Asserts that a transaction failed with one of Anchor's own `expected` errors.
#[track_caller]
pub fn assert_anchor_error(
    result: Result<(), TransactionError>,
    expected: anchor_lang::error::ErrorCode,
) {
    assert_custom_error(result, expected as u32, &format!("{expected:?}"));
}

#[track_caller]
fn assert_custom_error(result: Result<(), TransactionError>, code: u32, name: &str) {
    match result {
        Err(TransactionError::InstructionError(_, InstructionError::Custom(actual))) => {
            assert_eq!(
                actual, code,
                "expected {name} ({code}), got custom error {actual}"
            )
        }
        other => panic!("expected {name} ({code}), got {other:?}"),
    }
}

/// Asserts that a transaction failed, whatever the reason.
#[track_caller]
pub fn assert_rejected(result: Result<(), TransactionError>) {
    assert!(result.is_err(), "expected the transaction to be rejected");
}
