//! The escrow: a payer's prepaid balance of one token.

use anchor_lang::prelude::*;

use crate::errors::PaytabError;

/// A payer's prepaid balance of one mint, PDA `["escrow", owner, mint]`.
///
/// The tokens sit in `vault`. The escrow tracks what went in (`funded`) and what
/// its allowances were promised (`committed`); claims change neither, so a claim
/// touches only the allowance and the vault. With `paid` the sum of all claims:
/// vault balance = `funded - paid`, reserved = `committed - paid`, and so the free
/// balance is `funded - committed`, and `committed <= funded` keeps every
/// reservation covered.
#[account]
#[derive(InitSpace, Debug)]
pub struct Escrow {
    /// Wallet that owns the escrow; the only key that moves free balance.
    pub owner: Pubkey,
    /// Token held by the escrow.
    pub mint: Pubkey,
    /// The escrow's vault token account (PDA `["vault", escrow]`).
    pub vault: Pubkey,
    /// Deposited minus withdrawn, in raw units.
    pub funded: u64,
    /// Sum of every allowance's cap (a closed allowance counts what it paid).
    pub committed: u64,
    /// Seconds between a cap reduction's request and its effect.
    pub notice_secs: u32,
    /// Number of open allowances; the escrow closes only at zero.
    pub allowance_count: u32,
    /// Generation given to the newest allowance; generations only grow.
    pub last_generation: u64,
    /// Delegated receipt signer (an agent's key), if any.
    pub session_key: Option<Pubkey>,
    /// Unix time at which `session_key` stops being accepted.
    pub session_expires_at: i64,
    /// Bump of the escrow PDA.
    pub bump: u8,
    /// Bump of the vault PDA.
    pub vault_bump: u8,
}

impl Escrow {
    /// Free balance: what the owner may withdraw or commit to a new allowance.
    pub fn free_balance(&self) -> u64 {
        self.funded.saturating_sub(self.committed)
    }

    /// Records a deposit.
    pub fn fund(&mut self, amount: u64) -> Result<()> {
        self.funded = self
            .funded
            .checked_add(amount)
            .ok_or(PaytabError::MathOverflow)?;
        Ok(())
    }

    /// Records a withdrawal of free balance.
    pub fn defund(&mut self, amount: u64) -> Result<()> {
        require!(
            amount <= self.free_balance(),
            PaytabError::InsufficientFreeBalance
        );
        self.funded -= amount;
        Ok(())
    }

    /// Commits `amount` of free balance to an allowance.
    pub fn commit(&mut self, amount: u64) -> Result<()> {
        require!(
            amount <= self.free_balance(),
            PaytabError::InsufficientFreeBalance
        );
        self.committed += amount;
        Ok(())
    }

    /// Returns `amount` of an allowance's unclaimed cap to the free balance.
    pub fn release(&mut self, amount: u64) -> Result<()> {
        self.committed = self
            .committed
            .checked_sub(amount)
            .ok_or(PaytabError::InvariantViolated)?;
        Ok(())
    }

    /// The generation for a new allowance: the current slot, or one more than the
    /// last generation if that is not lower, so generations never repeat.
    pub fn next_generation(&mut self, slot: u64) -> Result<u64> {
        let after_last = self
            .last_generation
            .checked_add(1)
            .ok_or(PaytabError::MathOverflow)?;
        self.last_generation = slot.max(after_last);
        Ok(self.last_generation)
    }

    /// Accepts `signer` for receipts if it is the owner or the session key while live.
    pub fn check_signer(&self, signer: &Pubkey, now: i64) -> Result<()> {
        if *signer == self.owner {
            return Ok(());
        }
        if self.session_key.as_ref() == Some(signer) {
            require!(
                now < self.session_expires_at,
                PaytabError::SessionKeyExpired
            );
            return Ok(());
        }
        err!(PaytabError::UnauthorizedSigner)
    }

    /// Commitments never exceed funding, so the vault covers every reservation.
    pub fn invariant(&self) -> Result<()> {
        require!(
            self.committed <= self.funded,
            PaytabError::InvariantViolated
        );
        Ok(())
    }
}
