//! Addresses of the program's accounts, for clients and tests.

use anchor_lang::prelude::Pubkey;

use crate::constants::{ALLOWANCE_SEED, ESCROW_SEED, VAULT_AUTHORITY_SEED, VAULT_SEED};

/// The escrow of `owner` for `mint`.
pub fn escrow(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[ESCROW_SEED, owner.as_ref(), mint.as_ref()], &crate::ID).0
}

/// The vault token account of `escrow`.
pub fn vault(escrow: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[VAULT_SEED, escrow.as_ref()], &crate::ID).0
}

/// The allowance of `provider` on `escrow`.
pub fn allowance(escrow: &Pubkey, provider: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[ALLOWANCE_SEED, escrow.as_ref(), provider.as_ref()],
        &crate::ID,
    )
    .0
}

/// The PDA that signs for every vault.
pub fn vault_authority() -> Pubkey {
    Pubkey::find_program_address(&[VAULT_AUTHORITY_SEED], &crate::ID).0
}
