//! The allowance: how much one provider may claim from one escrow.

use anchor_lang::prelude::*;

use crate::errors::PaytabError;

/// A provider's spending allowance on an escrow, PDA `["allowance", escrow, provider]`.
///
/// Receipts carry a cumulative amount; `claimed` is the settled watermark, so a
/// receipt pays `cumulative - claimed` once and never again.
#[account]
#[derive(InitSpace, Debug)]
pub struct Allowance {
    /// The escrow this allowance draws on.
    pub escrow: Pubkey,
    /// Owner of the token account that receives claims.
    pub provider: Pubkey,
    /// The escrow's vault, which claims pay out of.
    pub vault: Pubkey,
    /// Total the provider may ever claim under this allowance.
    pub cap: u64,
    /// Settled watermark: total already paid out.
    pub claimed: u64,
    /// Set at creation and never reused, so receipts for an earlier incarnation never apply.
    pub generation: u64,
    /// Length of a spending window in seconds; 0 means no period limit.
    pub period_secs: u32,
    /// Most that may be paid out per window (when `period_secs > 0`).
    pub period_limit: u64,
    /// Unix time the current window started.
    pub window_start: i64,
    /// Paid out in the current window.
    pub window_spent: u64,
    /// Unix time from which nothing is paid; 0 means never.
    pub expires_at: i64,
    /// A further key allowed to sign receipts (typically a facilitator's), if any.
    pub delegate: Option<Pubkey>,
    /// Cap requested by a pending reduction (0 = revocation), if any.
    pub pending_cap: Option<u64>,
    /// Unix time at which the pending reduction takes effect.
    pub reduction_effective_at: i64,
    /// Bump of the allowance PDA.
    pub bump: u8,
}

impl Allowance {
    /// What the allowance still reserves in its escrow.
    pub fn remaining(&self) -> u64 {
        self.cap.saturating_sub(self.claimed)
    }

    /// Whether the allowance has passed its expiry at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }

    /// The cap that limits claims at `now`: a pending reduction counts once due.
    pub fn effective_cap(&self, now: i64) -> u64 {
        match self.pending_cap {
            Some(new_cap) if now >= self.reduction_effective_at => new_cap.max(self.claimed),
            _ => self.cap,
        }
    }

    /// Applies a pending reduction whose notice is over; returns the reservation released.
    pub fn apply_due_reduction(&mut self, now: i64) -> u64 {
        match self.pending_cap {
            Some(_) if now >= self.reduction_effective_at => {
                let new_cap = self.effective_cap(now);
                let released = self.cap.saturating_sub(new_cap);
                self.cap = new_cap;
                self.pending_cap = None;
                self.reduction_effective_at = 0;
                released
            }
            _ => 0,
        }
    }

    /// Pays a receipt with `cumulative` at `now`: checks expiry and cap, applies the
    /// period limit (paying part and leaving the rest for a later window) and moves
    /// the watermark. Returns the amount to transfer, 0 if nothing is owed.
    pub fn settle(&mut self, cumulative: u64, now: i64) -> Result<u64> {
        require!(!self.is_expired(now), PaytabError::AllowanceExpired);
        require!(
            cumulative <= self.effective_cap(now),
            PaytabError::CumulativeAboveCap
        );
        let owed = cumulative.saturating_sub(self.claimed);
        if owed == 0 {
            return Ok(0);
        }
        let paid = match self.window_room(now) {
            Some(room) => owed.min(room),
            None => owed,
        };
        if paid == 0 {
            return Ok(0);
        }
        self.claimed = self
            .claimed
            .checked_add(paid)
            .ok_or(PaytabError::MathOverflow)?;
        if self.period_secs > 0 {
            self.window_spent = self
                .window_spent
                .checked_add(paid)
                .ok_or(PaytabError::MathOverflow)?;
        }
        Ok(paid)
    }

    /// Rolls the spending window forward to the one containing `now` and returns
    /// what it still allows, or `None` without a period limit.
    fn window_room(&mut self, now: i64) -> Option<u64> {
        if self.period_secs == 0 {
            return None;
        }
        let period = i64::from(self.period_secs);
        let elapsed = now.saturating_sub(self.window_start);
        if elapsed >= period {
            self.window_start = now - elapsed % period;
            self.window_spent = 0;
        }
        Some(self.period_limit.saturating_sub(self.window_spent))
    }

    /// Claimed never exceeds the cap.
    pub fn invariant(&self) -> Result<()> {
        require!(self.claimed <= self.cap, PaytabError::InvariantViolated);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowance(cap: u64) -> Allowance {
        Allowance {
            escrow: Pubkey::default(),
            provider: Pubkey::default(),
            vault: Pubkey::default(),
            cap,
            claimed: 0,
            generation: 1,
            period_secs: 0,
            period_limit: 0,
            window_start: 0,
            window_spent: 0,
            expires_at: 0,
            delegate: None,
            pending_cap: None,
            reduction_effective_at: 0,
            bump: 255,
        }
    }

    #[test]
    fn settling_moves_the_watermark_and_pays_the_difference() {
        let mut a = allowance(100);
        assert_eq!(a.settle(30, 0).unwrap(), 30);
        assert_eq!(a.settle(30, 0).unwrap(), 0);
        assert_eq!(a.settle(50, 0).unwrap(), 20);
        assert_eq!(a.claimed, 50);
    }

    #[test]
    fn windows_roll_on_period_boundaries_aligned_to_the_first_window() {
        let mut a = Allowance {
            period_secs: 10,
            period_limit: 5,
            window_start: 100,
            ..allowance(100)
        };
        assert_eq!(a.settle(8, 105).unwrap(), 5);
        assert_eq!(a.settle(8, 109).unwrap(), 0);
        assert_eq!(a.settle(8, 125).unwrap(), 3);
        assert_eq!(a.window_start, 120);
    }

    #[test]
    fn a_due_reduction_never_drops_the_cap_below_what_was_claimed() {
        let mut a = allowance(100);
        a.settle(60, 0).unwrap();
        a.pending_cap = Some(10);
        a.reduction_effective_at = 50;
        assert_eq!(a.effective_cap(49), 100);
        assert_eq!(a.effective_cap(50), 60);
        assert_eq!(a.apply_due_reduction(50), 40);
        assert_eq!((a.cap, a.pending_cap), (60, None));
    }
}
