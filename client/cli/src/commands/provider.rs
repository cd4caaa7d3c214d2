//! `paytab provider …`: the payee's side — what receipts owe it, and asking
//! the facilitator to claim them now.

use std::time::Duration;

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use paytab_client::program::PaytabProgram;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::chain::{mint_info, token_balance, tokens};
use crate::context::Context;
use crate::error::CliError;
use crate::output::emit;

/// The provider named, or the wallet's address.
fn provider_of(context: &Context, provider: Option<Pubkey>) -> Result<Pubkey, CliError> {
    match provider {
        Some(provider) => Ok(provider),
        None => Ok(context.wallet()?.pubkey()),
    }
}

/// `GET {facilitator}/claims/{provider}`: raw units owed and not yet claimed.
async fn owed(
    http: &reqwest::Client,
    facilitator: &str,
    provider: &Pubkey,
) -> Result<(u64, u64), CliError> {
    let answer: Value = http
        .get(format!(
            "{}/claims/{provider}",
            facilitator.trim_end_matches('/')
        ))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| facilitator_error(facilitator, error))?
        .json()
        .await
        .map_err(|error| facilitator_error(facilitator, error))?;
    let unclaimed = answer["unclaimed"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    Ok((unclaimed, answer["allowances"].as_u64().unwrap_or(0)))
}

fn facilitator_error(url: &str, error: impl std::fmt::Display) -> CliError {
    CliError::new(format!("the facilitator at {url} did not answer: {error}"))
        .hint("pass the facilitator your gateway uses with --facilitator URL")
}

/// `paytab provider claim`: one claim round at the facilitator, with progress.
pub async fn claim(
    context: &Context,
    facilitator: &str,
    provider: Option<Pubkey>,
) -> Result<(), CliError> {
    let provider = provider_of(context, provider)?;
    let http = reqwest::Client::new();
    let (unclaimed, allowances) = owed(&http, facilitator, &provider).await?;
    let spinner = (!context.json).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!(
            "claiming receipts of {allowances} allowance(s) in batches (up to 8 per transaction)"
        ));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let answer = http
        .post(format!("{}/claims", facilitator.trim_end_matches('/')))
        .send()
        .await
        .map_err(|error| facilitator_error(facilitator, error))?;
    let status = answer.status();
    let round: Value = answer.json().await.unwrap_or_default();
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    if !status.is_success() {
        return Err(CliError::new(format!(
            "the claim round failed ({status}): {}",
            round["message"].as_str().unwrap_or("no reason given")
        )));
    }
    let (left, _) = owed(&http, facilitator, &provider).await?;
    let paid = round["paid"]
        .as_str()
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    let rpc = context.rpc();
    let mint = Context::default_mint(&context.network(&rpc).await?);
    let (_, decimals) = mint_info(&rpc, &mint).await?;
    emit(
        context,
        &json!({"provider": provider.to_string(), "owedBefore": unclaimed.to_string(), "round": round, "owedAfter": left.to_string()}),
        || {
            format!(
                "claimed {} in {} transaction(s) (all providers of this facilitator); {} still owed to {provider}",
                tokens(paid, decimals, &mint),
                round["confirmed"].as_u64().unwrap_or(0),
                tokens(left, decimals, &mint)
            )
        },
    );
    Ok(())
}

/// `paytab provider earnings`: claimed on chain, in the wallet, and owed.
pub async fn earnings(
    context: &Context,
    facilitator: Option<&str>,
    provider: Option<Pubkey>,
) -> Result<(), CliError> {
    let provider = provider_of(context, provider)?;
    let rpc = context.rpc();
    let mint = Context::default_mint(&context.network(&rpc).await?);
    let (token_program, decimals) = mint_info(&rpc, &mint).await?;
    // Reading needs no signature: any key will do as the client's payer.
    let program = PaytabProgram::new(&context.rpc_url, Arc::new(Keypair::new()))
        .map_err(|error| CliError::new(error.to_string()))?;
    let allowances: Vec<_> = program
        .allowances_of_provider(&provider)
        .await
        .map_err(|error| CliError::new(format!("cannot list allowances: {error}")))?
        .into_iter()
        .map(|(_, allowance)| allowance)
        .filter(|allowance| allowance.provider == provider)
        .collect();
    let claimed = allowances.iter().fold(0u64, |total, allowance| {
        total.saturating_add(allowance.claimed)
    });
    let committed = allowances
        .iter()
        .fold(0u64, |total, allowance| total.saturating_add(allowance.cap));
    let balance = token_balance(&rpc, &provider, &mint, &token_program).await;
    let owed = match facilitator {
        Some(url) => Some(owed(&reqwest::Client::new(), url, &provider).await?.0),
        None => None,
    };
    emit(
        context,
        &json!({
            "provider": provider.to_string(),
            "allowances": allowances.len(),
            "caps": committed.to_string(),
            "claimed": claimed.to_string(),
            "balance": balance.to_string(),
            "unclaimed": owed.map(|owed| owed.to_string()),
        }),
        || {
            let owed = owed.map_or_else(
                || "(pass --facilitator URL to see receipts not yet claimed)".to_string(),
                |owed| tokens(owed, decimals, &mint),
            );
            format!(
                "provider     {provider}\nallowances   {} granting up to {}\nclaimed      {}\nunclaimed    {owed}\nbalance      {}",
                allowances.len(),
                tokens(committed, decimals, &mint),
                tokens(claimed, decimals, &mint),
                tokens(balance, decimals, &mint)
            )
        },
    );
    Ok(())
}
