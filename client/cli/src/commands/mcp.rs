//! `paytab mcp`: the MCP server over stdio, with this wallet, ledger and policy.

use std::sync::Arc;

use paytab_client::catalog::CatalogClient;
use paytab_client::program::PaytabProgram;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::chain::mint_info;
use crate::context::Context;
use crate::error::CliError;
use crate::mcp::agent::{Agent, AgentParts};

/// Builds the agent `paytab mcp` serves: the wallet (or a session key paying
/// from `owner`'s escrow), the ledger and the policy; its own payments are
/// never confirmed by a prompt (MCP asks the person instead).
pub async fn agent(
    context: &Context,
    owner: Option<Pubkey>,
    mint: Option<Pubkey>,
    max_body: usize,
) -> Result<Agent, CliError> {
    let payer = context
        .payer(Arc::new(|_: &str| false))
        .await?
        .for_owner(owner);
    let wallet = Arc::new(context.wallet()?);
    let rpc = Arc::new(context.rpc());
    // The chain's own id (a network label names it for offers only).
    let mint = match mint {
        Some(mint) => mint,
        None => Context::default_mint(&context.network(&rpc).await?),
    };
    let (token_program, decimals) = mint_info(&rpc, &mint).await?;
    let program = PaytabProgram::new(&context.rpc_url, wallet.clone())
        .map_err(|error| CliError::new(error.to_string()))?;
    Ok(Agent::new(AgentParts {
        payer,
        catalog: CatalogClient::new(&context.catalog_url),
        program,
        rpc,
        owner: owner.unwrap_or_else(|| wallet.pubkey()),
        mint: (mint, token_program, decimals),
        max_body,
    }))
}

/// Runs `paytab mcp` until the client disconnects.
pub async fn run(
    context: &Context,
    owner: Option<Pubkey>,
    mint: Option<Pubkey>,
    max_body: usize,
) -> Result<(), CliError> {
    let agent = agent(context, owner, mint, max_body).await?;
    crate::mcp::serve_stdio(agent).await.map_err(CliError::new)
}
