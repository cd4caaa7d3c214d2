//! Events emitted on every state change, for indexers and the facilitator.

use anchor_lang::prelude::*;

/// An escrow was opened.
#[event]
pub struct EscrowOpened {
    /// The escrow account.
    pub escrow: Pubkey,
    /// Its owner.
    pub owner: Pubkey,
    /// The token it holds.
    pub mint: Pubkey,
    /// Its vault token account.
    pub vault: Pubkey,
    /// Seconds a reduction waits before it takes effect.
    pub notice_secs: u32,
}

/// Tokens were deposited into an escrow.
#[event]
pub struct Deposited {
    /// The escrow account.
    pub escrow: Pubkey,
    /// Who signed the transfer in.
    pub depositor: Pubkey,
    /// Raw token units deposited.
    pub amount: u64,
    /// Vault balance afterwards.
    pub vault_balance: u64,
}

/// Free balance was withdrawn by the owner.
#[event]
pub struct Withdrawn {
    /// The escrow account.
    pub escrow: Pubkey,
    /// Raw token units withdrawn.
    pub amount: u64,
    /// Vault balance afterwards.
    pub vault_balance: u64,
}

/// An allowance was granted (created).
#[event]
pub struct AllowanceGranted {
    /// The escrow account.
    pub escrow: Pubkey,
    /// The allowance account.
    pub allowance: Pubkey,
    /// The provider who may claim.
    pub provider: Pubkey,
    /// Total the provider may ever claim.
    pub cap: u64,
    /// Generation receipts must name.
    pub generation: u64,
    /// Window length in seconds (0 = no period limit).
    pub period_secs: u32,
    /// Most the provider may claim per window.
    pub period_limit: u64,
    /// Unix time after which nothing is paid (0 = never).
    pub expires_at: i64,
    /// Key allowed to sign receipts besides the owner and session key.
    pub delegate: Option<Pubkey>,
}

/// An allowance's cap was raised or its expiry extended.
#[event]
pub struct AllowanceRaised {
    /// The allowance account.
    pub allowance: Pubkey,
    /// New cap.
    pub cap: u64,
    /// New expiry (0 = never).
    pub expires_at: i64,
}

/// A reduction (or revocation, to cap 0) was requested.
#[event]
pub struct ReductionRequested {
    /// The allowance account.
    pub allowance: Pubkey,
    /// Cap that applies once the notice period is over.
    pub new_cap: u64,
    /// Unix time the new cap takes effect.
    pub effective_at: i64,
}

/// A reduction took effect and its reservation was released.
#[event]
pub struct ReductionFinalized {
    /// The allowance account.
    pub allowance: Pubkey,
    /// The cap now in force.
    pub cap: u64,
    /// Raw units released from the escrow's reservation.
    pub released: u64,
}

/// An allowance was closed and its rent returned to the owner.
#[event]
pub struct AllowanceClosed {
    /// The escrow account.
    pub escrow: Pubkey,
    /// The closed allowance account.
    pub allowance: Pubkey,
    /// Raw units released from the escrow's reservation.
    pub released: u64,
}

/// A session key was set (or replaced).
#[event]
pub struct SessionKeySet {
    /// The escrow account.
    pub escrow: Pubkey,
    /// The delegated receipt signer.
    pub session_key: Pubkey,
    /// Unix time the key stops being accepted.
    pub expires_at: i64,
}

/// The session key was cleared.
#[event]
pub struct SessionKeyCleared {
    /// The escrow account.
    pub escrow: Pubkey,
}

/// A receipt was claimed for one allowance.
#[event]
pub struct Claimed {
    /// The allowance account.
    pub allowance: Pubkey,
    /// The provider paid.
    pub provider: Pubkey,
    /// The cumulative amount the receipt carried.
    pub cumulative: u64,
    /// Raw units paid by this claim.
    pub paid: u64,
    /// The allowance's settled watermark afterwards.
    pub claimed: u64,
}

/// An escrow was closed; what was left went to the owner.
#[event]
pub struct EscrowClosed {
    /// The closed escrow account.
    pub escrow: Pubkey,
    /// Raw units swept to the owner's token account.
    pub swept: u64,
}
