//! What the localnet remembers: processed transactions (for
//! `getSignatureStatuses`, `getTransaction`), the blocks that closed (for
//! `getBlock`, `getBlocks`, `getBlockTime`) and which transactions touched
//! each address (for `getSignaturesForAddress`). Bounded: the oldest are
//! forgotten first.

use std::collections::{BTreeMap, HashMap, VecDeque};

use solana_hash::Hash;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction_status_client_types::TransactionStatusMeta;

/// Transactions kept; the oldest are forgotten beyond this.
const CAPACITY: usize = 200_000;
/// Blocks kept (about 11 hours of 400 ms slots).
const BLOCK_CAPACITY: usize = 100_000;
/// Signatures kept per address.
const PER_ADDRESS: usize = 10_000;

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

/// A block that closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    /// Its slot.
    pub slot: u64,
    /// The slot before it.
    pub parent_slot: u64,
    /// Its blockhash.
    pub blockhash: Hash,
    /// The parent's blockhash.
    pub previous_blockhash: Hash,
    /// Unix time of the slot.
    pub block_time: i64,
    /// Its block height.
    pub block_height: u64,
    /// Its transactions, in the order processed.
    pub signatures: Vec<Signature>,
}

/// An address's transaction, newest first in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressEntry {
    /// The transaction.
    pub signature: Signature,
    /// Its slot.
    pub slot: u64,
}

/// Transactions, blocks and the addresses they touched.
#[derive(Default)]
pub struct Ledger {
    by_signature: HashMap<Signature, StoredTransaction>,
    order: VecDeque<Signature>,
    blocks: BTreeMap<u64, BlockRecord>,
    /// Transactions of slots not closed yet.
    open: BTreeMap<u64, Vec<Signature>>,
    by_address: HashMap<Pubkey, VecDeque<AddressEntry>>,
}

impl Ledger {
    /// Records a committed transaction and the addresses it touched.
    pub fn record(&mut self, signature: Signature, stored: StoredTransaction, touched: &[Pubkey]) {
        let slot = stored.slot;
        if self.by_signature.insert(signature, stored).is_some() {
            return;
        }
        self.order.push_back(signature);
        self.open.entry(slot).or_default().push(signature);
        for address in touched {
            let entries = self.by_address.entry(*address).or_default();
            entries.push_back(AddressEntry { signature, slot });
            if entries.len() > PER_ADDRESS {
                entries.pop_front();
            }
        }
        while self.order.len() > CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.by_signature.remove(&oldest);
            }
        }
    }

    /// Closes the block of `block.slot` with the transactions recorded in it.
    pub fn close_block(&mut self, mut block: BlockRecord) {
        block.signatures = self.open.remove(&block.slot).unwrap_or_default();
        // Transactions of slots before it can no longer arrive.
        self.open.retain(|slot, _| *slot > block.slot);
        self.blocks.insert(block.slot, block);
        while self.blocks.len() > BLOCK_CAPACITY {
            self.blocks.pop_first();
        }
    }

    /// The stored transaction with `signature`, if known.
    pub fn get(&self, signature: &Signature) -> Option<&StoredTransaction> {
        self.by_signature.get(signature)
    }

    /// The closed block of `slot`, if kept.
    pub fn block(&self, slot: u64) -> Option<&BlockRecord> {
        self.blocks.get(&slot)
    }

    /// Closed slots from `start` through `end`, at most `limit`.
    pub fn slots(&self, start: u64, end: u64, limit: usize) -> Vec<u64> {
        self.blocks
            .range(start..=end)
            .map(|(slot, _)| *slot)
            .take(limit)
            .collect()
    }

    /// The oldest block kept.
    pub fn first_slot(&self) -> Option<u64> {
        self.blocks.keys().next().copied()
    }

    /// `address`'s transactions, newest first: those before `before` (when
    /// given), down to but excluding `until`, at most `limit`.
    pub fn signatures_for(
        &self,
        address: &Pubkey,
        before: Option<&Signature>,
        until: Option<&Signature>,
        limit: usize,
    ) -> Vec<AddressEntry> {
        let Some(entries) = self.by_address.get(address) else {
            return Vec::new();
        };
        let newest_first = entries.iter().rev();
        let mut started = before.is_none();
        let mut found = Vec::new();
        for entry in newest_first {
            if !started {
                started = Some(&entry.signature) == before;
                continue;
            }
            if Some(&entry.signature) == until || found.len() == limit {
                break;
            }
            found.push(*entry);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(slot: u64) -> StoredTransaction {
        StoredTransaction {
            slot,
            block_time: 1,
            transaction: VersionedTransaction::default(),
            meta: TransactionStatusMeta::default(),
        }
    }

    fn block(slot: u64) -> BlockRecord {
        BlockRecord {
            slot,
            parent_slot: slot.saturating_sub(1),
            blockhash: Hash::new_unique(),
            previous_blockhash: Hash::new_unique(),
            block_time: 1,
            block_height: slot,
            signatures: Vec::new(),
        }
    }

    #[test]
    fn a_closed_block_lists_its_transactions_and_addresses_list_theirs_newest_first() {
        let mut ledger = Ledger::default();
        let address = Pubkey::new_unique();
        let signatures: Vec<Signature> = (0..4u8)
            .map(|byte| Signature::from([byte + 1; 64]))
            .collect();
        for (index, signature) in signatures.iter().enumerate() {
            ledger.record(*signature, stored(5 + index as u64 / 2), &[address]);
        }
        ledger.close_block(block(5));
        ledger.close_block(block(6));
        assert_eq!(
            ledger.block(5).map(|b| b.signatures.clone()),
            Some(signatures[..2].to_vec())
        );
        assert_eq!(ledger.slots(0, 10, 10), vec![5, 6]);
        let newest: Vec<Signature> = ledger
            .signatures_for(&address, None, None, 10)
            .iter()
            .map(|entry| entry.signature)
            .collect();
        assert_eq!(newest, signatures.iter().rev().copied().collect::<Vec<_>>());
        let page = ledger.signatures_for(&address, Some(&signatures[3]), Some(&signatures[0]), 10);
        assert_eq!(
            page.iter().map(|entry| entry.signature).collect::<Vec<_>>(),
            vec![signatures[2], signatures[1]]
        );
        assert!(ledger
            .signatures_for(&Pubkey::new_unique(), None, None, 10)
            .is_empty());
    }
}
