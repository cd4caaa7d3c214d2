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

/// A facilitator's claims endpoints, which answer its operator only.
pub struct Facilitator {
    url: String,
    operator_token: Option<String>,
    http: reqwest::Client,
}

impl Facilitator {
    /// The facilitator at `url`, asked with `operator_token`.
    pub fn new(url: &str, operator_token: Option<String>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            operator_token,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match &self.operator_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request` and reads its JSON answer, which must be a success.
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, CliError> {
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(CliError::new(format!(
                "the facilitator at {} refused ({status}): {}",
                self.url,
                body["message"].as_str().unwrap_or("operator only")
            ))
            .hint("claims are the facilitator operator's: pass --operator-token or set PAYTAB_OPERATOR_TOKEN"));
        }
        if !status.is_success() {
            return Err(CliError::new(format!(
                "the facilitator at {} answered {status}: {}",
                self.url,
                body["message"].as_str().unwrap_or("no reason given")
            )));
        }
        Ok(body)
    }

    fn unreachable(&self, error: impl std::fmt::Display) -> CliError {
        CliError::new(format!(
            "the facilitator at {} did not answer: {error}",
            self.url
        ))
        .hint("pass the facilitator your gateway uses with --facilitator URL")
    }
}

/// `GET {facilitator}/claims/{provider}`: raw units owed and not yet
/// claimed, over how many allowances, and the mints lacking a token account.
async fn owed(
    facilitator: &Facilitator,
    provider: &Pubkey,
) -> Result<(u64, u64, Vec<String>), CliError> {
    let answer = facilitator
        .answer(facilitator.request(reqwest::Method::GET, &format!("/claims/{provider}")))
        .await?;
    let unclaimed = answer["unclaimed"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let missing = answer["missingTokenAccounts"]
        .as_array()
        .map(|mints| {
            mints
                .iter()
                .filter_map(|mint| mint.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        unclaimed,
        answer["allowances"].as_u64().unwrap_or(0),
        missing,
    ))
}

/// `paytab provider claim`: one claim round at the facilitator, with progress.
pub async fn claim(
    context: &Context,
    facilitator: &Facilitator,
    provider: Option<Pubkey>,
) -> Result<(), CliError> {
    let provider = provider_of(context, provider)?;
    let (unclaimed, allowances, missing) = owed(facilitator, &provider).await?;
    if !missing.is_empty() {
        return Err(CliError::new(format!(
            "{provider} has no token account for {}: the facilitator does not pay its rent",
            missing.join(", ")
        ))
        .hint(
            "create it (e.g. spl-token create-account MINT --owner PROVIDER), then claim again",
        ));
    }
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
    let round = facilitator
        .answer(facilitator.request(reqwest::Method::POST, "/claims"))
        .await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let round = round?;
    let (left, _, _) = owed(facilitator, &provider).await?;
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
    facilitator: Option<&Facilitator>,
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
        Some(facilitator) => Some(owed(facilitator, &provider).await?.0),
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
