//! What the localnet remembers about processed transactions, for
//! `getSignatureStatuses` and `getTransaction`.

use std::collections::{HashMap, VecDeque};

use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction_status_client_types::TransactionStatusMeta;

/// Transactions kept; the oldest are forgotten beyond this.
const CAPACITY: usize = 200_000;

/// A committed transaction with its status metadata.
#[derive(Debug, Clone)]
pub struct StoredTransaction {
    /// Slot it was processed in.
    pub slot: u64,
    /// Unix time of that slot.
    pub block_time: i64,
    /// The transaction as sent.
    pub transaction: VersionedTransaction,
    /// Status, fee, balances, logs.
    pub meta: TransactionStatusMeta,
}

/// Processed transactions by signature, oldest evicted first.
#[derive(Default)]
pub struct Ledger {
    by_signature: HashMap<Signature, StoredTransaction>,
    order: VecDeque<Signature>,
}

impl Ledger {
    /// Records a committed transaction.
    pub fn record(&mut self, signature: Signature, stored: StoredTransaction) {
        if self.by_signature.insert(signature, stored).is_none() {
            self.order.push_back(signature);
        }
        while self.order.len() > CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.by_signature.remove(&oldest);
            }
        }
    }

    /// The stored transaction with `signature`, if known.
    pub fn get(&self, signature: &Signature) -> Option<&StoredTransaction> {
        self.by_signature.get(signature)
    }
}
