//! `paytab wallet` and `paytab faucet`.

use paytab_client::wallet::write_keypair;
use paytab_protocol::amount::parse_units;
use serde_json::json;
use solana_keypair::Keypair;
use solana_rpc_client_api::request::RpcRequest;
use solana_signature::Signature;
use solana_signer::Signer;

use crate::chain::{mint_info, token_balance, tokens};
use crate::context::{unreachable_rpc, Context};
use crate::error::CliError;
use crate::output::emit;

/// Shows the wallet's address and balances.
pub async fn show(context: &Context) -> Result<(), CliError> {
    let wallet = context.wallet()?;
    let rpc = context.rpc();
    let network = context.network(&rpc).await?;
    let lamports = rpc
        .get_balance(&wallet.pubkey())
        .await
        .map_err(|error| unreachable_rpc(&context.rpc_url, error))?;
    let mint = Context::default_mint(&network);
    // A chain without the stablecoin (a bare test validator) still shows SOL.
    let (usdc, decimals, tokens_text) = match mint_info(&rpc, &mint).await {
        Ok((token_program, decimals)) => {
            let raw = token_balance(&rpc, &wallet.pubkey(), &mint, &token_program).await;
            (raw, decimals, tokens(raw, decimals, &mint))
        }
        Err(_) => (0, 0, format!("none (no USDC mint {mint} on this network)")),
    };
    emit(
        context,
        &json!({
            "address": wallet.pubkey().to_string(),
            "network": network,
            "rpcUrl": context.rpc_url,
            "lamports": lamports,
            "mint": mint.to_string(),
            "tokens": usdc.to_string(),
            "decimals": decimals,
        }),
        || {
            format!(
                "address   {}\nnetwork   {network} ({})\nSOL       {}\ntokens    {}",
                wallet.pubkey(),
                context.rpc_url,
                paytab_protocol::amount::format_units(lamports, 9),
                tokens_text
            )
        },
    );
    Ok(())
}

/// Creates a wallet file where none exists.
pub fn create(context: &Context) -> Result<(), CliError> {
    if context.keypair_path.exists() {
        return Err(CliError::new(format!(
            "{} already exists; paytab never overwrites a wallet",
            context.keypair_path.display()
        ))
        .hint("pass --keypair NEW_FILE to create another"));
    }
    let keypair = Keypair::new();
    write_keypair(&context.keypair_path, &keypair)?;
    emit(
        context,
        &json!({"address": keypair.pubkey().to_string(), "keypair": context.keypair_path.display().to_string()}),
        || {
            format!(
                "created {} ({})",
                keypair.pubkey(),
                context.keypair_path.display()
            )
        },
    );
    Ok(())
}

/// Asks the localnet faucet for SOL and test USDC.
pub async fn faucet(context: &Context, sol: &str, usdc: &str) -> Result<(), CliError> {
    let wallet = context.wallet()?;
    let rpc = context.rpc();
    let network = context.network(&rpc).await?;
    let lamports = parse_units(sol, 9)?;
    let raw_usdc = parse_units(usdc, paytab_localnet::USDC_DECIMALS)?;
    let mut signatures = Vec::new();
    if lamports > 0 {
        let signature = rpc
            .request_airdrop(&wallet.pubkey(), lamports)
            .await
            .map_err(|error| CliError::new(format!("the faucet refused SOL: {error}")))?;
        signatures.push(signature);
    }
    if raw_usdc > 0 {
        let signature: String = rpc
            .send(
                RpcRequest::Custom { method: "paytab_requestUsdc" },
                json!([wallet.pubkey().to_string(), raw_usdc]),
            )
            .await
            .map_err(|error| {
                CliError::new(format!("the USDC faucet is not available on {network}: {error}"))
                    .hint("`paytab faucet` works against `paytab localnet`; on devnet use a public faucet")
            })?;
        signatures.push(
            signature
                .parse::<Signature>()
                .map_err(|_| CliError::new("the faucet answered an invalid signature"))?,
        );
    }
    for signature in &signatures {
        crate::world::confirm(&rpc, signature).await?;
    }
    emit(
        context,
        &json!({"address": wallet.pubkey().to_string(), "lamports": lamports, "usdc": raw_usdc.to_string()}),
        || format!("sent {sol} SOL and {usdc} USDC to {}", wallet.pubkey()),
    );
    Ok(())
}
