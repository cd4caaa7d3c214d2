//! Delegates receipt signing to a session key (an agent's) until an expiry, or clears it.

use anchor_lang::prelude::*;

use crate::constants::ESCROW_SEED;
use crate::errors::PaytabError;
use crate::events::{SessionKeyCleared, SessionKeySet};
use crate::state::Escrow;

/// Accounts of `set_session_key` and `clear_session_key`.
#[derive(Accounts)]
pub struct ManageSessionKey<'info> {
    /// The escrow's owner.
    pub owner: Signer<'info>,
    /// The escrow.
    #[account(
        mut,
        seeds = [ESCROW_SEED, owner.key().as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
        has_one = owner,
    )]
    pub escrow: Account<'info, Escrow>,
}

/// Accepts receipts signed by `session_key` until `expires_at`, replacing any earlier key.
pub fn set_session_key(
    ctx: Context<ManageSessionKey>,
    session_key: Pubkey,
    expires_at: i64,
) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    require!(expires_at > now, PaytabError::ExpiryInPast);
    let escrow = &mut ctx.accounts.escrow;
    require_keys_neq!(session_key, escrow.owner, PaytabError::SessionKeyIsOwner);
    escrow.session_key = Some(session_key);
    escrow.session_expires_at = expires_at;
    emit!(SessionKeySet {
        escrow: escrow.key(),
        session_key,
        expires_at,
    });
    Ok(())
}

/// Stops accepting receipts from the session key at once.
pub fn clear_session_key(ctx: Context<ManageSessionKey>) -> Result<()> {
    let escrow = &mut ctx.accounts.escrow;
    escrow.session_key = None;
    escrow.session_expires_at = 0;
    emit!(SessionKeyCleared {
        escrow: escrow.key(),
    });
    Ok(())
}
