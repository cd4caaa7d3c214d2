//! The facilitator's integration tests, one binary (each test binary links the
//! whole Agave runtime): the HTTP surface, the `exact` and `escrow` schemes,
//! the claimer, crash recovery, faults underneath, what unknown callers can
//! cost, the service catalog, and the store.

// Test code fails loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

mod support;

mod api;
mod catalog;
mod catalog_search;
mod claims;
mod crash;
mod escrow;
mod exact;
mod faults;
mod instances;
mod leadership;
mod lookup_claims;
mod operator_costs;
mod store;
