//! Escrow settle throughput and latency with durable SQLite storage (WAL,
//! fsync on every commit), on the embedded localnet.
//!
//! `cargo bench -p paytab-facilitator --bench escrow_settle [-- PAYERS SECONDS]`
//!
//! Figures: (a) over HTTP, clients and facilitator in one process on this
//! machine, each client settling receipts for its own allowance one after
//! another; (b) the scheme called in-process (no HTTP), the same way; (c) when
//! `PAYTAB_BENCH_POSTGRES_URL` (or `PAYTAB_TEST_POSTGRES_URL`) names a server,
//! 1, 2 and 3 facilitator instances on one fresh PostgreSQL database, each
//! request sent to an instance at random, with the CPU time per settle of this
//! process and of PostgreSQL's. Receipts are signed before the clock starts,
//! so the figures are the facilitator's.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use paytab_facilitator::chain::ChainReader;
use paytab_facilitator::committer::{Committer, DEFAULT_MAX_BATCH};
use paytab_facilitator::escrow::EscrowScheme;
use paytab_facilitator::proofs::{ProofIssuer, ProofKey};
use paytab_facilitator::signatures::SignatureChecker;
use paytab_facilitator::store::Store;
use paytab_facilitator::x402::{FacilitatorRequest, PaymentRequest};
use paytab_facilitator::{Facilitator, Settings};
use paytab_protocol::clock::unix_now;
use serde_json::Value;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

mod common;

use common::{bodies, setup, Setup, PRICE};

fn report(label: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    let count = latencies.len();
    let at = |q: f64| latencies[((count as f64 * q) as usize).min(count - 1)];
    println!(
        "{label}: {count} receipts in {:.2} s = {:.0} receipts/s; latency p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
}

/// Each client settles its pre-signed bodies in order over HTTP until time is up.
/// The key the benchmark's client presents to the facilitator.
const API_KEY: &str = "bench-api-key";

async fn over_http(
    label: &str,
    setup: &Setup,
    url: &str,
    from: u64,
    per_payer: u64,
    time: Duration,
) -> usize {
    over_http_spread(label, setup, &[url.to_string()], from, per_payer, time).await
}

/// Like [`over_http`], each request sent to one of `urls` at random; returns
/// how many receipts were settled.
async fn over_http_spread(
    label: &str,
    setup: &Setup,
    urls: &[String],
    from: u64,
    per_payer: u64,
    time: Duration,
) -> usize {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {API_KEY}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(setup.payers.len())
        .default_headers(headers)
        .build()
        .unwrap();
    let signed: Vec<Vec<Vec<u8>>> = (0..setup.payers.len())
        .map(|payer| bodies(setup, payer, from, per_payer))
        .collect();
    let mut tasks = Vec::new();
    let start = Instant::now();
    for bodies in signed {
        let http = http.clone();
        let urls = urls.to_vec();
        tasks.push(async move {
            let mut latencies = Vec::with_capacity(bodies.len());
            for body in bodies {
                if start.elapsed() > time {
                    break;
                }
                let url = &urls[rand::random::<usize>() % urls.len()];
                let sent = Instant::now();
                let answer: Value = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(answer["success"], true, "{answer}");
                latencies.push(sent.elapsed());
            }
            latencies
        });
    }
    let started = Instant::now();
    let results = futures_join_all(tasks).await;
    let elapsed = started.elapsed();
    let latencies: Vec<Duration> = results.into_iter().flatten().collect();
    let settled = latencies.len();
    report(
        &format!("{label} HTTP, {} clients", setup.payers.len()),
        latencies,
        elapsed,
    );
    settled
}

/// CPU seconds (user + system) used so far by the processes `/proc` lists
/// whose command is `command`, or by this process when `command` is `None`
/// (Linux; `/proc` counts in 1/100 s).
fn cpu_seconds(command: Option<&str>) -> f64 {
    let ticks = |stat: &str| -> f64 {
        // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |index: usize| {
            fields
                .get(index)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        field(11) + field(12)
    };
    let Some(command) = command else {
        return std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| ticks(&stat)) / 100.0;
    };
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        if std::fs::read_to_string(path.join("comm")).is_ok_and(|comm| comm.trim() == command) {
            total += std::fs::read_to_string(path.join("stat")).map_or(0.0, |stat| ticks(&stat));
        }
    }
    total / 100.0
}

/// (c) 1, 2 and 3 facilitators on one PostgreSQL database.
async fn instances_on_postgres(setup: &Setup, base: &str, seconds: u64) {
    let per_payer = (seconds * 10_000 / setup.payers.len() as u64).max(10);
    for count in 1..=3usize {
        let database = fresh_postgres_database(base).await;
        let mut instances = Vec::new();
        for _ in 0..count {
            let mut settings = Settings::new(
                setup.localnet.rpc_url(),
                database.clone(),
                setup.facilitator_key.insecure_clone(),
            )
            .with_client("bench", API_KEY);
            settings.claimer = None;
            settings.chain_cache_ttl = Duration::from_secs(3_600);
            settings.min_amount = PRICE;
            instances.push(Facilitator::start(settings).await.unwrap());
        }
        let urls: Vec<String> = instances
            .iter()
            .map(|f| format!("{}/settle", f.url()))
            .collect();
        // Each instance's caches warm on the first receipt of each allowance.
        over_http_spread("warm-up", setup, &urls, 0, 1, Duration::from_secs(60)).await;
        let (own, postgres) = (cpu_seconds(None), cpu_seconds(Some("postgres")));
        let settled = over_http_spread(
            &format!("(c) {count} instance(s) on PostgreSQL,"),
            setup,
            &urls,
            1,
            per_payer,
            Duration::from_secs(seconds),
        )
        .await;
        let (own, postgres) = (
            cpu_seconds(None) - own,
            cpu_seconds(Some("postgres")) - postgres,
        );
        println!(
            "    CPU per settle: this process (clients, facilitators, localnet) {:.3} ms, PostgreSQL {:.3} ms",
            own * 1e3 / settled.max(1) as f64,
            postgres * 1e3 / settled.max(1) as f64,
        );
        for instance in instances {
            instance.shutdown().await;
        }
    }
}

/// A new, empty database on the server at `base`.
async fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("paytab_bench_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

/// The same, calling the scheme in-process.
async fn in_process(
    label: &str,
    setup: &Setup,
    scheme: Arc<EscrowScheme>,
    from: u64,
    per_payer: u64,
) {
    let prepared: Vec<Vec<PaymentRequest>> = (0..setup.payers.len())
        .map(|payer| {
            bodies(setup, payer, from, per_payer)
                .into_iter()
                .map(|body| {
                    let request: FacilitatorRequest = serde_json::from_slice(&body).unwrap();
                    PaymentRequest::parse(request).unwrap()
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for requests in prepared {
        let scheme = scheme.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests.len());
            for request in requests {
                let sent = Instant::now();
                scheme.settle(&request, unix_now()).await.unwrap();
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    report(
        &format!("{label} in-process, {} clients", setup.payers.len()),
        latencies,
        started.elapsed(),
    );
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(tasks: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let payers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(128);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        println!("escrow settle benchmark: {payers} payers, one allowance each, durable SQLite");
        let setup = setup(payers).await;
        let dir = tempfile::tempdir().unwrap();

        // (a) The facilitator over HTTP.
        let database = dir.path().join("http.db").display().to_string();
        let mut settings = Settings::new(
            setup.localnet.rpc_url(),
            database,
            setup.facilitator_key.insecure_clone(),
        )
        .with_client("bench", API_KEY);
        settings.claimer = None;
        settings.chain_cache_ttl = Duration::from_secs(3_600);
        // Many tiny receipts per allowance: the minimum amount is lowered for them.
        settings.min_amount = PRICE;
        let facilitator = Facilitator::start(settings).await.unwrap();
        let url = format!("{}/settle", facilitator.url());
        // Warm-up: one receipt per allowance loads the chain cache.
        over_http("warm-up", &setup, &url, 0, 1, Duration::from_secs(60)).await;
        let per_payer = (seconds * 10_000 / payers as u64).max(10);
        over_http(
            "(a)",
            &setup,
            &url,
            1,
            per_payer,
            Duration::from_secs(seconds),
        )
        .await;
        facilitator.shutdown().await;

        // (b) The scheme in-process, on its own database.
        let database = dir.path().join("direct.db").display().to_string();
        let store = Store::open(&database).await.unwrap();
        let rpc = Arc::new(RpcClient::new_with_commitment(
            setup.localnet.rpc_url(),
            CommitmentConfig::confirmed(),
        ));
        let chain = Arc::new(ChainReader::new(rpc, Duration::from_secs(3_600)));
        let proofs = Arc::new(ProofIssuer::new(
            vec![ProofKey {
                signing_key: ed25519_dalek::SigningKey::from_bytes(
                    setup.facilitator_key.secret_bytes(),
                ),
                not_before: 0,
                not_after: None,
            }],
            setup.localnet.info().network.clone(),
            300,
        ));
        let (committer, _writer) = Committer::start(
            store.clone(),
            proofs.clone(),
            DEFAULT_MAX_BATCH,
            Arc::default(),
        );
        let scheme = Arc::new(EscrowScheme::new(
            chain,
            store,
            committer,
            proofs,
            Arc::new(SignatureChecker::start().unwrap()),
            setup.facilitator_key.pubkey(),
            120,
        ));
        in_process("warm-up", &setup, scheme.clone(), 0, 1).await;
        in_process("(b)", &setup, scheme, 1, per_payer).await;

        // (c) Instances side by side on PostgreSQL, each count on a new database.
        let postgres = std::env::var("PAYTAB_BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("PAYTAB_TEST_POSTGRES_URL"))
            .ok()
            .filter(|url| !url.is_empty());
        match postgres {
            Some(base) => instances_on_postgres(&setup, &base, seconds).await,
            None => println!("(c) skipped: set PAYTAB_BENCH_POSTGRES_URL to a PostgreSQL server"),
        }
    });
}
