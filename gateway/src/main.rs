//! `paytab-gateway`: paywalls an HTTP API from a configuration file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use paytab_gateway::config::GatewayConfig;
use paytab_gateway::server::Gateway;
use tracing_subscriber::EnvFilter;

/// The paytab gateway: answers unpaid requests with x402 and MPP challenges,
/// checks facilitator proofs locally, and proxies paid ones to the upstream API.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Example:\n  PAYTAB_GATEWAY_SECRET=$(openssl rand -hex 32) paytab-gateway --config gateway/gateway.example.toml"
)]
struct Args {
    /// TOML configuration file.
    #[arg(long, short)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match std::fs::read_to_string(&args.config) {
        Ok(text) => GatewayConfig::parse(&text),
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.config.display());
            return ExitCode::from(2);
        }
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {}: {error}", args.config.display());
            return ExitCode::from(2);
        }
    };
    let gateway = match Gateway::start(config, None).await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("paytab gateway on {}", gateway.url());
    let _ = tokio::signal::ctrl_c().await;
    gateway.shutdown().await;
    ExitCode::SUCCESS
}
