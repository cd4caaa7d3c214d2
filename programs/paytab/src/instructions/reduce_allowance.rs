//! Requests a lower cap (0 revokes); it takes effect after the escrow's notice period.

use anchor_lang::prelude::*;

use crate::constants::{ALLOWANCE_SEED, ESCROW_SEED};
use crate::errors::PaytabError;
use crate::events::ReductionRequested;
use crate::state::{Allowance, Escrow};

/// Accounts of `reduce_allowance`, `finalize_reduction` and `close_allowance`.
#[derive(Accounts)]
pub struct ManageAllowance<'info> {
    /// The escrow's owner; receives the rent of a closed allowance.
    #[account(mut)]
    pub owner: Signer<'info>,
    /// The escrow the allowance draws on.
    #[account(
        mut,
        seeds = [ESCROW_SEED, owner.key().as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
        has_one = owner,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The allowance.
    #[account(
        mut,
        seeds = [ALLOWANCE_SEED, escrow.key().as_ref(), allowance.provider.as_ref()],
        bump = allowance.bump,
        has_one = escrow @ PaytabError::EscrowMismatch,
    )]
    pub allowance: Account<'info, Allowance>,
}

/// Schedules the cap to become `new_cap` (never below what is already claimed)
/// once the notice period has passed; until then receipts up to the old cap pay.
pub fn reduce_allowance(ctx: Context<ManageAllowance>, new_cap: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let notice = i64::from(ctx.accounts.escrow.notice_secs);
    let allowance = &mut ctx.accounts.allowance;
    require!(new_cap < allowance.cap, PaytabError::CapNotReduced);
    let effective_at = now.checked_add(notice).ok_or(PaytabError::MathOverflow)?;
    // A request for no less than the pending one keeps its effective time; asking
    // for less restarts the notice, so every cut gets the provider's full notice.
    let effective_at = match allowance.pending_cap {
        Some(pending) if new_cap >= pending => allowance.reduction_effective_at,
        _ => effective_at,
    };
    allowance.pending_cap = Some(new_cap);
    allowance.reduction_effective_at = effective_at;
    emit!(ReductionRequested {
        allowance: allowance.key(),
        new_cap,
        effective_at,
    });
    Ok(())
}
