//! `paytab localnet`: the embedded chain, until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::json;

use crate::context::Context;
use crate::error::CliError;
use crate::output::emit;

/// Runs the localnet on `bind` until interrupted.
pub async fn run(
    context: &Context,
    bind: SocketAddr,
    slot_ms: u64,
    genesis_seed: String,
) -> Result<(), CliError> {
    let localnet = Localnet::start(LocalnetConfig {
        bind,
        slot_duration: Duration::from_millis(slot_ms),
        genesis_seed,
    })
    .await
    .map_err(|error| {
        CliError::new(format!("cannot start the localnet on {bind}: {error}"))
            .hint("is another validator using the port? pass --bind 127.0.0.1:0 for a free one")
    })?;
    let info = localnet.info();
    emit(
        context,
        &json!({
            "rpcUrl": localnet.rpc_url(),
            "wsUrl": localnet.ws_url(),
            "network": info.network,
            "usdcMint": info.usdc_mint.to_string(),
            "programId": info.program_id.to_string(),
            "faucet": info.faucet.to_string(),
        }),
        || {
            format!(
                "paytab localnet\n  RPC URL    {}\n  PubSub     {}\n  network    {}\n  USDC mint  {} (6 decimals)\n  program    {}\n  faucet     paytab faucet --url {} (SOL and test USDC)\nCtrl-C stops it.",
                localnet.rpc_url(),
                localnet.ws_url(),
                info.network,
                info.usdc_mint,
                info.program_id,
                localnet.rpc_url()
            )
        },
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|error| CliError::new(format!("cannot wait for Ctrl-C: {error}")))?;
    localnet.shutdown().await;
    Ok(())
}
