//! Applies a reduction whose notice period is over and releases its reservation.

use anchor_lang::prelude::*;

use crate::errors::PaytabError;
use crate::events::ReductionFinalized;
use crate::instructions::reduce_allowance::ManageAllowance;

/// Applies the pending reduction; fails before its effective time.
pub fn finalize_reduction(ctx: Context<ManageAllowance>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let accounts = &mut *ctx.accounts;
    let allowance = &mut accounts.allowance;
    require!(
        allowance.pending_cap.is_some(),
        PaytabError::NoPendingReduction
    );
    require!(
        now >= allowance.reduction_effective_at,
        PaytabError::NoticePeriodNotElapsed
    );
    let released = allowance.apply_due_reduction(now);
    accounts.escrow.release(released)?;
    allowance.invariant()?;
    emit!(ReductionFinalized {
        allowance: allowance.key(),
        cap: allowance.cap,
        released,
    });
    Ok(())
}
