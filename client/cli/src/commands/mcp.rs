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
use crate::mcp::upstream::Upstream;

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

/// What `paytab mcp` runs with besides the context.
#[derive(Debug, Clone, Default)]
pub struct McpOptions {
    /// The escrow's owner, when the wallet is its session key.
    pub owner: Option<Pubkey>,
    /// The escrow's mint.
    pub mint: Option<Pubkey>,
    /// Largest response body returned.
    pub max_body: usize,
    /// A remote MCP server whose tools are offered too.
    pub upstream: Option<String>,
}

/// Runs `paytab mcp` until the client disconnects.
pub async fn run(context: &Context, options: McpOptions) -> Result<(), CliError> {
    let agent = agent(context, options.owner, options.mint, options.max_body).await?;
    let upstream = match &options.upstream {
        Some(url) => Some(Upstream::connect(url).await.map_err(CliError::new)?),
        None => None,
    };
    crate::mcp::serve_stdio(agent, upstream)
        .await
        .map_err(CliError::new)
}
