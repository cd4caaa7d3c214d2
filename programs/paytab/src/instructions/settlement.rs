//! What claims and withdrawals share: signed transfers out of a vault, and the
//! checks that turn a verified receipt into a payout.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{transfer_checked, TransferChecked};

use crate::events::Claimed;
use crate::state::{with_vault_authority_seeds, Allowance, Escrow};

/// The accounts a vault payout moves through.
pub struct VaultTransfer<'info> {
    /// The vault paying out.
    pub vault: AccountInfo<'info>,
    /// The vault's mint.
    pub mint: AccountInfo<'info>,
    /// Mint decimals, for TransferChecked.
    pub decimals: u8,
    /// Receiving token account.
    pub destination: AccountInfo<'info>,
    /// The vault authority PDA.
    pub authority: AccountInfo<'info>,
    /// Bump of the vault authority PDA.
    pub authority_bump: u8,
    /// SPL Token or Token-2022.
    pub token_program: Pubkey,
}

impl VaultTransfer<'_> {
    /// Moves `amount` out of the vault, signed by the vault authority.
    pub fn send(self, amount: u64) -> Result<()> {
        let accounts = TransferChecked {
            from: self.vault,
            mint: self.mint,
            to: self.destination,
            authority: self.authority,
        };
        with_vault_authority_seeds(self.authority_bump, |seeds| {
            transfer_checked(
                CpiContext::new_with_signer(self.token_program, accounts, seeds),
                amount,
                self.decimals,
            )
        })
    }
}

/// Accepts `signer` for a receipt on `allowance`: its delegate, or (when the
/// escrow is at hand) the escrow owner or its live session key.
pub fn check_receipt_signer(
    escrow: Option<&Escrow>,
    allowance: &Allowance,
    signer: &Pubkey,
    now: i64,
) -> Result<()> {
    if allowance.delegate.as_ref() == Some(signer) {
        return Ok(());
    }
    match escrow {
        Some(escrow) => escrow.check_signer(signer, now),
        None => err!(crate::errors::PaytabError::UnauthorizedSigner),
    }
}

/// Moves the allowance's watermark to `cumulative` and returns what the vault
/// must pay out (0 if nothing is owed now).
pub fn settle_allowance(
    allowance: &mut Allowance,
    allowance_key: Pubkey,
    cumulative: u64,
    now: i64,
) -> Result<u64> {
    let paid = allowance.settle(cumulative, now)?;
    if paid > 0 {
        emit!(Claimed {
            allowance: allowance_key,
            provider: allowance.provider,
            cumulative,
            paid,
            claimed: allowance.claimed,
        });
    }
    allowance.invariant()?;
    Ok(paid)
}
