//! Blocks and history: `getBlock`, `getBlocks`, `getBlocksWithLimit`,
//! `getBlockTime`, `getSignaturesForAddress`, `getFirstAvailableBlock`,
//! `minimumLedgerSlot`, `getRecentPrioritizationFees`. Each slot is one block;
//! a block is available once its slot closed.

use serde::Deserialize;
use serde_json::{json, Value};
use solana_message::compiled_instruction::CompiledInstruction;
use solana_pubkey::Pubkey;
use solana_transaction_status::{
    BlockEncodingOptions, ConfirmedBlock, TransactionDetails, UiTransactionEncoding,
    VersionedConfirmedBlock, VersionedTransactionWithStatusMeta,
};

use super::error::{self, RpcError};
use super::params::{parse_pubkey, parse_signature, Params};
use super::to_json;
use crate::chain::Chain;
use crate::ledger::{BlockRecord, StoredTransaction};

/// Most slots `getBlocks` spans, as a validator.
const MAX_BLOCK_RANGE: u64 = 500_000;
/// Most signatures `getSignaturesForAddress` returns.
const MAX_SIGNATURES: usize = 1_000;
/// Most accounts `getRecentPrioritizationFees` takes.
const MAX_FEE_ACCOUNTS: usize = 128;
/// Blocks `getRecentPrioritizationFees` looks back over.
const FEE_BLOCKS: u64 = 150;
/// The SPL Memo program (v2 and v1).
const MEMO_PROGRAMS: [Pubkey; 2] = [
    Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
    Pubkey::from_str_const("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"),
];

/// Options of `getBlock`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockConfig {
    encoding: Option<UiTransactionEncoding>,
    transaction_details: Option<TransactionDetails>,
    rewards: Option<bool>,
    max_supported_transaction_version: Option<u8>,
}

fn not_available(slot: u64) -> RpcError {
    RpcError::new(
        error::BLOCK_NOT_AVAILABLE,
        format!("Block not available for slot {slot}"),
    )
}

pub fn get_block(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let slot: u64 = params.required(0, "slot")?;
    let config: BlockConfig = match params.optional::<Value>(1, "config")? {
        Value::String(encoding) => BlockConfig {
            encoding: serde_json::from_value(Value::String(encoding)).ok(),
            ..BlockConfig::default()
        },
        Value::Null => BlockConfig::default(),
        config => serde_json::from_value(config)
            .map_err(|error| RpcError::invalid_params(format!("Invalid params: {error}")))?,
    };
    let block = chain.block(slot).ok_or_else(|| not_available(slot))?;
    let transactions = block
        .signatures
        .iter()
        .filter_map(|signature| chain.transaction(signature))
        .map(|stored| VersionedTransactionWithStatusMeta {
            transaction: stored.transaction,
            meta: stored.meta,
        })
        .collect();
    let confirmed = ConfirmedBlock::from(VersionedConfirmedBlock {
        previous_blockhash: block.previous_blockhash.to_string(),
        blockhash: block.blockhash.to_string(),
        parent_slot: block.parent_slot,
        transactions,
        rewards: Vec::new(),
        num_partitions: None,
        block_time: Some(block.block_time),
        block_height: Some(block.block_height),
    });
    let encoded = confirmed
        .encode_with_options(
            config.encoding.unwrap_or(UiTransactionEncoding::Json),
            BlockEncodingOptions {
                transaction_details: config.transaction_details.unwrap_or_default(),
                show_rewards: config.rewards.unwrap_or(true),
                max_supported_transaction_version: config.max_supported_transaction_version,
            },
        )
        .map_err(|error| {
            RpcError::new(error::UNSUPPORTED_TRANSACTION_VERSION, error.to_string())
        })?;
    to_json(encoded)
}

pub fn get_block_time(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let slot: u64 = params.required(0, "slot")?;
    let block = chain.block(slot).ok_or_else(|| not_available(slot))?;
    Ok(json!(block.block_time))
}

pub fn get_blocks(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let start: u64 = params.required(0, "start slot")?;
    let end: u64 = match params.optional::<Value>(1, "end slot")? {
        Value::Number(end) => end
            .as_u64()
            .ok_or_else(|| RpcError::invalid_params("Invalid params: end slot"))?,
        _ => chain.bank().slot(),
    };
    if end < start {
        return Ok(json!([]));
    }
    if end - start > MAX_BLOCK_RANGE {
        return Err(RpcError::invalid_params(format!(
            "Slot range too large; max {MAX_BLOCK_RANGE}"
        )));
    }
    Ok(json!(chain.block_slots(start, end, usize::MAX)))
}

pub fn get_blocks_with_limit(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let start: u64 = params.required(0, "start slot")?;
    let limit: u64 = params.required(1, "limit")?;
    if limit > MAX_BLOCK_RANGE {
        return Err(RpcError::invalid_params(format!(
            "Limit too large; max {MAX_BLOCK_RANGE}"
        )));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(json!(chain.block_slots(start, u64::MAX, limit)))
}

pub fn get_first_available_block(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!(chain.first_block().unwrap_or_default()))
}

/// Options of `getSignaturesForAddress`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignaturesConfig {
    limit: Option<usize>,
    before: Option<String>,
    until: Option<String>,
}

pub fn get_signatures_for_address(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let address = params.pubkey(0, "address")?;
    let config: SignaturesConfig = params.optional(1, "config")?;
    let limit = config.limit.unwrap_or(MAX_SIGNATURES);
    if limit == 0 || limit > MAX_SIGNATURES {
        return Err(RpcError::invalid_params(format!(
            "Invalid limit; max {MAX_SIGNATURES}"
        )));
    }
    let before = config.before.as_deref().map(parse_signature).transpose()?;
    let until = config.until.as_deref().map(parse_signature).transpose()?;
    let entries = chain.signatures_for(&address, before.as_ref(), until.as_ref(), limit);
    let answers: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let stored = chain.transaction(&entry.signature);
            let status = chain.signature_status(&entry.signature);
            json!({
                "signature": entry.signature.to_string(),
                "slot": entry.slot,
                "err": stored.as_ref().and_then(|stored| stored.meta.status.clone().err()),
                "memo": stored.as_ref().and_then(memo_of),
                "blockTime": stored.as_ref().map(|stored| stored.block_time),
                "confirmationStatus": status.and_then(|status| status.confirmation_status),
            })
        })
        .collect();
    to_json(answers)
}

/// The transaction's memos as the RPC shows them: `[length] text`, joined by `; `.
fn memo_of(stored: &StoredTransaction) -> Option<String> {
    let keys = stored.transaction.message.static_account_keys();
    let memos: Vec<String> = stored
        .transaction
        .message
        .instructions()
        .iter()
        .filter(|instruction| {
            keys.get(usize::from(instruction.program_id_index))
                .is_some_and(|program| MEMO_PROGRAMS.contains(program))
        })
        .map(|instruction| {
            let text = String::from_utf8_lossy(&instruction.data);
            format!("[{}] {text}", instruction.data.len())
        })
        .collect();
    (!memos.is_empty()).then(|| memos.join("; "))
}

pub fn get_recent_prioritization_fees(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let addresses: Vec<String> = params.optional(0, "addresses")?;
    if addresses.len() > MAX_FEE_ACCOUNTS {
        return Err(RpcError::invalid_params(format!(
            "Too many inputs provided; max {MAX_FEE_ACCOUNTS}"
        )));
    }
    let addresses = addresses
        .iter()
        .map(|address| parse_pubkey(address))
        .collect::<Result<Vec<Pubkey>, _>>()?;
    let newest = chain.bank().slot();
    let oldest = newest.saturating_sub(FEE_BLOCKS);
    let fees: Vec<Value> = chain
        .block_slots(oldest, newest, usize::MAX)
        .into_iter()
        .filter_map(|slot| chain.block(slot))
        .map(|block| json!({"slot": block.slot, "prioritizationFee": lowest_fee(chain, &block, &addresses)}))
        .collect();
    to_json(fees)
}

/// The lowest compute-unit price (micro-lamports) paid in `block` by a
/// transaction that writes any of `addresses` (any transaction, when none
/// are named); 0 when there is none.
fn lowest_fee(chain: &Chain, block: &BlockRecord, addresses: &[Pubkey]) -> u64 {
    block
        .signatures
        .iter()
        .filter_map(|signature| chain.transaction(signature))
        .filter(|stored| {
            let message = &stored.transaction.message;
            addresses.is_empty()
                || message
                    .static_account_keys()
                    .iter()
                    .enumerate()
                    .any(|(index, key)| {
                        addresses.contains(key) && message.is_maybe_writable(index, None)
                    })
        })
        .map(|stored| compute_unit_price(&stored))
        .min()
        .unwrap_or(0)
}

/// The price a transaction set with `SetComputeUnitPrice`, or 0.
fn compute_unit_price(stored: &StoredTransaction) -> u64 {
    let message = &stored.transaction.message;
    let keys = message.static_account_keys();
    message
        .instructions()
        .iter()
        .find_map(|instruction: &CompiledInstruction| {
            let program = keys.get(usize::from(instruction.program_id_index))?;
            if *program != solana_sdk_ids::compute_budget::ID {
                return None;
            }
            match instruction.data.split_first() {
                Some((3, price)) => Some(u64::from_le_bytes(price.get(..8)?.try_into().ok()?)),
                _ => None,
            }
        })
        .unwrap_or(0)
}
