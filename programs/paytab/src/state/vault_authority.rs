//! The one PDA that signs for every vault.

use anchor_lang::prelude::*;

use crate::constants::VAULT_AUTHORITY_SEED;

/// Calls `sign` with the vault authority's signer seeds (PDA `["vault_authority"]`).
///
/// A single authority keeps the vault's own escrow out of claim transactions;
/// every instruction that moves vault funds first checks that the vault belongs
/// to the escrow or allowance it acts for.
pub fn with_vault_authority_seeds<R>(bump: u8, sign: impl FnOnce(&[&[&[u8]]]) -> R) -> R {
    let bump = [bump];
    let seeds: [&[u8]; 2] = [VAULT_AUTHORITY_SEED, &bump];
    sign(&[&seeds])
}
