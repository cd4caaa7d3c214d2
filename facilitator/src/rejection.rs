//! Why a payment was refused: an x402 reason code and a readable message.

use serde_json::Value;
use solana_pubkey::Pubkey;

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
}

impl Rejection {
    /// A refusal with `reason` and `message`.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            payer: None,
            extensions: None,
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

    /// An internal failure during verification; the cause is logged, not returned.
    pub fn verify_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "verification failed unexpectedly");
        Self::new(
            "unexpected_verify_error",
            "the facilitator could not verify the payment; try again",
        )
    }

    /// An internal failure during settlement; the cause is logged, not returned.
    pub fn settle_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "settlement failed unexpectedly");
        Self::new(
            "unexpected_settle_error",
            "the facilitator could not settle the payment; try again",
        )
    }
}
