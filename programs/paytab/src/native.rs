//! Runs the program natively (off-chain) in the Agave runtime of
//! `solana-program-test`, for tests and the embedded localnet.

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;

/// The program's entrypoint with the plain signature `processor!` expects.
///
/// Anchor's generated `entry` ties every argument to one lifetime, which the
/// builtin-function signature cannot name; this narrows them to the call.
#[allow(unsafe_code)]
pub fn process_instruction(
    program_id: &Pubkey,
    accounts: &[AccountInfo],
    data: &[u8],
) -> ProgramResult {
    // SAFETY: the runtime keeps `accounts` (and the data they borrow) alive for the
    // whole call; `entry` only uses them during the call and returns nothing that
    // borrows them, so unifying their lifetimes cannot outlive the originals.
    let accounts: &[AccountInfo<'_>] = unsafe { core::mem::transmute(accounts) };
    crate::entry(program_id, accounts, data)
}
