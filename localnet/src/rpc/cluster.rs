//! Cluster-wide methods: version, health, slots, blockhashes, fees, rent.

use base64::Engine;
use serde_json::{json, Value};
use solana_hash::Hash;
use solana_message::{SanitizedMessage, SanitizedVersionedMessage, VersionedMessage};

use super::error::RpcError;
use super::params::Params;
use super::{to_json, with_context};
use crate::chain::Chain;

/// The Agave version whose runtime the localnet embeds.
pub const API_VERSION: &str = "3.1.12";

/// The version, with `feature-set` the first four bytes (little endian) of
/// the SHA-256 of the active feature ids in order, as a validator reports a
/// number identifying its feature set.
pub fn get_version(chain: &Chain) -> Result<Value, RpcError> {
    let bank = chain.bank();
    let mut active: Vec<_> = bank.feature_set.active().keys().copied().collect();
    active.sort();
    let ids: Vec<&[u8]> = active.iter().map(|id| id.as_ref()).collect();
    let digest = solana_sha256_hasher::hashv(&ids).to_bytes();
    let feature_set = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
    Ok(json!({ "solana-core": API_VERSION, "feature-set": feature_set }))
}

pub fn get_epoch_schedule(chain: &Chain) -> Result<Value, RpcError> {
    to_json(chain.bank().epoch_schedule().clone())
}

/// Total, circulating and non-circulating lamports (all circulate here).
pub fn get_supply(chain: &Chain) -> Result<Value, RpcError> {
    let total = chain.bank().capitalization();
    with_context(
        chain,
        json!({
            "total": total,
            "circulating": total,
            "nonCirculating": 0,
            "nonCirculatingAccounts": [],
        }),
    )
}

pub fn get_transaction_count(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!(chain.bank().transaction_count()))
}

pub fn get_identity(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!({ "identity": chain.info().identity.to_string() }))
}

pub fn get_genesis_hash(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!(chain.info().genesis_hash.to_string()))
}

pub fn get_slot(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!(chain.bank().slot()))
}

pub fn get_block_height(chain: &Chain) -> Result<Value, RpcError> {
    Ok(json!(chain.bank().block_height()))
}

pub fn get_epoch_info(chain: &Chain) -> Result<Value, RpcError> {
    to_json(chain.bank().get_epoch_info())
}

pub fn get_latest_blockhash(chain: &Chain) -> Result<Value, RpcError> {
    let bank = chain.bank();
    let blockhash = bank.last_blockhash();
    let last_valid_block_height = bank
        .get_blockhash_last_valid_block_height(&blockhash)
        .unwrap_or_default();
    with_context(
        chain,
        json!({ "blockhash": blockhash.to_string(), "lastValidBlockHeight": last_valid_block_height }),
    )
}

pub fn is_blockhash_valid(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let text: String = params.required(0, "blockhash")?;
    let blockhash: Hash = text.parse().map_err(|_| {
        RpcError::invalid_params(format!("Invalid param: Invalid blockhash {text}"))
    })?;
    with_context(chain, chain.bank().is_blockhash_valid(&blockhash))
}

pub fn get_fee_for_message(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let encoded: String = params.required(0, "message")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| RpcError::invalid_params(format!("invalid base64 message: {error}")))?;
    let message: VersionedMessage = bincode::deserialize(&bytes)
        .map_err(|error| RpcError::invalid_params(format!("invalid message: {error}")))?;
    let bank = chain.bank();
    let sanitized = SanitizedVersionedMessage::try_from(message)
        .ok()
        .and_then(|message| {
            SanitizedMessage::try_new(message, bank.as_ref(), bank.get_reserved_account_keys()).ok()
        })
        .ok_or_else(|| RpcError::invalid_params("invalid message: failed to sanitize"))?;
    with_context(chain, bank.get_fee_for_message(&sanitized))
}

/// The largest account a Solana program may allocate, bytes.
const MAX_ACCOUNT_DATA_LENGTH: usize = 10 * 1024 * 1024;

pub fn get_minimum_balance(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let length: usize = params.required(0, "data length")?;
    if length > MAX_ACCOUNT_DATA_LENGTH {
        return Err(RpcError::invalid_params(format!(
            "Invalid params: data length {length} is above the {MAX_ACCOUNT_DATA_LENGTH}-byte account limit"
        )));
    }
    Ok(json!(chain
        .bank()
        .get_minimum_balance_for_rent_exemption(length)))
}
