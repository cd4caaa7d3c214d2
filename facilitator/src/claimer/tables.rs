//! The claimer's address lookup tables, through their whole life: created
//! and extended with the allowance and vault addresses claims need (recorded
//! in the store before the creating transaction is sent), reused across
//! rounds, used by a claim only for addresses already active (a table
//! extended in this slot serves its new addresses from the next), deactivated
//! when idle and closed once deactivated for longer than the slot-hash
//! history, which returns their rent to the delegate.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use paytab_protocol::clock::unix_now;
use solana_address_lookup_table_interface::instruction as alt;
use solana_address_lookup_table_interface::state::{
    estimate_last_valid_slot, AddressLookupTable, LOOKUP_TABLE_MAX_ADDRESSES,
};
use solana_commitment_config::CommitmentConfig;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::Transaction;

use super::{rpc_error, ClaimError, ClaimRound};
use crate::store::{Store, TableRecord, TableStatus};

/// Addresses added per extending transaction (one that also creates the
/// table, with 28 addresses, is about 1,170 bytes of the 1,232 allowed).
const EXTEND_CHUNK: usize = 28;

/// A table recorded but absent on chain after this long never got created.
const CREATION_GRACE_SECS: i64 = 300;

/// How the claimer keeps its tables.
#[derive(Debug, Clone, Copy)]
pub struct TableConfig {
    /// A table no claim used for this long is deactivated, then closed.
    pub idle: Duration,
    /// How long a round waits for new addresses to become usable before
    /// claiming those allowances with legacy transactions instead.
    pub activation_timeout: Duration,
}

impl Default for TableConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(3_600),
            activation_timeout: Duration::from_secs(10),
        }
    }
}

/// A table as the chain holds it.
#[derive(Debug, Clone)]
struct LiveTable {
    key: Pubkey,
    addresses: Vec<Pubkey>,
    last_extended_slot: u64,
    last_extended_slot_start_index: usize,
}

impl LiveTable {
    /// The table's addresses a transaction processed at `slot` may look up:
    /// all, or only those from before its last extension if that was at `slot`.
    fn usable_at(&self, slot: u64) -> AddressLookupTableAccount {
        let active = if slot > self.last_extended_slot {
            self.addresses.len()
        } else {
            self.last_extended_slot_start_index
                .min(self.addresses.len())
        };
        AddressLookupTableAccount {
            key: self.key,
            addresses: self.addresses[..active].to_vec(),
        }
    }
}

/// The delegate's lookup tables.
pub struct LookupTables {
    rpc: Arc<RpcClient>,
    store: Store,
    authority: Arc<Keypair>,
    config: TableConfig,
}

impl LookupTables {
    /// Tables owned and paid for by `authority` (the claimer's delegate).
    pub fn new(
        rpc: Arc<RpcClient>,
        store: Store,
        authority: Arc<Keypair>,
        config: TableConfig,
    ) -> Self {
        Self {
            rpc,
            store,
            authority,
            config,
        }
    }

    /// Puts every address of `needed` into a table (extending tables with
    /// room, creating others) and returns the tables as usable now, after
    /// waiting up to the activation timeout for new addresses. A failure
    /// here is logged and leaves the claims to legacy transactions.
    pub async fn prepare(
        &self,
        needed: &[Pubkey],
        round: &mut ClaimRound,
    ) -> Vec<AddressLookupTableAccount> {
        match self.try_prepare(needed, round).await {
            Ok(tables) => tables,
            Err(error) => {
                tracing::warn!(%error, "lookup tables not ready; claiming with legacy transactions");
                self.usable().await.unwrap_or_default()
            }
        }
    }

    /// Records that claims used `tables` now.
    pub async fn touch(&self, tables: &[AddressLookupTableAccount]) {
        for table in tables {
            if let Err(error) = self.store.touch_lookup_table(&table.key, unix_now()).await {
                tracing::warn!(%error, table = %table.key, "lookup table use not recorded");
            }
        }
    }

    /// Deactivates tables idle for longer than the idle time and closes
    /// those deactivated long enough, returning their rent. Failures are
    /// logged and tried again next round.
    pub async fn retire_idle(&self, round: &mut ClaimRound) {
        if let Err(error) = self.try_retire_idle(round).await {
            tracing::warn!(%error, "idle lookup tables not retired this round");
        }
    }

    async fn try_prepare(
        &self,
        needed: &[Pubkey],
        round: &mut ClaimRound,
    ) -> Result<Vec<AddressLookupTableAccount>, ClaimError> {
        let mut live = self.live().await?;
        let present: HashSet<Pubkey> = live.iter().flat_map(|t| t.addresses.clone()).collect();
        let mut seen = HashSet::new();
        let missing: Vec<Pubkey> = needed
            .iter()
            .filter(|address| !present.contains(address) && seen.insert(**address))
            .copied()
            .collect();
        if !missing.is_empty() {
            let changed = self.add(&mut live, &missing, round).await?;
            self.wait_until_active(&changed).await?;
        }
        self.usable().await
    }

    /// The tables as usable by a transaction processed now.
    async fn usable(&self) -> Result<Vec<AddressLookupTableAccount>, ClaimError> {
        let live = self.live().await?;
        let slot = self.slot().await?;
        Ok(live.iter().map(|table| table.usable_at(slot)).collect())
    }

    /// Adds `missing` to tables with room, creating tables as needed; returns
    /// the tables changed, as the chain holds them afterwards.
    async fn add(
        &self,
        live: &mut Vec<LiveTable>,
        missing: &[Pubkey],
        round: &mut ClaimRound,
    ) -> Result<Vec<LiveTable>, ClaimError> {
        let authority = self.authority.pubkey();
        let mut changed = Vec::new();
        let mut queue = missing.to_vec();
        // Tables with room first, then new ones.
        let mut targets: Vec<(Pubkey, usize)> = live
            .iter()
            .filter(|table| table.addresses.len() < LOOKUP_TABLE_MAX_ADDRESSES)
            .map(|table| {
                (
                    table.key,
                    LOOKUP_TABLE_MAX_ADDRESSES - table.addresses.len(),
                )
            })
            .collect();
        while !queue.is_empty() {
            let (key, room, mut create) = match targets.pop() {
                Some((key, room)) => (key, room, None),
                None => {
                    let recent_slot = self
                        .rpc
                        .get_slot_with_commitment(CommitmentConfig::confirmed())
                        .await
                        .map_err(rpc_error)?
                        .saturating_sub(1);
                    let (create, key) = alt::create_lookup_table(authority, authority, recent_slot);
                    // Recorded first: a table is never created without a record.
                    self.store
                        .record_lookup_table(&key, &authority, unix_now())
                        .await?;
                    round.tables_created += 1;
                    (key, LOOKUP_TABLE_MAX_ADDRESSES, Some(create))
                }
            };
            let take = room.min(queue.len());
            let batch: Vec<Pubkey> = queue.drain(..take).collect();
            for chunk in batch.chunks(EXTEND_CHUNK) {
                // A new table is created by the transaction carrying its first addresses.
                let mut instructions: Vec<Instruction> = create.take().into_iter().collect();
                instructions.push(alt::extend_lookup_table(
                    key,
                    authority,
                    Some(authority),
                    chunk.to_vec(),
                ));
                self.send(&instructions).await?;
                round.table_transactions += 1;
            }
            tracing::info!(table = %key, added = batch.len(), "lookup table extended");
            changed.push(key);
        }
        let tables = self.fetch(&changed).await?;
        let fresh: Vec<LiveTable> = tables.into_iter().flatten().collect();
        live.retain(|table| !changed.contains(&table.key));
        live.extend(fresh.iter().cloned());
        Ok(fresh)
    }

    /// Waits until every address of `tables` is usable, or the timeout.
    async fn wait_until_active(&self, tables: &[LiveTable]) -> Result<(), ClaimError> {
        let Some(last) = tables.iter().map(|table| table.last_extended_slot).max() else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + self.config.activation_timeout;
        while self.slot().await? <= last {
            if tokio::time::Instant::now() >= deadline {
                tracing::info!(
                    slot = last,
                    "lookup table addresses not active yet; their claims go legacy"
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn try_retire_idle(&self, round: &mut ClaimRound) -> Result<(), ClaimError> {
        let now = unix_now();
        let idle = i64::try_from(self.config.idle.as_secs()).unwrap_or(i64::MAX);
        let records = self.store.lookup_tables(&self.authority.pubkey()).await?;
        let mut slot = None;
        for record in records {
            match record.status {
                TableStatus::Active if now.saturating_sub(record.last_used_at) >= idle => {
                    if self.account(&record.address).await?.is_none() {
                        self.forget_if_never_created(&record, now).await?;
                        continue;
                    }
                    let authority = self.authority.pubkey();
                    self.send(&[alt::deactivate_lookup_table(record.address, authority)])
                        .await?;
                    round.table_transactions += 1;
                    self.store
                        .set_lookup_table_status(&record.address, TableStatus::Deactivated)
                        .await?;
                    tracing::info!(table = %record.address, "idle lookup table deactivated");
                }
                TableStatus::Deactivated => {
                    let Some((lamports, deactivation_slot)) = self.deactivation(&record).await?
                    else {
                        self.store
                            .set_lookup_table_status(&record.address, TableStatus::Closed)
                            .await?;
                        continue;
                    };
                    let current = match slot {
                        Some(current) => current,
                        None => *slot.insert(self.slot().await?),
                    };
                    if current <= estimate_last_valid_slot(deactivation_slot) {
                        continue;
                    }
                    let authority = self.authority.pubkey();
                    self.send(&[alt::close_lookup_table(
                        record.address,
                        authority,
                        authority,
                    )])
                    .await?;
                    round.table_transactions += 1;
                    round.tables_closed += 1;
                    round.table_rent_recovered =
                        round.table_rent_recovered.saturating_add(lamports);
                    self.store
                        .set_lookup_table_status(&record.address, TableStatus::Closed)
                        .await?;
                    tracing::info!(table = %record.address, lamports, "lookup table closed, rent recovered");
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A deactivated table's lamports and deactivation slot, if it exists.
    async fn deactivation(&self, record: &TableRecord) -> Result<Option<(u64, u64)>, ClaimError> {
        let Some(account) = self.account(&record.address).await? else {
            return Ok(None);
        };
        let table = AddressLookupTable::deserialize(&account.data).map_err(|error| {
            ClaimError::Rpc(format!("lookup table {}: {error}", record.address))
        })?;
        Ok(Some((account.lamports, table.meta.deactivation_slot)))
    }

    /// Active tables (not deactivating) as the chain holds them; records of
    /// tables that never got created are closed.
    async fn live(&self) -> Result<Vec<LiveTable>, ClaimError> {
        let now = unix_now();
        let records: Vec<TableRecord> = self
            .store
            .lookup_tables(&self.authority.pubkey())
            .await?
            .into_iter()
            .filter(|record| record.status == TableStatus::Active)
            .collect();
        let keys: Vec<Pubkey> = records.iter().map(|record| record.address).collect();
        let tables = self.fetch(&keys).await?;
        let mut live = Vec::with_capacity(records.len());
        for (record, table) in records.iter().zip(tables) {
            match table {
                Some(table) => live.push(table),
                None => self.forget_if_never_created(record, now).await?,
            }
        }
        Ok(live)
    }

    async fn forget_if_never_created(
        &self,
        record: &TableRecord,
        now: i64,
    ) -> Result<(), ClaimError> {
        if now.saturating_sub(record.created_at) > CREATION_GRACE_SECS {
            self.store
                .set_lookup_table_status(&record.address, TableStatus::Closed)
                .await?;
        }
        Ok(())
    }

    /// The tables at `keys` that exist and are not deactivating.
    async fn fetch(&self, keys: &[Pubkey]) -> Result<Vec<Option<LiveTable>>, ClaimError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let accounts = self
                .rpc
                .get_multiple_accounts_with_commitment(chunk, CommitmentConfig::confirmed())
                .await
                .map_err(rpc_error)?
                .value;
            for (key, account) in chunk.iter().zip(accounts) {
                let table = account.and_then(|account| {
                    let table = AddressLookupTable::deserialize(&account.data).ok()?;
                    (table.meta.deactivation_slot == u64::MAX).then(|| LiveTable {
                        key: *key,
                        addresses: table.addresses.to_vec(),
                        last_extended_slot: table.meta.last_extended_slot,
                        last_extended_slot_start_index: usize::from(
                            table.meta.last_extended_slot_start_index,
                        ),
                    })
                });
                out.push(table);
            }
        }
        Ok(out)
    }

    async fn account(&self, key: &Pubkey) -> Result<Option<solana_account::Account>, ClaimError> {
        Ok(self
            .rpc
            .get_account_with_commitment(key, CommitmentConfig::confirmed())
            .await
            .map_err(rpc_error)?
            .value)
    }

    async fn slot(&self) -> Result<u64, ClaimError> {
        self.rpc
            .get_slot_with_commitment(CommitmentConfig::processed())
            .await
            .map_err(rpc_error)
    }

    /// Sends one table transaction, paid and signed by the authority, and
    /// waits for it to be confirmed.
    async fn send(&self, instructions: &[Instruction]) -> Result<(), ClaimError> {
        let authority = self.authority.as_ref();
        let blockhash = self.rpc.get_latest_blockhash().await.map_err(rpc_error)?;
        let transaction = Transaction::new_signed_with_payer(
            instructions,
            Some(&authority.pubkey()),
            &[authority],
            blockhash,
        );
        self.rpc
            .send_and_confirm_transaction(&transaction)
            .await
            .map_err(rpc_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(addresses: usize, last_extended_slot: u64, start_index: usize) -> LiveTable {
        LiveTable {
            key: Pubkey::new_unique(),
            addresses: (0..addresses).map(|_| Pubkey::new_unique()).collect(),
            last_extended_slot,
            last_extended_slot_start_index: start_index,
        }
    }

    #[test]
    fn addresses_added_in_a_slot_are_usable_only_from_the_next_slot() {
        let table = table(40, 100, 12);
        assert_eq!(table.usable_at(100).addresses.len(), 12);
        assert_eq!(table.usable_at(99).addresses.len(), 12);
        assert_eq!(table.usable_at(101).addresses.len(), 40);
    }

    #[test]
    fn a_table_created_in_this_slot_serves_nothing_yet() {
        assert!(table(28, 7, 0).usable_at(7).addresses.is_empty());
    }
}
