//! Closes an allowance that reserves nothing more, returning its rent to the owner.

use anchor_lang::prelude::*;

use crate::errors::PaytabError;
use crate::events::AllowanceClosed;
use crate::instructions::reduce_allowance::ManageAllowance;

/// Closes the allowance once it is used up, fully reduced (after notice) or expired;
/// whatever it still reserved is released.
pub fn close_allowance(ctx: Context<ManageAllowance>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let accounts = &mut *ctx.accounts;
    let allowance = &mut accounts.allowance;
    let mut released = allowance.apply_due_reduction(now);
    if allowance.is_expired(now) {
        released = released
            .checked_add(allowance.remaining())
            .ok_or(PaytabError::MathOverflow)?;
        allowance.cap = allowance.claimed;
    }
    require!(
        allowance.remaining() == 0,
        PaytabError::AllowanceStillReserved
    );
    let escrow = &mut accounts.escrow;
    escrow.release(released)?;
    escrow.allowance_count = escrow
        .allowance_count
        .checked_sub(1)
        .ok_or(PaytabError::MathOverflow)?;
    emit!(AllowanceClosed {
        escrow: escrow.key(),
        allowance: allowance.key(),
        released,
    });
    allowance.close(accounts.owner.to_account_info())
}
