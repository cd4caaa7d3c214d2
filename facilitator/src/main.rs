//! `paytab-facilitator`: runs the facilitator from a configuration file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use paytab_facilitator::{Facilitator, FileConfig};
use tracing_subscriber::EnvFilter;

/// The paytab facilitator: x402 verify/settle on Solana, escrow receipts,
/// proofs and batched claims.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  paytab-facilitator --config facilitator.toml\n  PAYTAB_FACILITATOR_RPC_URL=http://127.0.0.1:8899 paytab-facilitator\n\nEnvironment overrides: PAYTAB_FACILITATOR_BIND, _RPC_URL, _DATABASE, _KEYPAIR.\nLogs: RUST_LOG (default info); LOG_FORMAT=json for JSON lines."
)]
struct Args {
    /// TOML configuration file; defaults apply without one.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    let args = Args::parse();
    let settings = match FileConfig::load(args.config.as_deref()).and_then(FileConfig::resolve) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let facilitator = match Facilitator::start(settings).await {
        Ok(facilitator) => facilitator,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "paytab facilitator on {} ({})",
        facilitator.url(),
        facilitator.network()
    );
    wait_for_signal().await;
    tracing::info!("shutting down");
    facilitator.shutdown().await;
    ExitCode::SUCCESS
}

fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
