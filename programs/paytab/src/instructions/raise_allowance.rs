//! Raises an allowance's cap and/or extends its expiry; cancels a pending reduction.

use anchor_lang::prelude::*;

use crate::constants::{ALLOWANCE_SEED, ESCROW_SEED};
use crate::errors::PaytabError;
use crate::events::AllowanceRaised;
use crate::state::{Allowance, Escrow};

/// Accounts of `raise_allowance`.
#[derive(Accounts)]
pub struct RaiseAllowance<'info> {
    /// The escrow's owner.
    pub owner: Signer<'info>,
    /// The escrow the allowance draws on.
    #[account(
        mut,
        seeds = [ESCROW_SEED, owner.key().as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
        has_one = owner,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The allowance to raise.
    #[account(
        mut,
        seeds = [ALLOWANCE_SEED, escrow.key().as_ref(), allowance.provider.as_ref()],
        bump = allowance.bump,
        has_one = escrow @ PaytabError::EscrowMismatch,
    )]
    pub allowance: Account<'info, Allowance>,
}

/// Sets the cap to `new_cap` (> current cap, reserving the difference) and the
/// expiry to `expires_at` (0 = never; may only move later).
pub fn raise_allowance(ctx: Context<RaiseAllowance>, new_cap: u64, expires_at: i64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let accounts = &mut *ctx.accounts;
    let allowance = &mut accounts.allowance;
    require!(new_cap > allowance.cap, PaytabError::CapNotRaised);
    let extends = match (allowance.expires_at, expires_at) {
        (0, new) => new == 0,
        (_, 0) => true,
        (old, new) => new >= old,
    };
    require!(extends, PaytabError::ExpiryShortened);
    require!(!allowance.is_expired(now), PaytabError::AllowanceExpired);

    accounts.escrow.commit(new_cap - allowance.cap)?;
    allowance.cap = new_cap;
    allowance.expires_at = expires_at;
    allowance.pending_cap = None;
    allowance.reduction_effective_at = 0;
    accounts.escrow.invariant()?;
    allowance.invariant()?;
    emit!(AllowanceRaised {
        allowance: allowance.key(),
        cap: new_cap,
        expires_at,
    });
    Ok(())
}
