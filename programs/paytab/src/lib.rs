//! paytab: prepaid escrow with per-provider allowances, paid out by signed usage
//! receipts that providers claim, one at a time or in batches.
//!
//! A payer opens an [`state::Escrow`] for a mint and deposits into its vault, then
//! grants each provider an [`state::Allowance`] whose cap is reserved out of the
//! free balance. Each paid request is an off-chain [`receipt::Receipt`] over a
//! cumulative amount; providers claim the difference to their watermark, verified
//! through the Ed25519 precompile. Reductions take effect only after the escrow's
//! notice period, so outstanding receipts can be claimed first.

// Anchor's macros generate undocumented client modules; every item written here
// is documented by hand.
#![allow(missing_docs)]

pub mod constants;
pub mod ed25519;
pub mod errors;
pub mod events;
pub mod instructions;
#[cfg(not(target_os = "solana"))]
pub mod native;
pub mod pda;
pub mod receipt;
pub mod state;

use anchor_lang::prelude::*;

use instructions::*;

declare_id!("Da7TL4MF2rxrW4VBUHJKQHX9zRJft4nYR8L2VeSWpGf4");

/// The paytab program's instructions; each delegates to its module in [`instructions`].
#[program]
pub mod paytab {
    use super::*;

    /// Opens an escrow for (owner, mint) with a program-owned vault.
    pub fn open_escrow(ctx: Context<OpenEscrow>, notice_secs: u32) -> Result<()> {
        instructions::open_escrow(ctx, notice_secs)
    }

    /// Deposits tokens into an escrow's vault (TransferChecked).
    pub fn deposit(ctx: Context<Deposit>, amount: u64) -> Result<()> {
        instructions::deposit(ctx, amount)
    }

    /// Withdraws free (unreserved) balance to a token account of the owner's choosing.
    pub fn withdraw(ctx: Context<Withdraw>, amount: u64) -> Result<()> {
        instructions::withdraw(ctx, amount)
    }

    /// Grants a provider an allowance, reserving its cap.
    pub fn grant_allowance(ctx: Context<GrantAllowance>, args: GrantAllowanceArgs) -> Result<()> {
        instructions::grant_allowance(ctx, args)
    }

    /// Raises an allowance's cap and/or extends its expiry.
    pub fn raise_allowance(
        ctx: Context<RaiseAllowance>,
        new_cap: u64,
        expires_at: i64,
    ) -> Result<()> {
        instructions::raise_allowance(ctx, new_cap, expires_at)
    }

    /// Requests a lower cap (0 revokes), effective after the escrow's notice period.
    pub fn reduce_allowance(ctx: Context<ManageAllowance>, new_cap: u64) -> Result<()> {
        instructions::reduce_allowance(ctx, new_cap)
    }

    /// Applies a reduction whose notice period is over, releasing its reservation.
    pub fn finalize_reduction(ctx: Context<ManageAllowance>) -> Result<()> {
        instructions::finalize_reduction(ctx)
    }

    /// Closes an allowance that reserves nothing more (used up, reduced to zero, or expired).
    pub fn close_allowance(ctx: Context<ManageAllowance>) -> Result<()> {
        instructions::close_allowance(ctx)
    }

    /// Delegates receipt signing to a session key until an expiry.
    pub fn set_session_key(
        ctx: Context<ManageSessionKey>,
        session_key: Pubkey,
        expires_at: i64,
    ) -> Result<()> {
        instructions::set_session_key(ctx, session_key, expires_at)
    }

    /// Stops accepting receipts from the session key.
    pub fn clear_session_key(ctx: Context<ManageSessionKey>) -> Result<()> {
        instructions::clear_session_key(ctx)
    }

    /// Pays one allowance's receipt, verified by the preceding Ed25519 instruction.
    pub fn claim(ctx: Context<Claim>) -> Result<()> {
        instructions::claim(ctx)
    }

    /// Pays many allowances of one provider from one signed batch attestation.
    pub fn claim_batch<'info>(ctx: Context<'info, ClaimBatch<'info>>) -> Result<()> {
        instructions::claim_batch(ctx)
    }

    /// Closes an escrow without allowances, sweeping its vault to the owner.
    pub fn close_escrow(ctx: Context<CloseEscrow>) -> Result<()> {
        instructions::close_escrow(ctx)
    }
}
