//! Prometheus counters of what the gateway did with requests.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to a request.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// Proxied without payment (free route).
    Free,
    /// Answered 402.
    Challenged,
    /// Paid with a proof (fast path).
    PaidProof,
    /// Paid through the facilitator (standard path).
    PaidFacilitator,
    /// Refused (bad payment, no route).
    Refused,
    /// Not charged because the upstream failed.
    UpstreamFailed,
    /// Signed in on a sign-in route (nothing paid).
    SignedIn,
}

const OUTCOMES: [(Outcome, &str); 7] = [
    (Outcome::Free, "free"),
    (Outcome::Challenged, "challenged"),
    (Outcome::PaidProof, "paid_proof"),
    (Outcome::PaidFacilitator, "paid_facilitator"),
    (Outcome::Refused, "refused"),
    (Outcome::UpstreamFailed, "upstream_failed"),
    (Outcome::SignedIn, "signed_in"),
];

static COUNTS: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

/// Counts one request.
pub fn record(outcome: Outcome) {
    COUNTS[outcome as usize].fetch_add(1, Ordering::Relaxed);
}

/// The Prometheus text exposition.
pub fn render() -> String {
    let mut out = String::from(
        "# HELP paytab_gateway_requests_total Requests by outcome.\n# TYPE paytab_gateway_requests_total counter\n",
    );
    for (outcome, name) in OUTCOMES {
        let _ = writeln!(
            out,
            "paytab_gateway_requests_total{{outcome=\"{name}\"}} {}",
            COUNTS[outcome as usize].load(Ordering::Relaxed)
        );
    }
    out
}
