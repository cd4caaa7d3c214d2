//! The chain: the working bank, its slot clock, and the transactions it processed.

use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::SanitizedMessage;
use solana_pubkey::Pubkey;
use solana_runtime::bank::{Bank, TransactionSimulationResult};
use solana_runtime::bank_forks::BankForks;
use solana_runtime_transaction::runtime_transaction::RuntimeTransaction;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::sanitized::SanitizedTransaction;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use solana_transaction_status_client_types::{
    TransactionConfirmationStatus, TransactionStatus, TransactionStatusMeta,
};

use crate::balances;
use crate::genesis::{self, USDC_DECIMALS};
use crate::ledger::{AddressEntry, BlockRecord, Ledger, StoredTransaction};

/// Slots after which a transaction counts as finalized (there is no consensus:
/// depth alone decides).
pub const FINALITY_DEPTH: u64 = 4;

/// Why a transaction was not accepted.
#[derive(Debug, Clone)]
pub enum ChainError {
    /// It failed to sanitize (bad layout, unknown lookup table, too large, ...).
    InvalidTransaction(TransactionError),
    /// A signature does not verify.
    SignatureVerification,
    /// Preflight simulation failed; the simulation is attached.
    Preflight(Box<Simulation>),
}

/// The outcome of simulating a transaction.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The runtime's verdict.
    pub result: Result<(), TransactionError>,
    /// Program logs.
    pub logs: Vec<String>,
    /// Compute units consumed.
    pub units_consumed: u64,
    /// Fee the transaction would pay.
    pub fee: Option<u64>,
    /// Blockhash used, when the caller asked to replace its own.
    pub replacement_blockhash: Option<(Hash, u64)>,
    /// Loaded account data size.
    pub loaded_accounts_data_size: u32,
}

/// What the localnet announces about itself.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// Genesis hash.
    pub genesis_hash: Hash,
    /// CAIP-2 network id: `solana:` + the first 32 characters of the genesis hash.
    pub network: String,
    /// The USDC-like test mint (SPL Token, 6 decimals).
    pub usdc_mint: Pubkey,
    /// The paytab program id.
    pub program_id: Pubkey,
    /// The faucet: pays airdrops and holds the test mint's authority.
    pub faucet: Pubkey,
    /// The (only) validator's identity.
    pub identity: Pubkey,
}

struct State {
    forks: Arc<RwLock<BankForks>>,
    bank: Arc<Bank>,
    ledger: Ledger,
}

/// What happened on the chain, for PubSub subscribers.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A transaction was processed (committed, successfully or not).
    Processed {
        /// Its signature.
        signature: Signature,
        /// The slot it was processed in.
        slot: u64,
        /// Its error, if it failed.
        err: Option<TransactionError>,
        /// Its log messages.
        logs: Vec<String>,
        /// Every account it named.
        accounts: Vec<Pubkey>,
    },
    /// A slot closed and the next one opened.
    Slot {
        /// The new working slot.
        slot: u64,
        /// The slot that closed.
        parent: u64,
        /// The newest rooted slot.
        root: u64,
    },
}

/// Events kept for a subscriber that falls behind.
const EVENT_BUFFER: usize = 4_096;

/// One embedded chain. All methods are synchronous and short; callers on an
/// async runtime may call them directly.
pub struct Chain {
    state: Mutex<State>,
    faucet: Keypair,
    info: ChainInfo,
    events: tokio::sync::broadcast::Sender<ChainEvent>,
}

impl Chain {
    /// Creates the chain at slot 1, its genesis derived from `seed`.
    pub fn new(seed: &str) -> Self {
        let genesis = genesis::build(seed);
        let genesis_hash = genesis.genesis_hash;
        let network = format!("solana:{}", &genesis_hash.to_string()[..32]);
        let info = ChainInfo {
            genesis_hash,
            network,
            usdc_mint: genesis.usdc_mint,
            program_id: paytab::ID,
            faucet: genesis.faucet.pubkey(),
            identity: genesis.identity,
        };
        let forks = BankForks::new_rw_arc(genesis.bank);
        let bank = read(&forks).working_bank();
        set_wall_clock(&bank);
        Self {
            state: Mutex::new(State {
                forks,
                bank,
                ledger: Ledger::default(),
            }),
            faucet: genesis.faucet,
            info,
            events: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// What the localnet announces about itself.
    pub fn info(&self) -> &ChainInfo {
        &self.info
    }

    /// The working bank, for reads.
    pub fn bank(&self) -> Arc<Bank> {
        self.lock().bank.clone()
    }

    /// Closes the current slot and opens the next: a new blockhash, the wall
    /// clock's time, and older slots rooted.
    pub fn advance_slot(&self) {
        let mut state = self.lock();
        let parent = state.bank.clone();
        parent.fill_bank_with_ticks_for_tests();
        let previous_blockhash = state
            .ledger
            .block(parent.parent_slot())
            .map_or_else(|| parent.parent_hash(), |block| block.blockhash);
        state.ledger.close_block(BlockRecord {
            slot: parent.slot(),
            parent_slot: parent.parent_slot(),
            blockhash: parent.last_blockhash(),
            previous_blockhash,
            block_time: parent.clock().unix_timestamp,
            block_height: parent.block_height(),
            signatures: Vec::new(),
        });
        let child = Bank::new_from_parent(parent.clone(), parent.collector_id(), parent.slot() + 1);
        let mut forks = write(&state.forks);
        let child = forks.insert(child).clone_without_scheduler();
        forks.set_root(parent.slot(), None, None);
        drop(forks);
        set_wall_clock(&child);
        let _ = self.events.send(ChainEvent::Slot {
            slot: child.slot(),
            parent: parent.slot(),
            root: parent.slot(),
        });
        state.bank = child;
    }

    /// Verifies, optionally preflights, and processes `transaction`.
    ///
    /// As on a validator, a transaction that passes verification but then cannot
    /// be committed (only possible with preflight skipped) is dropped: its
    /// signature is returned and never gets a status.
    pub fn submit(
        &self,
        transaction: VersionedTransaction,
        preflight: bool,
    ) -> Result<Signature, ChainError> {
        let mut state = self.lock();
        let bank = state.bank.clone();
        let sanitized = verify(&bank, transaction.clone(), true)?;
        let signature = *sanitized.signature();
        if preflight {
            let simulation = simulate_sanitized(&bank, &sanitized, None);
            if simulation.result.is_err() {
                return Err(ChainError::Preflight(Box::new(simulation)));
            }
        }
        let keys: Vec<Pubkey> = sanitized.message().account_keys().iter().copied().collect();
        let loaded_addresses = match sanitized.message() {
            SanitizedMessage::V0(loaded) => loaded.loaded_addresses.clone().into_owned(),
            SanitizedMessage::Legacy(_) => Default::default(),
        };
        let pre = balances::collect(&bank, &keys);
        let Ok(committed) = bank.process_transaction_with_metadata(transaction.clone()) else {
            return Ok(signature);
        };
        let post = balances::collect(&bank, &keys);
        let meta = TransactionStatusMeta {
            status: committed.status,
            fee: committed.fee_details.total_fee(),
            pre_balances: pre.lamports,
            post_balances: post.lamports,
            inner_instructions: None,
            log_messages: committed.log_messages,
            pre_token_balances: Some(pre.tokens),
            post_token_balances: Some(post.tokens),
            rewards: None,
            loaded_addresses,
            return_data: committed.return_data,
            compute_units_consumed: Some(committed.executed_units),
            cost_units: None,
        };
        let stored = StoredTransaction {
            slot: bank.slot(),
            block_time: bank.clock().unix_timestamp,
            transaction,
            meta,
        };
        let mut touched = keys;
        touched.extend(stored.meta.loaded_addresses.writable.iter());
        touched.extend(stored.meta.loaded_addresses.readonly.iter());
        let _ = self.events.send(ChainEvent::Processed {
            signature,
            slot: stored.slot,
            err: stored.meta.status.clone().err(),
            logs: stored.meta.log_messages.clone().unwrap_or_default(),
            accounts: touched.clone(),
        });
        state.ledger.record(signature, stored, &touched);
        Ok(signature)
    }

    /// Simulates `transaction` without committing it.
    pub fn simulate(
        &self,
        mut transaction: VersionedTransaction,
        sig_verify: bool,
        replace_recent_blockhash: bool,
    ) -> Result<Simulation, ChainError> {
        let bank = self.bank();
        let replacement = replace_recent_blockhash.then(|| {
            let blockhash = bank.last_blockhash();
            transaction.message.set_recent_blockhash(blockhash);
            let last_valid = bank
                .get_blockhash_last_valid_block_height(&blockhash)
                .unwrap_or_default();
            (blockhash, last_valid)
        });
        let sanitized = verify(&bank, transaction, sig_verify)?;
        Ok(simulate_sanitized(&bank, &sanitized, replacement))
    }

    /// Sends `lamports` from the faucet to `to`.
    pub fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<Signature, ChainError> {
        let transfer =
            solana_system_interface::instruction::transfer(&self.faucet.pubkey(), to, lamports);
        self.submit_from_faucet(&[transfer])
    }

    /// Mints `amount` raw units of test USDC into `owner`'s associated token
    /// account, creating it if needed.
    pub fn mint_usdc(&self, owner: &Pubkey, amount: u64) -> Result<Signature, ChainError> {
        let mint = self.info.usdc_mint;
        let token_program = spl_token_interface::ID;
        let create =
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &self.faucet.pubkey(),
                owner,
                &mint,
                &token_program,
            );
        let account =
            spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
                owner,
                &mint,
                &token_program,
            );
        let mint_to = spl_token_2022_interface::instruction::mint_to_checked(
            &token_program,
            &mint,
            &account,
            &self.faucet.pubkey(),
            &[],
            amount,
            USDC_DECIMALS,
        )
        .map_err(|_| ChainError::InvalidTransaction(TransactionError::SanitizeFailure))?;
        self.submit_from_faucet(&[create, mint_to])
    }

    fn submit_from_faucet(&self, instructions: &[Instruction]) -> Result<Signature, ChainError> {
        let blockhash = self.bank().last_blockhash();
        let transaction = Transaction::new_signed_with_payer(
            instructions,
            Some(&self.faucet.pubkey()),
            &[&self.faucet],
            blockhash,
        );
        self.submit(transaction.into(), true)
    }

    /// The status of `signature`, with its confirmation level, if it was committed.
    pub fn signature_status(&self, signature: &Signature) -> Option<TransactionStatus> {
        let state = self.lock();
        let stored = state.ledger.get(signature)?;
        let depth = state.bank.slot().saturating_sub(stored.slot);
        let (confirmations, level) = match depth {
            0 => (Some(0), TransactionConfirmationStatus::Processed),
            d if d < FINALITY_DEPTH => (Some(d as usize), TransactionConfirmationStatus::Confirmed),
            _ => (None, TransactionConfirmationStatus::Finalized),
        };
        Some(TransactionStatus {
            slot: stored.slot,
            confirmations,
            status: stored.meta.status.clone(),
            err: stored.meta.status.clone().err(),
            confirmation_status: Some(level),
        })
    }

    /// The committed transaction with `signature`, if known.
    pub fn transaction(&self, signature: &Signature) -> Option<StoredTransaction> {
        self.lock().ledger.get(signature).cloned()
    }

    /// The closed block of `slot`, if kept.
    pub fn block(&self, slot: u64) -> Option<BlockRecord> {
        self.lock().ledger.block(slot).cloned()
    }

    /// Closed slots from `start` through `end`, at most `limit`.
    pub fn block_slots(&self, start: u64, end: u64, limit: usize) -> Vec<u64> {
        self.lock().ledger.slots(start, end, limit)
    }

    /// The oldest block kept, if any closed yet.
    pub fn first_block(&self) -> Option<u64> {
        self.lock().ledger.first_slot()
    }

    /// `address`'s transactions, newest first (see [`Ledger::signatures_for`]).
    pub fn signatures_for(
        &self,
        address: &Pubkey,
        before: Option<&Signature>,
        until: Option<&Signature>,
        limit: usize,
    ) -> Vec<AddressEntry> {
        self.lock()
            .ledger
            .signatures_for(address, before, until, limit)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent bank state behind
        // (the bank commits atomically), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sanitizes `transaction` against `bank`, verifying signatures if asked.
fn verify(
    bank: &Bank,
    transaction: VersionedTransaction,
    sig_verify: bool,
) -> Result<RuntimeTransaction<SanitizedTransaction>, ChainError> {
    let mode = if sig_verify {
        solana_transaction::TransactionVerificationMode::FullVerification
    } else {
        solana_transaction::TransactionVerificationMode::HashOnly
    };
    bank.verify_transaction(transaction, mode)
        .map_err(|error| match error {
            TransactionError::SignatureFailure => ChainError::SignatureVerification,
            other => ChainError::InvalidTransaction(other),
        })
}

fn simulate_sanitized(
    bank: &Bank,
    sanitized: &RuntimeTransaction<SanitizedTransaction>,
    replacement_blockhash: Option<(Hash, u64)>,
) -> Simulation {
    let TransactionSimulationResult {
        result,
        logs,
        units_consumed,
        loaded_accounts_data_size,
        fee,
        ..
    } = bank.simulate_transaction_unchecked(sanitized, false);
    Simulation {
        result,
        logs,
        units_consumed,
        fee,
        replacement_blockhash,
        loaded_accounts_data_size,
    }
}

// Bank state stays consistent through a panic elsewhere (banks commit
// atomically), so poisoned locks are still usable.
fn read(forks: &RwLock<BankForks>) -> RwLockReadGuard<'_, BankForks> {
    forks
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(forks: &RwLock<BankForks>) -> RwLockWriteGuard<'_, BankForks> {
    forks
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the bank's clock to the wall clock's unix time.
fn set_wall_clock(bank: &Bank) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let mut clock = bank.clock();
    clock.unix_timestamp = now.max(clock.unix_timestamp);
    bank.set_sysvar_for_tests(&clock);
}
