//! The operator's endpoints: a claim round now, and what is owed to a provider.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use solana_pubkey::Pubkey;

use super::{error, AppState};
use crate::metrics;

/// `POST /claims`: one claim round now (after any round in progress).
pub(super) async fn claim_round(State(state): State<Arc<AppState>>) -> Response {
    match state.claimer.run_once().await {
        Ok(round) => {
            metrics::record_claims(&round);
            Json(json!({
                "confirmed": round.confirmed,
                "failed": round.failed,
                "expired": round.expired,
                "paid": round.paid.to_string(),
                "withoutTokenAccount": round.without_token_account,
                "belowMinimum": round.below_minimum,
                "ledElsewhere": round.led_elsewhere,
                "lookupClaims": round.lookup_claims,
                "legacyClaims": round.legacy_claims,
                "tablesCreated": round.tables_created,
                "tableTransactions": round.table_transactions,
                "tablesClosed": round.tables_closed,
                "tableRentRecovered": round.table_rent_recovered.to_string(),
            }))
            .into_response()
        }
        Err(claim_error) => {
            tracing::warn!(error = %claim_error, "claim round on request failed");
            error(
                StatusCode::BAD_GATEWAY,
                "claim_failed",
                "the claim round could not finish; nothing was lost, try again",
            )
        }
    }
}

/// Most unclaimed allowances `GET /claims/{provider}` looks through.
const OWED_SCAN_LIMIT: u32 = 10_000;

/// `GET /claims/{provider}`: what accepted receipts owe `provider` and no
/// claim has paid yet.
pub(super) async fn owed_to(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
) -> Response {
    let Ok(provider) = provider.parse::<Pubkey>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the provider is not a base58 address",
        );
    };
    match state.store.unclaimed(OWED_SCAN_LIMIT).await {
        Ok(entries) => {
            let owed: Vec<_> = entries
                .iter()
                .filter(|entry| entry.provider == provider)
                .collect();
            let unclaimed = owed.iter().fold(0u64, |total, entry| {
                total.saturating_add(entry.accepted.saturating_sub(entry.claimed))
            });
            let mut missing = Vec::new();
            for mint in owed
                .iter()
                .map(|entry| entry.mint)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let has = match state.claimer.token_program(&mint).await {
                    Ok(program) => {
                        state
                            .claimer
                            .has_token_account(provider, mint, program)
                            .await
                    }
                    Err(error) => Err(error),
                };
                match has {
                    Ok(true) => {}
                    Ok(false) => missing.push(mint.to_string()),
                    Err(claim_error) => {
                        tracing::warn!(error = %claim_error, "token account lookup")
                    }
                }
            }
            Json(json!({
                "provider": provider.to_string(),
                "unclaimed": unclaimed.to_string(),
                "allowances": owed.len(),
                "missingTokenAccounts": missing,
            }))
            .into_response()
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, "reading unclaimed receipts");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "try again",
            )
        }
    }
}
