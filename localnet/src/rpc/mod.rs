//! The JSON-RPC 2.0 endpoint: envelopes, batches, size limits, dispatch.

mod accounts;
mod blocks;
mod cluster;
pub mod error;
pub(crate) mod params;
mod tokens;
mod transactions;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_http::catch_panic::CatchPanicLayer;

use crate::chain::Chain;
use error::RpcError;
use params::Params;

/// Largest request body accepted, as a validator's 50 KiB limit.
pub const MAX_REQUEST_BODY_SIZE: usize = 50 * 1024;

/// The router serving JSON-RPC on `POST /` and, as a validator, `GET /health`.
/// A handler that panics (a bug) answers a JSON-RPC internal error; the
/// connection is never dropped.
pub fn router(chain: Arc<Chain>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/health", get(|| async { "ok" }))
        .with_state(chain)
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a JSON-RPC handler panicked");
                let error = RpcError::new(-32603, "Internal error");
                Json(failure(Value::Null, &error)).into_response()
            },
        ))
}

async fn handle(State(chain): State<Arc<Chain>>, body: Body) -> Response {
    let Ok(bytes) = to_bytes(body, MAX_REQUEST_BODY_SIZE).await else {
        let error = RpcError::new(error::INVALID_REQUEST, "Invalid request: body too large");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(failure(Value::Null, &error)),
        )
            .into_response();
    };
    let Ok(request) = serde_json::from_slice::<Value>(&bytes) else {
        return Json(failure(Value::Null, &RpcError::parse_error())).into_response();
    };
    match request {
        Value::Array(calls) if calls.is_empty() => {
            Json(failure(Value::Null, &RpcError::invalid_request())).into_response()
        }
        Value::Array(calls) => {
            let mut responses = Vec::with_capacity(calls.len());
            for call in calls {
                responses.push(answer(&chain, call).await);
            }
            Json(Value::Array(responses)).into_response()
        }
        call => Json(answer(&chain, call).await).into_response(),
    }
}

/// Answers one request object.
async fn answer(chain: &Arc<Chain>, call: Value) -> Value {
    let Value::Object(mut call) = call else {
        return failure(Value::Null, &RpcError::invalid_request());
    };
    let id = call.remove("id").unwrap_or(Value::Null);
    let version_ok = call.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let Some(Value::String(method)) = call.remove("method") else {
        return failure(id, &RpcError::invalid_request());
    };
    if !version_ok {
        return failure(id, &RpcError::invalid_request());
    }
    let result = match Params::new(call.remove("params")) {
        Ok(params) => dispatch(chain, &method, params).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(value) => json!({ "jsonrpc": "2.0", "result": value, "id": id }),
        Err(error) => failure(id, &error),
    }
}

fn failure(id: Value, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "error": error.to_json(), "id": id })
}

/// Routes a method name to its handler.
async fn dispatch(chain: &Arc<Chain>, method: &str, params: Params) -> Result<Value, RpcError> {
    match method {
        "getVersion" => cluster::get_version(chain),
        "getHealth" => Ok(json!("ok")),
        "getGenesisHash" => cluster::get_genesis_hash(chain),
        "getSlot" => cluster::get_slot(chain),
        "getBlockHeight" => cluster::get_block_height(chain),
        "getEpochInfo" => cluster::get_epoch_info(chain),
        "getLatestBlockhash" => cluster::get_latest_blockhash(chain),
        "isBlockhashValid" => cluster::is_blockhash_valid(chain, &params),
        "getFeeForMessage" => cluster::get_fee_for_message(chain, &params),
        "getMinimumBalanceForRentExemption" => cluster::get_minimum_balance(chain, &params),
        "getBalance" => accounts::get_balance(chain, &params),
        "getAccountInfo" => accounts::get_account_info(chain, &params),
        "getMultipleAccounts" => accounts::get_multiple_accounts(chain, &params),
        "getProgramAccounts" => accounts::get_program_accounts(chain, &params),
        "getTokenAccountBalance" => accounts::get_token_account_balance(chain, &params),
        "getTokenAccountsByOwner" => accounts::get_token_accounts_by_owner(chain, &params),
        "getTokenSupply" => tokens::get_token_supply(chain, &params),
        "getTokenLargestAccounts" => tokens::get_token_largest_accounts(chain, &params),
        "getBlock" => blocks::get_block(chain, &params),
        "getBlockTime" => blocks::get_block_time(chain, &params),
        "getBlocks" => blocks::get_blocks(chain, &params),
        "getBlocksWithLimit" => blocks::get_blocks_with_limit(chain, &params),
        "getFirstAvailableBlock" => blocks::get_first_available_block(chain),
        "minimumLedgerSlot" => blocks::get_first_available_block(chain),
        "getSignaturesForAddress" => blocks::get_signatures_for_address(chain, &params),
        "getRecentPrioritizationFees" => blocks::get_recent_prioritization_fees(chain, &params),
        "getEpochSchedule" => cluster::get_epoch_schedule(chain),
        "getSupply" => cluster::get_supply(chain),
        "getTransactionCount" => cluster::get_transaction_count(chain),
        "getIdentity" => cluster::get_identity(chain),
        "sendTransaction" => transactions::send_transaction(chain, &params),
        "simulateTransaction" => transactions::simulate_transaction(chain, &params),
        "getSignatureStatuses" => transactions::get_signature_statuses(chain, &params),
        "getTransaction" => transactions::get_transaction(chain, &params),
        "requestAirdrop" => transactions::request_airdrop(chain, &params),
        "paytab_requestUsdc" => transactions::request_usdc(chain, &params),
        _ => Err(RpcError::method_not_found()),
    }
}

/// `{context: {slot, apiVersion}, value}` as the RPC wraps most answers.
fn with_context(chain: &Chain, value: impl serde::Serialize) -> Result<Value, RpcError> {
    let slot = chain.bank().slot();
    Ok(json!({
        "context": { "slot": slot, "apiVersion": cluster::API_VERSION },
        "value": to_json(value)?,
    }))
}

/// Serializes an answer.
fn to_json(value: impl serde::Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(value)
        .map_err(|error| RpcError::new(-32603, format!("Internal error: {error}")))
}
