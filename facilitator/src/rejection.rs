//! Why a payment was refused: an x402 reason code and a readable message,
//! and whether the refusal is a judgement of the payment or a failure of the
//! facilitator (which the HTTP layer answers with 503 or 504, not 200).

use serde_json::Value;
use solana_pubkey::Pubkey;

/// A failure of the facilitator rather than of the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing was done (the chain or the store could not be used): 503.
    Unavailable,
    /// Something may have been done, its outcome is unknown: 504. Sending
    /// the same payment again settles it at most once.
    OutcomeUnknown,
}

/// A refused payment. `reason` is the x402 (or paytab) reason code a program
/// acts on; `message` says what was wrong for a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Reason code, e.g. `insufficient_funds`.
    pub reason: &'static str,
    /// Readable explanation; never contains internal error details.
    pub message: String,
    /// The payer, when it was known before the refusal.
    pub payer: Option<Pubkey>,
    /// Details a client can act on (for escrow, the accepted cumulative amount).
    pub extensions: Option<Value>,
    /// Set when the facilitator failed, rather than the payment.
    pub fault: Option<Fault>,
}

impl Rejection {
    /// A refusal with `reason` and `message`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            payer: None,
            extensions: None,
            fault: None,
        }
    }

    /// A payment settled before: `duplicate_settlement`, with the proof
    /// issued then (if any) so that a lost answer can be recovered.
    pub fn duplicate(message: impl Into<String>, proof: Option<&str>) -> Self {
        let rejection = Self::new("duplicate_settlement", message);
        match proof {
            Some(proof) => {
                rejection.with_extensions(serde_json::json!({"paytab": {"proof": proof}}))
            }
            None => rejection,
        }
    }

    /// Names the payer.
    pub fn with_payer(mut self, payer: Pubkey) -> Self {
        self.payer = Some(payer);
        self
    }

    /// Attaches details for the client.
    pub fn with_extensions(mut self, extensions: Value) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// The chain or the store failed during verification; the cause is
    /// logged, not returned.
    pub fn verify_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "verification failed unexpectedly");
        Self {
            fault: Some(Fault::Unavailable),
            ..Self::new(
                "unexpected_verify_error",
                "the facilitator could not verify the payment right now; nothing was charged, try again",
            )
        }
    }

    /// The chain or the store failed before anything was settled; the cause
    /// is logged, not returned.
    pub fn settle_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "settlement failed unexpectedly");
        Self {
            fault: Some(Fault::Unavailable),
            ..Self::new(
                "unexpected_settle_error",
                "the facilitator could not settle the payment right now; nothing was charged, try again",
            )
        }
    }

    /// The settlement may have happened, but its outcome is not known yet;
    /// the cause is logged, not returned.
    pub fn outcome_unknown(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "settlement outcome unknown");
        Self {
            fault: Some(Fault::OutcomeUnknown),
            ..Self::new(
                "settlement_outcome_unknown",
                "the payment may have settled: send the same payment again to get its answer; \
                 it is never settled twice",
            )
        }
    }
}
