//! The checks a receipt must pass against on-chain state, as pure functions.

use paytab::state::{Allowance, Escrow};
use serde_json::json;
use solana_pubkey::Pubkey;

use super::payload::SignedReceipt;
use crate::chain::AllowanceState;
use crate::rejection::Rejection;

/// What a receipt is checked against besides chain state.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    /// The price.
    pub amount: u64,
    /// The mint required.
    pub asset: Pubkey,
    /// The provider required.
    pub pay_to: Pubkey,
    /// The key this facilitator claims with; allowances must name it as delegate.
    pub delegate: Pubkey,
    /// Unix time now.
    pub now: i64,
    /// Allowances expiring sooner than this many seconds are refused, so that
    /// accepted receipts can still be claimed.
    pub expiry_margin_secs: i64,
}

/// Checks who signed and which allowance it is for: everything that does not
/// depend on the accepted watermark. Failures here may pass on fresher state.
pub fn check_authority(
    signed: &SignedReceipt,
    state: &AllowanceState,
    terms: &Terms,
) -> Result<(), Rejection> {
    let allowance = &state.allowance;
    let escrow = &state.escrow;
    if allowance.provider != terms.pay_to {
        return Err(reject(
            "invalid_escrow_payload_recipient_mismatch",
            "the allowance pays another provider than payTo",
        ));
    }
    if escrow.mint != terms.asset {
        return Err(reject(
            "invalid_escrow_payload_mint_mismatch",
            "the escrow holds another mint than the required asset",
        ));
    }
    if signed.receipt.generation != allowance.generation {
        return Err(reject(
            "invalid_escrow_payload_generation_mismatch",
            format!(
                "the receipt is for generation {}, the allowance is at {}",
                signed.receipt.generation, allowance.generation
            ),
        ));
    }
    if allowance.delegate != Some(terms.delegate) {
        return Err(reject(
            "invalid_escrow_payload_delegate_mismatch",
            format!(
                "the allowance must name this facilitator's key {} as delegate",
                terms.delegate
            ),
        ));
    }
    if !signed_by_payer(escrow, &signed.signer, terms.now) {
        return Err(reject(
            "invalid_escrow_payload_unauthorized_signer",
            "the receipt is not signed by the escrow owner or its live session key",
        ));
    }
    if allowance.pending_cap == Some(0) {
        return Err(reject(
            "invalid_escrow_payload_allowance_revoked",
            "the payer has revoked this allowance",
        ));
    }
    if allowance.expires_at != 0
        && terms.now.saturating_add(terms.expiry_margin_secs) >= allowance.expires_at
    {
        return Err(reject(
            "invalid_escrow_payload_allowance_expired",
            "the allowance has expired or expires too soon to be claimed",
        ));
    }
    if signed.receipt.is_expired(terms.now) {
        return Err(reject(
            "invalid_escrow_payload_receipt_expired",
            "the receipt has expired",
        ));
    }
    Ok(())
}

/// Checks the receipt's cumulative amount: exactly `accepted + amount`, within
/// the cap (counting a pending reduction) and the period limit. `accepted` is
/// the highest cumulative accepted or claimed so far.
pub fn check_amount(
    signed: &SignedReceipt,
    state: &AllowanceState,
    terms: &Terms,
    accepted: u64,
) -> Result<(), Rejection> {
    let allowance = &state.allowance;
    let expected = accepted.checked_add(terms.amount);
    if Some(signed.receipt.cumulative) != expected {
        return Err(stale(
            accepted,
            allowance.generation,
            signed.receipt.cumulative,
        ));
    }
    let limit = claimable_limit(allowance);
    if signed.receipt.cumulative > limit {
        return Err(reject(
            "insufficient_funds",
            format!(
                "the allowance has {} left of its cap, the price is {}",
                limit.saturating_sub(accepted),
                terms.amount
            ),
        )
        .with_extensions(accepted_extension(accepted, allowance.generation)));
    }
    if let Some(room) = period_room(allowance, accepted, terms.now) {
        if terms.amount > room {
            return Err(reject(
                "invalid_escrow_payload_period_limit",
                format!("the allowance's period limit leaves {room} in this window"),
            ));
        }
    }
    Ok(())
}

/// Whether a refusal could be lifted by chain state newer than the cached copy.
pub fn may_pass_on_fresh_state(rejection: &Rejection) -> bool {
    matches!(
        rejection.reason,
        "invalid_escrow_payload_generation_mismatch"
            | "invalid_escrow_payload_delegate_mismatch"
            | "invalid_escrow_payload_unauthorized_signer"
            | "invalid_escrow_payload_allowance_expired"
            | "insufficient_funds"
            | "invalid_escrow_payload_period_limit"
    )
}

/// The reason of a refusal for a stale count.
pub const STALE: &str = "invalid_escrow_payload_stale_cumulative";

/// The refusal that tells a client its count is stale, and where to resume.
pub fn stale(accepted: u64, generation: u64, offered: u64) -> Rejection {
    reject(
        STALE,
        format!(
            "cumulative {offered} is not the last accepted {accepted} plus the price; \
             sign again from acceptedCumulative"
        ),
    )
    .with_extensions(accepted_extension(accepted, generation))
}

/// `extensions.paytab` naming the accepted watermark.
pub fn accepted_extension(accepted: u64, generation: u64) -> serde_json::Value {
    json!({"paytab": {"acceptedCumulative": accepted.to_string(), "generation": generation.to_string()}})
}

/// The highest cumulative this facilitator accepts: the cap, or a pending
/// reduction's new cap (never below what is already claimed), whichever is lower.
pub fn claimable_limit(allowance: &Allowance) -> u64 {
    match allowance.pending_cap {
        Some(pending) => allowance.cap.min(pending.max(allowance.claimed)),
        None => allowance.cap,
    }
}

/// What the period limit still allows now, counting accepted receipts not yet
/// claimed as spent in the current window; `None` without a period limit.
fn period_room(allowance: &Allowance, accepted: u64, now: i64) -> Option<u64> {
    if allowance.period_secs == 0 {
        return None;
    }
    let window_over =
        now.saturating_sub(allowance.window_start) >= i64::from(allowance.period_secs);
    let spent = if window_over {
        0
    } else {
        allowance.window_spent
    };
    let unclaimed = accepted.saturating_sub(allowance.claimed);
    Some(
        allowance
            .period_limit
            .saturating_sub(spent.saturating_add(unclaimed)),
    )
}

fn signed_by_payer(escrow: &Escrow, signer: &Pubkey, now: i64) -> bool {
    *signer == escrow.owner
        || (escrow.session_key.as_ref() == Some(signer) && now < escrow.session_expires_at)
}

fn reject(reason: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::new(reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowance(cap: u64, claimed: u64) -> Allowance {
        Allowance {
            escrow: Pubkey::default(),
            provider: Pubkey::default(),
            vault: Pubkey::default(),
            cap,
            claimed,
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
    fn a_pending_reduction_lowers_the_limit_at_once_but_never_below_what_is_claimed() {
        let mut reduced = allowance(100, 30);
        assert_eq!(claimable_limit(&reduced), 100);
        reduced.pending_cap = Some(50);
        assert_eq!(claimable_limit(&reduced), 50);
        reduced.pending_cap = Some(10);
        assert_eq!(claimable_limit(&reduced), 30);
        reduced.pending_cap = Some(500);
        assert_eq!(claimable_limit(&reduced), 100, "a reduction never raises");
    }

    #[test]
    fn unclaimed_receipts_count_against_the_current_window() {
        let mut limited = Allowance {
            period_secs: 60,
            period_limit: 100,
            window_start: 1_000,
            window_spent: 40,
            ..allowance(1_000, 200)
        };
        // 40 spent on chain, 30 accepted but not yet claimed.
        assert_eq!(period_room(&limited, 230, 1_030), Some(30));
        // A new window forgets what was spent, not what is unclaimed.
        assert_eq!(period_room(&limited, 230, 1_060), Some(70));
        limited.period_secs = 0;
        assert_eq!(period_room(&limited, 230, 1_030), None);
    }
}
