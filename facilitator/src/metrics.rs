//! Prometheus metrics, kept in process-wide atomics and rendered as text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::claimer::ClaimRound;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `by`.
    pub fn add(&self, by: u64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the settle latency histogram, in microseconds.
const LATENCY_BOUNDS_US: [u64; 10] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, 10_000_000,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation of `micros`.
    pub fn observe(&self, micros: u64) {
        for (bucket, bound) in self.buckets.iter().zip(LATENCY_BOUNDS_US) {
            if micros <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Outcome counters per route and scheme.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// Accepted payments.
    pub ok: Counter,
    /// Refused payments.
    pub refused: Counter,
}

/// Every metric the facilitator exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `/verify` of `exact`.
    pub verify_exact: Outcomes,
    /// `/verify` of `escrow`.
    pub verify_escrow: Outcomes,
    /// `/settle` of `exact`.
    pub settle_exact: Outcomes,
    /// `/settle` of `escrow`.
    pub settle_escrow: Outcomes,
    /// Escrow receipts refused as stale.
    pub stale_receipts: Counter,
    /// Settle latency.
    pub settle_latency: Histogram,
    /// Claim transactions confirmed.
    pub claims_confirmed: Counter,
    /// Claim transactions failed.
    pub claims_failed: Counter,
    /// Claim transactions expired unlanded.
    pub claims_expired: Counter,
    /// Raw units paid to providers by claims.
    pub claimed_units: Counter,
}

/// The process's metrics.
pub static METRICS: std::sync::LazyLock<Metrics> = std::sync::LazyLock::new(Metrics::default);

/// Adds a claim round's outcome.
pub fn record_claims(round: &ClaimRound) {
    METRICS.claims_confirmed.add(round.confirmed as u64);
    METRICS.claims_failed.add(round.failed as u64);
    METRICS.claims_expired.add(round.expired as u64);
    METRICS.claimed_units.add(round.paid);
}

/// The Prometheus text exposition of every metric.
pub fn render() -> String {
    let m = &*METRICS;
    let mut out = String::with_capacity(2048);
    out.push_str("# HELP paytab_payments_total Payments verified or settled, by route, scheme and outcome.\n");
    out.push_str("# TYPE paytab_payments_total counter\n");
    for (route, scheme, outcomes) in [
        ("verify", "exact", &m.verify_exact),
        ("verify", "escrow", &m.verify_escrow),
        ("settle", "exact", &m.settle_exact),
        ("settle", "escrow", &m.settle_escrow),
    ] {
        for (outcome, counter) in [("ok", &outcomes.ok), ("refused", &outcomes.refused)] {
            let _ = writeln!(
                out,
                "paytab_payments_total{{route=\"{route}\",scheme=\"{scheme}\",outcome=\"{outcome}\"}} {}",
                counter.get()
            );
        }
    }
    counter(
        &mut out,
        "paytab_stale_receipts_total",
        "Escrow receipts refused as stale.",
        &m.stale_receipts,
    );
    counter(
        &mut out,
        "paytab_claims_confirmed_total",
        "Claim transactions confirmed.",
        &m.claims_confirmed,
    );
    counter(
        &mut out,
        "paytab_claims_failed_total",
        "Claim transactions that failed.",
        &m.claims_failed,
    );
    counter(
        &mut out,
        "paytab_claims_expired_total",
        "Claim transactions that expired unlanded.",
        &m.claims_expired,
    );
    counter(
        &mut out,
        "paytab_claimed_units_total",
        "Raw token units paid to providers by claims.",
        &m.claimed_units,
    );

    out.push_str(
        "# HELP paytab_settle_seconds Settle latency.\n# TYPE paytab_settle_seconds histogram\n",
    );
    let h = &m.settle_latency;
    for (bucket, bound) in h.buckets.iter().zip(LATENCY_BOUNDS_US) {
        let _ = writeln!(
            out,
            "paytab_settle_seconds_bucket{{le=\"{}\"}} {}",
            bound as f64 / 1e6,
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = h.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "paytab_settle_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(
        out,
        "paytab_settle_seconds_sum {}",
        h.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "paytab_settle_seconds_count {count}");
    out
}

fn counter(out: &mut String, name: &str, help: &str, value: &Counter) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.get()
    );
}
