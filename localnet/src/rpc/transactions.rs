//! Sending, simulating and looking up transactions; the faucets.

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use solana_rpc_client_types::response::{RpcBlockhash, RpcSimulateTransactionResult};
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction_status::{
    ConfirmedTransactionWithStatusMeta, TransactionWithStatusMeta,
    VersionedTransactionWithStatusMeta,
};
use solana_transaction_status_client_types::{TransactionBinaryEncoding, UiTransactionEncoding};

use super::error::{self, RpcError};
use super::params::{parse_signature, Params};
use super::{to_json, with_context};
use crate::chain::{Chain, ChainError, Simulation};

/// Largest wire transaction.
const PACKET_DATA_SIZE: usize = 1232;
/// Most signatures `getSignatureStatuses` takes, as a validator.
const MAX_SIGNATURE_STATUSES: usize = 256;
/// Most SOL one airdrop gives, in lamports.
const MAX_AIRDROP_LAMPORTS: u64 = 1_000 * 1_000_000_000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendConfig {
    skip_preflight: Option<bool>,
    encoding: Option<UiTransactionEncoding>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimulateConfig {
    sig_verify: Option<bool>,
    replace_recent_blockhash: Option<bool>,
    encoding: Option<UiTransactionEncoding>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionConfig {
    encoding: Option<UiTransactionEncoding>,
    max_supported_transaction_version: Option<u8>,
}

pub fn send_transaction(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let encoded: String = params.required(0, "transaction")?;
    let config: SendConfig = params.optional(1, "config")?;
    let transaction = decode_transaction(&encoded, config.encoding)?;
    let signature = chain
        .submit(transaction, !config.skip_preflight.unwrap_or(false))
        .map_err(into_rpc_error)?;
    Ok(json!(signature.to_string()))
}

pub fn simulate_transaction(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let encoded: String = params.required(0, "transaction")?;
    let config: SimulateConfig = params.optional(1, "config")?;
    let sig_verify = config.sig_verify.unwrap_or(false);
    let replace_recent_blockhash = config.replace_recent_blockhash.unwrap_or(false);
    if sig_verify && replace_recent_blockhash {
        return Err(RpcError::invalid_params(
            "sigVerify may not be used with replaceRecentBlockhash",
        ));
    }
    let transaction = decode_transaction(&encoded, config.encoding)?;
    let simulation = chain
        .simulate(transaction, sig_verify, replace_recent_blockhash)
        .map_err(into_rpc_error)?;
    with_context(chain, simulation_result(&simulation))
}

pub fn get_signature_statuses(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let signatures: Vec<String> = params.required(0, "signatures")?;
    if signatures.len() > MAX_SIGNATURE_STATUSES {
        return Err(RpcError::invalid_params(format!(
            "Too many inputs provided; max {MAX_SIGNATURE_STATUSES}"
        )));
    }
    let mut statuses = Vec::with_capacity(signatures.len());
    for signature in &signatures {
        statuses.push(chain.signature_status(&parse_signature(signature)?));
    }
    with_context(chain, statuses)
}

pub fn get_transaction(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let signature = params.signature(0, "signature")?;
    let config: TransactionConfig = match params.optional::<Value>(1, "config")? {
        // The legacy form passes the encoding as a bare string.
        Value::String(encoding) => TransactionConfig {
            encoding: serde_json::from_value(Value::String(encoding)).ok(),
            ..TransactionConfig::default()
        },
        Value::Null => TransactionConfig::default(),
        config => serde_json::from_value(config)
            .map_err(|error| RpcError::invalid_params(format!("Invalid params: {error}")))?,
    };
    let Some(stored) = chain.transaction(&signature) else {
        return Ok(Value::Null);
    };
    let confirmed = ConfirmedTransactionWithStatusMeta {
        slot: stored.slot,
        tx_with_meta: TransactionWithStatusMeta::Complete(VersionedTransactionWithStatusMeta {
            transaction: stored.transaction,
            meta: stored.meta,
        }),
        block_time: Some(stored.block_time),
    };
    let encoding = config.encoding.unwrap_or(UiTransactionEncoding::Json);
    let encoded = confirmed
        .encode(encoding, config.max_supported_transaction_version)
        .map_err(|error| {
            RpcError::new(error::UNSUPPORTED_TRANSACTION_VERSION, error.to_string())
        })?;
    to_json(encoded)
}

pub fn request_airdrop(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let to = params.pubkey(0, "address")?;
    let lamports: u64 = params.required(1, "lamports")?;
    if lamports == 0 || lamports > MAX_AIRDROP_LAMPORTS {
        return Err(RpcError::invalid_params(format!(
            "Invalid param: airdrop of {lamports} lamports is outside 1..={MAX_AIRDROP_LAMPORTS}"
        )));
    }
    let signature = chain.airdrop(&to, lamports).map_err(into_rpc_error)?;
    Ok(json!(signature.to_string()))
}

/// Localnet only: mints test USDC to `owner`'s associated token account.
pub fn request_usdc(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let owner = params.pubkey(0, "owner")?;
    let amount: u64 = params.required(1, "amount (raw units)")?;
    if amount == 0 {
        return Err(RpcError::invalid_params(
            "Invalid param: amount must be positive",
        ));
    }
    let signature = chain.mint_usdc(&owner, amount).map_err(into_rpc_error)?;
    Ok(json!(signature.to_string()))
}

/// Decodes a wire transaction, base58 unless told otherwise, within size limits.
fn decode_transaction(
    encoded: &str,
    encoding: Option<UiTransactionEncoding>,
) -> Result<VersionedTransaction, RpcError> {
    let encoding = match encoding.unwrap_or(UiTransactionEncoding::Base58) {
        UiTransactionEncoding::Base58 | UiTransactionEncoding::Binary => {
            TransactionBinaryEncoding::Base58
        }
        UiTransactionEncoding::Base64 => TransactionBinaryEncoding::Base64,
        other => {
            return Err(RpcError::invalid_params(format!(
                "unsupported encoding: {other}. Supported encodings: base58, base64"
            )))
        }
    };
    let bytes = match encoding {
        TransactionBinaryEncoding::Base58 => {
            if encoded.len() > 1683 {
                return Err(too_large("base58", encoded.len(), 1683));
            }
            bs58::decode(encoded).into_vec().map_err(|error| {
                RpcError::invalid_params(format!("invalid base58 encoding: {error}"))
            })?
        }
        TransactionBinaryEncoding::Base64 => {
            if encoded.len() > 1644 {
                return Err(too_large("base64", encoded.len(), 1644));
            }
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|error| {
                    RpcError::invalid_params(format!("invalid base64 encoding: {error}"))
                })?
        }
    };
    if bytes.len() > PACKET_DATA_SIZE {
        return Err(RpcError::invalid_params(format!(
            "decoded solana_transaction::versioned::VersionedTransaction too large: {} bytes (max: {PACKET_DATA_SIZE} bytes)",
            bytes.len()
        )));
    }
    bincode::deserialize(&bytes).map_err(|error| {
        RpcError::invalid_params(format!(
            "failed to deserialize solana_transaction::versioned::VersionedTransaction: {error}"
        ))
    })
}

fn too_large(encoding: &str, length: usize, max: usize) -> RpcError {
    RpcError::invalid_params(format!(
        "{encoding} encoded solana_transaction::versioned::VersionedTransaction too large: {length} bytes (max: encoded/raw {max}/{PACKET_DATA_SIZE})"
    ))
}

/// The RPC's simulation result shape.
fn simulation_result(simulation: &Simulation) -> RpcSimulateTransactionResult {
    RpcSimulateTransactionResult {
        err: simulation.result.clone().err().map(Into::into),
        logs: Some(simulation.logs.clone()),
        accounts: None,
        units_consumed: Some(simulation.units_consumed),
        loaded_accounts_data_size: Some(simulation.loaded_accounts_data_size),
        return_data: None,
        inner_instructions: None,
        replacement_blockhash: simulation.replacement_blockhash.map(|(hash, height)| {
            RpcBlockhash {
                blockhash: hash.to_string(),
                last_valid_block_height: height,
            }
        }),
        fee: simulation.fee,
        pre_balances: None,
        post_balances: None,
        pre_token_balances: None,
        post_token_balances: None,
        loaded_addresses: None,
    }
}

/// A chain refusal as the validator's error object.
fn into_rpc_error(error: ChainError) -> RpcError {
    match error {
        ChainError::InvalidTransaction(error) => {
            RpcError::invalid_params(format!("invalid transaction: {error}"))
        }
        ChainError::SignatureVerification => RpcError::new(
            error::TRANSACTION_SIGNATURE_VERIFICATION_FAILURE,
            "Transaction signature verification failure",
        ),
        ChainError::Preflight(simulation) => {
            let message = match &simulation.result {
                Err(error) => format!("Transaction simulation failed: {error}"),
                Ok(()) => "Transaction simulation failed".to_string(),
            };
            RpcError {
                code: error::SEND_TRANSACTION_PREFLIGHT_FAILURE,
                message,
                data: serde_json::to_value(simulation_result(&simulation)).ok(),
            }
        }
    }
}
