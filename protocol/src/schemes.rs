//! The names of payment schemes on the wire.
//!
//! paytab's own x402 scheme carries a vendor prefix: `escrow` alone means
//! something else in x402 (`extra.paymentFlow: "escrow"`, and an upstream
//! `escrow` scheme proposal), so a client that learnt that meaning could
//! misread paytab's offers (ADR 0016).

/// paytab's x402 scheme: a signed cumulative receipt against an allowance
/// of a prepaid on-chain escrow (`docs/protocol.md` §5).
pub const PAYTAB_ESCROW: &str = "paytab-escrow";

/// The x402 `exact` scheme.
pub const EXACT: &str = "exact";

/// The paytab program's address, which `paytab-escrow` offers name in
/// `extra.programId` (the program crate's `declare_id!`; a facilitator test
/// checks they agree).
pub const PAYTAB_PROGRAM_ID: &str = "Da7TL4MF2rxrW4VBUHJKQHX9zRJft4nYR8L2VeSWpGf4";
