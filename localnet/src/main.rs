//! `paytab-localnet`: runs the embedded localnet until interrupted.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use paytab_localnet::{Localnet, LocalnetConfig};

/// Run an embedded Solana localnet with the paytab program, a test USDC mint and
/// a faucet, behind standard JSON-RPC.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Examples:\n  paytab-localnet\n  paytab-localnet --bind 127.0.0.1:0 --slot-ms 200"
)]
struct Args {
    /// Address to serve JSON-RPC on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8899")]
    bind: SocketAddr,
    /// Slot length in milliseconds.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    slot_ms: u64,
    /// Seeds the genesis: the same seed is the same chain (CAIP-2 id) on every start.
    #[arg(long, default_value = paytab_localnet::DEFAULT_GENESIS_SEED)]
    genesis_seed: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The runtime logs every slot at info; show warnings unless RUST_LOG asks for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let config = LocalnetConfig {
        bind: args.bind,
        slot_duration: Duration::from_millis(args.slot_ms),
        genesis_seed: args.genesis_seed,
    };
    let localnet = match Localnet::start(config).await {
        Ok(localnet) => localnet,
        Err(error) => {
            eprintln!("error: cannot start the localnet on {}: {error}", args.bind);
            return std::process::ExitCode::FAILURE;
        }
    };
    let info = localnet.info();
    println!("paytab localnet");
    println!("  RPC URL     {}", localnet.rpc_url());
    println!("  PubSub      {}", localnet.ws_url());
    println!("  network     {}", info.network);
    println!("  genesis     {}", info.genesis_hash);
    println!("  USDC mint   {} (6 decimals)", info.usdc_mint);
    println!("  program     {}", info.program_id);
    println!(
        "  faucet      requestAirdrop for SOL; paytab_requestUsdc [owner, raw amount] for USDC"
    );
    println!("Ctrl-C stops it.");
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("error: cannot listen for Ctrl-C; stopping");
    }
    localnet.shutdown().await;
    std::process::ExitCode::SUCCESS
}
