//! Latency a payment adds to one request, end to end on the embedded localnet:
//! `cargo bench -p paytab-cli --bench paid_latency -- [requests]`.
//!
//! One client, requests one after another, through the gateway: (a) a free
//! route; (b) the 402 probe of a paid route; (c) a paid call by escrow receipt
//! as `paytab curl` makes it (probe, choose, policy, ledger, signed receipt,
//! facilitator verify, upstream, facilitator settle with a durable commit);
//! (d) the same paid call through `paytab mcp`'s `fetch` tool, over an
//! in-process MCP session (the official Rust SDK on both ends). Prints p50/p99
//! of each, what (c) adds over (a), and what the MCP layer adds over (c).

use std::sync::Arc;
use std::time::{Duration, Instant};

use paytab::instructions::GrantAllowanceArgs;
use paytab_cli::mcp::agent::{Agent, AgentParts, DEFAULT_MAX_BODY};
use paytab_cli::mcp::PaytabMcp;
use paytab_cli::world::{confirm, World};
use paytab_client::catalog::CatalogClient;
use paytab_client::ledger::Ledger;
use paytab_client::pay::{PaidRequest, Payer};
use paytab_client::policy::SpendingPolicy;
use paytab_client::program::PaytabProgram;
use paytab_client::EscrowAccounts;
use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

const WARM_UP: usize = 20;

fn main() {
    let requests: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(requests));
}

async fn run(requests: usize) {
    let world = World::start().await.expect("the world starts");
    let payer = Keypair::new();
    let chain = &world.localnet.chain;
    let sol = chain
        .airdrop(&payer.pubkey(), 1_000_000_000)
        .expect("airdrop");
    let usdc = chain.mint_usdc(&payer.pubkey(), 10_000_000).expect("mint");
    confirm(&world.rpc, &sol).await.expect("confirmed");
    confirm(&world.rpc, &usdc).await.expect("confirmed");
    let escrow = EscrowAccounts::new(
        payer.pubkey(),
        world.localnet.info().usdc_mint,
        spl_token_interface::ID,
    );
    let program = PaytabProgram::new(&world.localnet.rpc_url(), Arc::new(payer.insecure_clone()))
        .expect("the program client");
    program
        .send(escrow.open_with_allowance(
            3_600,
            10_000_000,
            &world.provider.pubkey(),
            GrantAllowanceArgs {
                cap: 10_000_000,
                period_secs: 0,
                period_limit: 0,
                expires_at: 0,
                delegate: Some(world.facilitator_key.pubkey()),
            },
        ))
        .await
        .expect("escrow opened");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let ledger = Ledger::open(&dir.path().join("ledger.db"))
        .await
        .expect("ledger");
    let mut policy = SpendingPolicy::default();
    policy
        .set("daily_budget_per_host", "1000")
        .expect("a valid budget");
    let rpc = Arc::new(RpcClient::new_with_commitment(
        world.localnet.rpc_url(),
        CommitmentConfig::confirmed(),
    ));
    let paying = Payer::new(
        rpc,
        Arc::new(payer.insecure_clone()),
        ledger,
        policy,
        Arc::new(|_: &str| false),
    )
    .await
    .expect("payer");
    let http = reqwest::Client::new();
    let free = world.url("/health");
    let paid = world.url("/v1/quotes/SOL");

    println!(
        "paid-request latency: {requests} sequential requests each, one client, 2-core machine"
    );
    let free_p50 = measure("(a) free route", requests, || {
        let (http, free) = (http.clone(), free.clone());
        async move {
            let answer = http.get(free).send().await.expect("free request");
            assert!(answer.status().is_success());
            answer.bytes().await.expect("body");
        }
    })
    .await;
    measure("(b) paid route, 402 probe only", requests, || {
        let (http, paid) = (http.clone(), paid.clone());
        async move {
            let answer = http.get(paid).send().await.expect("probe");
            assert_eq!(answer.status(), 402);
            answer.bytes().await.expect("body");
        }
    })
    .await;
    let paid_p50 = measure(
        "(c) paid by escrow receipt, as paytab curl",
        requests,
        || {
            let request = PaidRequest::get(paid.clone());
            let paying = &paying;
            async move {
                let fetched = paying.fetch(&request).await.expect("paid request");
                assert!(fetched.status.is_success() && fetched.payment.is_some());
            }
        },
    )
    .await;
    println!(
        "added by paying: {:.2} ms at p50 (target <= 5 ms)",
        (paid_p50 - free_p50).as_secs_f64() * 1e3
    );

    let agent = Agent::new(AgentParts {
        payer: paying,
        catalog: CatalogClient::new(&world.facilitator.url()),
        program,
        rpc: Arc::new(RpcClient::new_with_commitment(
            world.localnet.rpc_url(),
            CommitmentConfig::confirmed(),
        )),
        owner: payer.pubkey(),
        mint: (world.localnet.info().usdc_mint, spl_token_interface::ID, 6),
        max_body: DEFAULT_MAX_BODY,
    });
    let (server_side, client_side) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(server) = PaytabMcp::new(agent).serve(server_side).await {
            let _ = server.waiting().await;
        }
    });
    let client = ().serve(client_side).await.expect("an MCP session");
    let arguments = serde_json::json!({"url": paid})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mcp_p50 = measure(
        "(d) paid by escrow receipt, through the MCP fetch tool",
        requests,
        || {
            let params = CallToolRequestParams::new("fetch").with_arguments(arguments.clone());
            let client = &client;
            async move {
                let result = client.call_tool(params).await.expect("fetch tool");
                assert_ne!(result.is_error, Some(true), "{result:?}");
            }
        },
    )
    .await;
    println!(
        "added by the MCP layer: {:.2} ms at p50 (its fetch also asks for a quote first)",
        (mcp_p50 - paid_p50).as_secs_f64() * 1e3
    );
    let _ = client.cancel().await;
    world.shutdown().await;
}

/// Runs `request` `WARM_UP` times unmeasured, then `count` times; prints and returns p50.
async fn measure<F, Fut>(label: &str, count: usize, mut request: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARM_UP {
        request().await;
    }
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        request().await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: p50 {:.2} ms, p99 {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
    at(0.5)
}
