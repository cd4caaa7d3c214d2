//! `paytab`: pay for APIs per call with stablecoins on Solana.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use paytab_cli::commands::curl::CurlArgs;
use paytab_cli::commands::escrow::{self, AllowTerms, Owner};
use paytab_cli::commands::{catalog, demo, history, localnet, mcp, provider, wallet};
use paytab_cli::context::{Context, GlobalArgs};
use paytab_cli::error::CliError;
use paytab_protocol::amount::parse_units;
use solana_pubkey::Pubkey;

const EXAMPLES: &str = "Examples:
  paytab demo                                   everything in one process, step by step
  paytab localnet                               a local chain at http://127.0.0.1:8899
  paytab wallet create && paytab faucet         a funded wallet on the localnet
  paytab escrow open --deposit 5                prepay 5 USDC
  paytab allow PROVIDER --cap 1 --delegate KEY  let PROVIDER be paid up to 1 USDC
  paytab search weather --max-price 0.05        find a service in the catalog
  paytab show quotes                            its endpoints, prices and health
  paytab curl https://api.example.com/v1/quote  pay when asked, within your policy
  paytab curl quotes/v1/quotes/SOL              the same, by catalog name
  paytab history                                what was paid, with proofs
  paytab provider earnings --facilitator URL    a provider's claimed and owed amounts
                                               (PAYTAB_OPERATOR_TOKEN: the facilitator's operator token)";

/// Pay for APIs per call with stablecoins on Solana: x402 and MPP, prepaid
/// escrow with per-provider allowances, a spending policy and a local ledger.
#[derive(Debug, Parser)]
#[command(name = "paytab", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run localnet, facilitator, gateway and a paid API in-process, and walk a payer through them
    #[command(after_help = "Example:\n  paytab demo")]
    Demo,
    /// Run the embedded localnet (standard Solana JSON-RPC) until Ctrl-C
    #[command(after_help = "Examples:\n  paytab localnet\n  paytab localnet --bind 127.0.0.1:0")]
    Localnet {
        /// Address to serve JSON-RPC on (port 0 picks a free one)
        #[arg(long, default_value = "127.0.0.1:8899")]
        bind: SocketAddr,
        /// Slot length in milliseconds
        #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(10..=10_000))]
        slot_ms: u64,
        /// Seeds the genesis: the same seed is the same chain (CAIP-2 id) on every start
        #[arg(long, default_value = paytab_localnet::DEFAULT_GENESIS_SEED)]
        genesis_seed: String,
    },
    /// Show the wallet's address and balances (or create a wallet)
    #[command(
        after_help = "Examples:\n  paytab wallet\n  paytab wallet create\n  paytab --keypair agent.json wallet"
    )]
    Wallet {
        #[command(subcommand)]
        action: Option<WalletAction>,
    },
    /// Get SOL and test USDC from the localnet faucet
    #[command(after_help = "Examples:\n  paytab faucet\n  paytab faucet --sol 2 --usdc 100")]
    Faucet {
        /// SOL to ask for
        #[arg(long, default_value = "1")]
        sol: String,
        /// USDC to ask for
        #[arg(long, default_value = "10")]
        usdc: String,
    },
    /// Open, fund, drain or inspect the prepaid escrow
    Escrow {
        #[command(subcommand)]
        action: EscrowAction,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long, global = true)]
        mint: Option<Pubkey>,
    },
    /// Allow a provider to be paid from the escrow, up to a cap (raises an existing cap)
    #[command(
        after_help = "Examples:\n  paytab allow PROVIDER --cap 1 --delegate FACILITATOR_KEY\n  paytab allow PROVIDER --cap 5 --per-day 0.5 --expires +30d --delegate KEY"
    )]
    Allow {
        /// The provider's address (the gateway's payTo)
        provider: Pubkey,
        /// Most the provider may ever be paid, in tokens
        #[arg(long)]
        cap: String,
        /// Most per day, in tokens
        #[arg(long, conflicts_with_all = ["period", "limit"])]
        per_day: Option<String>,
        /// A custom period, in seconds (with --limit)
        #[arg(long, requires = "limit")]
        period: Option<u32>,
        /// Most per --period, in tokens
        #[arg(long, requires = "period")]
        limit: Option<String>,
        /// When the allowance ends: +30d, +12h, +90m or an RFC 3339 time
        #[arg(long)]
        expires: Option<String>,
        /// The facilitator key that attests receipts (a 402's extra.delegate)
        #[arg(long)]
        delegate: Pubkey,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long)]
        mint: Option<Pubkey>,
    },
    /// List the escrow's allowances
    #[command(after_help = "Example:\n  paytab allowances --json")]
    Allowances {
        /// The escrow's mint [default: the network's USDC]
        #[arg(long)]
        mint: Option<Pubkey>,
    },
    /// Lower a provider's cap (after the escrow's notice period)
    #[command(after_help = "Example:\n  paytab reduce PROVIDER --cap 0.5")]
    Reduce {
        /// The provider
        provider: Pubkey,
        /// The new cap, in tokens
        #[arg(long)]
        cap: String,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long)]
        mint: Option<Pubkey>,
    },
    /// Revoke a provider's allowance (its cap goes to zero after the notice period)
    #[command(after_help = "Example:\n  paytab revoke PROVIDER")]
    Revoke {
        /// The provider
        provider: Pubkey,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long)]
        mint: Option<Pubkey>,
    },
    /// Delegate receipt signing to an agent's key, or take it back
    #[command(
        name = "session-key",
        after_help = "Examples:\n  paytab session-key create --expires +12h\n  paytab session-key revoke"
    )]
    SessionKey {
        #[command(subcommand)]
        action: SessionKeyAction,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long, global = true)]
        mint: Option<Pubkey>,
    },
    /// Request a URL; pay when it answers 402, within the spending policy
    #[command(
        after_help = "Examples:\n  paytab curl http://127.0.0.1:8080/v1/quotes/SOL\n  paytab curl --dry-run https://api.example.com/v1/report\n  paytab curl -X POST -H 'Content-Type: application/json' -d '{\"q\":1}' URL\n  paytab curl --scheme exact -i URL"
    )]
    Curl(CurlArgs),
    /// Search the service catalog by words, category and price
    #[command(
        after_help = "Examples:\n  paytab search quotes\n  paytab search 'weather forecast' --category maps --max-price 0.05\n  paytab --catalog https://facilitator.example.com search translation --json"
    )]
    Search {
        /// Words describing what you need (none: everything, filtered)
        #[arg(default_value = "")]
        query: String,
        /// Only this category (ai_ml, cloud, compute, data, devtools, finance, identity, maps, media, messaging, other, productivity, search, security, shopping, storage, translation)
        #[arg(long)]
        category: Option<String>,
        /// Only services with an endpoint at most this price, in tokens
        #[arg(long)]
        max_price: Option<String>,
        /// Most results
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Show a catalog service: endpoints, prices, usage notes, sandbox, listing health
    #[command(after_help = "Example:\n  paytab show quotes")]
    Show {
        /// The service's catalog name
        name: String,
    },
    /// Serve agents over the Model Context Protocol (stdio): search, quote, pay within the policy
    #[command(
        after_help = "Add to an MCP client's configuration, e.g.:\n  {\"mcpServers\": {\"paytab\": {\"command\": \"paytab\", \"args\": [\"mcp\"]}}}\nWith a session key paying from the owner's escrow:\n  paytab --keypair ~/.paytab/session-keys/OWNER.json mcp --owner OWNER"
    )]
    Mcp {
        /// The escrow's owner, when --keypair is that escrow's session key
        #[arg(long)]
        owner: Option<Pubkey>,
        /// The escrow's mint [default: the network's USDC]
        #[arg(long)]
        mint: Option<Pubkey>,
        /// Largest response body returned to the agent, bytes
        #[arg(long, default_value_t = paytab_cli::mcp::agent::DEFAULT_MAX_BODY)]
        max_body_bytes: usize,
        /// A remote MCP server (streamable HTTP) whose tools are offered too, paid for when they ask (x402 or MPP)
        #[arg(long)]
        upstream: Option<String>,
    },
    /// The local ledger of payments
    #[command(after_help = "Examples:\n  paytab history\n  paytab history --limit 5 --json")]
    History {
        /// How many, newest first
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show or change the spending policy
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// The provider's side: list the service in the catalog, claim what receipts owe, see earnings
    Provider {
        #[command(subcommand)]
        action: ProviderAction,
        /// The provider [default: the wallet's address]
        #[arg(long, global = true)]
        provider: Option<Pubkey>,
    },
}

#[derive(Debug, Subcommand)]
enum ProviderAction {
    /// Write the PAY.md manifest a running gateway describes (its /openapi.json)
    #[command(
        after_help = "Example:\n  paytab provider manifest http://127.0.0.1:4021 --output PAY.md"
    )]
    Manifest {
        /// The gateway's URL
        gateway: String,
        /// Write it here instead of standard output
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Sign a PAY.md manifest with the wallet (its payee) and publish it to the catalog
    #[command(
        after_help = "Examples:\n  paytab provider publish PAY.md\n  paytab --catalog https://facilitator.example.com provider publish PAY.md"
    )]
    Publish {
        /// The PAY.md file
        file: std::path::PathBuf,
    },
    /// Ask the facilitator to claim accepted receipts on chain now (in batches)
    #[command(
        after_help = "Example:\n  paytab provider claim --facilitator http://127.0.0.1:4020"
    )]
    Claim {
        /// The facilitator's URL
        #[arg(long)]
        facilitator: String,
        /// The facilitator operator's token (claims are the operator's to ask for)
        #[arg(long, env = "PAYTAB_OPERATOR_TOKEN", hide_env_values = true)]
        operator_token: Option<String>,
    },
    /// Claimed, unclaimed and received amounts
    #[command(
        after_help = "Examples:\n  paytab provider earnings\n  paytab provider earnings --facilitator http://127.0.0.1:4020 --json"
    )]
    Earnings {
        /// The facilitator's URL, to include receipts not yet claimed
        #[arg(long)]
        facilitator: Option<String>,
        /// The facilitator operator's token, to read what is owed
        #[arg(long, env = "PAYTAB_OPERATOR_TOKEN", hide_env_values = true)]
        operator_token: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum WalletAction {
    /// Create a wallet file at --keypair (never overwrites)
    Create,
}

#[derive(Debug, Subcommand)]
enum EscrowAction {
    /// Open the escrow, optionally with a first deposit
    #[command(after_help = "Example:\n  paytab escrow open --deposit 5")]
    Open {
        /// Tokens to deposit
        #[arg(long, default_value = "0")]
        deposit: String,
        /// Seconds a cap reduction waits before it takes effect
        #[arg(long, default_value_t = 3_600)]
        notice_secs: u32,
    },
    /// Add tokens
    #[command(after_help = "Example:\n  paytab escrow deposit 2.5")]
    Deposit {
        /// Tokens
        amount: String,
    },
    /// Take back tokens not committed to allowances
    #[command(after_help = "Example:\n  paytab escrow withdraw 1")]
    Withdraw {
        /// Tokens
        amount: String,
    },
    /// Funded, committed and free amounts, and the session key
    #[command(after_help = "Example:\n  paytab escrow status --json")]
    Status,
}

#[derive(Debug, Subcommand)]
enum SessionKeyAction {
    /// Create a session key (kept in ~/.paytab/session-keys) and register it
    Create {
        /// When it stops: +12h, +7d or an RFC 3339 time
        #[arg(long, default_value = "+1d")]
        expires: String,
    },
    /// Clear the escrow's session key
    Revoke,
}

#[derive(Debug, Subcommand)]
enum PolicyAction {
    /// Print the policy (defaults until one is written)
    #[command(after_help = "Example:\n  paytab policy show")]
    Show,
    /// Change a setting: max_per_request, daily_budget_per_host, confirm_above, allow_hosts, deny_hosts, networks
    #[command(
        after_help = "Examples:\n  paytab policy set max_per_request 0.25\n  paytab policy set deny_hosts evil.example.com,spam.example.com\n  paytab policy set confirm_above ''"
    )]
    Set {
        /// The setting
        name: String,
        /// Its value (lists comma-separated; '' clears)
        value: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.message);
            if let Some(hint) = &error.hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let context = Context::resolve(&cli.global)?;
    match cli.command {
        Command::Demo => demo::run().await,
        Command::Localnet {
            bind,
            slot_ms,
            genesis_seed,
        } => localnet::run(&context, bind, slot_ms, genesis_seed).await,
        Command::Wallet { action: None } => wallet::show(&context).await,
        Command::Wallet {
            action: Some(WalletAction::Create),
        } => wallet::create(&context),
        Command::Faucet { sol, usdc } => wallet::faucet(&context, &sol, &usdc).await,
        Command::Escrow { action, mint } => {
            let owner = Owner::load(&context, mint).await?;
            match action {
                EscrowAction::Open {
                    deposit,
                    notice_secs,
                } => escrow::open(&context, &owner, &deposit, notice_secs).await,
                EscrowAction::Deposit { amount } => {
                    escrow::move_funds(&context, &owner, &amount, true).await
                }
                EscrowAction::Withdraw { amount } => {
                    escrow::move_funds(&context, &owner, &amount, false).await
                }
                EscrowAction::Status => escrow::status(&context, &owner).await,
            }
        }
        Command::Allow {
            provider,
            cap,
            per_day,
            period,
            limit,
            expires,
            delegate,
            mint,
        } => {
            let owner = Owner::load(&context, mint).await?;
            let terms = AllowTerms {
                provider,
                cap: &cap,
                per_day: per_day.as_deref(),
                period,
                limit: limit.as_deref(),
                expires: expires.as_deref(),
                delegate,
            };
            escrow::allow(&context, &owner, &terms).await
        }
        Command::Allowances { mint } => {
            escrow::list(&context, &Owner::load(&context, mint).await?).await
        }
        Command::Reduce {
            provider,
            cap,
            mint,
        } => {
            let owner = Owner::load(&context, mint).await?;
            let cap = parse_units(&cap, owner.decimals)?;
            escrow::reduce(&context, &owner, &provider, cap).await
        }
        Command::Revoke { provider, mint } => {
            let owner = Owner::load(&context, mint).await?;
            escrow::reduce(&context, &owner, &provider, 0).await
        }
        Command::SessionKey { action, mint } => {
            let owner = Owner::load(&context, mint).await?;
            match action {
                SessionKeyAction::Create { expires } => {
                    escrow::session_key_create(&context, &owner, &expires).await
                }
                SessionKeyAction::Revoke => escrow::session_key_revoke(&context, &owner).await,
            }
        }
        Command::Curl(args) => paytab_cli::commands::curl::run(&context, &args).await,
        Command::Search {
            query,
            category,
            max_price,
            limit,
        } => catalog::search(&context, &query, category, max_price.as_deref(), limit).await,
        Command::Show { name } => catalog::show(&context, &name).await,
        Command::Mcp {
            owner,
            mint,
            max_body_bytes,
            upstream,
        } => {
            let options = mcp::McpOptions {
                owner,
                mint,
                max_body: max_body_bytes,
                upstream,
            };
            mcp::run(&context, options).await
        }
        Command::History { limit } => history::history(&context, limit).await,
        Command::Policy { action } => match action {
            PolicyAction::Show => history::policy_show(&context),
            PolicyAction::Set { name, value } => history::policy_set(&context, &name, &value),
        },
        Command::Provider { action, provider } => match action {
            ProviderAction::Manifest { gateway, output } => {
                catalog::manifest(&context, &gateway, output.as_deref()).await
            }
            ProviderAction::Publish { file } => catalog::publish(&context, &file).await,
            ProviderAction::Claim {
                facilitator,
                operator_token,
            } => {
                let facilitator = provider::Facilitator::new(&facilitator, operator_token);
                provider::claim(&context, &facilitator, provider).await
            }
            ProviderAction::Earnings {
                facilitator,
                operator_token,
            } => {
                let facilitator =
                    facilitator.map(|url| provider::Facilitator::new(&url, operator_token));
                provider::earnings(&context, facilitator.as_ref(), provider).await
            }
        },
    }
}
