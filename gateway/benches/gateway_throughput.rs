//! Requests per second and latency, in one run against one upstream:
//! (a) the upstream direct, (b) the gateway on a free route, (c) the gateway on
//! a paid route with proofs (fast path, used proofs written to its state
//! file), (c') the same with used proofs kept in memory only (tests' store: the
//! file's cost), (d) the gateway on a paid route with the facilitator round
//! trip (x402 `escrow` receipts, verify + settle). Then proof checks per second
//! on one core. (b), (c) and (c') then alternate in slices of one second
//! (3 × SECONDS slices each): the paid/free ratio is that of their totals,
//! and the median of the slices' ratios.
//!
//! The proofs of (c) are signed as the facilitator's group commit signs them
//! with as many settles in flight as there are clients: in batches of one
//! proof per client under one signature (`paytab_protocol::proof_batch`).
//!
//! `cargo bench -p paytab-gateway --bench gateway_throughput [-- CLIENTS SECONDS]`

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/gateway/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use paytab::receipt::Receipt;
use paytab_client::receipts::sign_receipt;
use paytab_facilitator::escrow::payload::SignedReceipt;
use paytab_facilitator::{Facilitator, Settings};
use paytab_gateway::config::{FileConfig, GatewayConfig};
use paytab_gateway::proof_check::{self, Expected};
use paytab_gateway::server::Gateway;
use paytab_localnet::{Localnet, LocalnetConfig};
use paytab_protocol::clock::unix_now;
use paytab_protocol::keys::{KeyId, KeySet};
use paytab_protocol::proof::{Binding, Proof, Scheme, Settlement};
use paytab_protocol::proof_batch::{sign_batch, VerifiedRoots};
use serde_json::json;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

const PRICE: u64 = 1_000;
/// One-second slices of each kind of request in the paid/free comparison,
/// per second of a phase measured on its own (15 for the default 5 s).
const SLICES_PER_SECOND: usize = 3;
/// One slice of the paid/free comparison.
const SLICE: Duration = Duration::from_secs(1);
/// Both gateways stand behind this URL, so one proof binds to either.
const PUBLIC_URL: &str = "https://bench.example";

async fn upstream() -> SocketAddr {
    let app = Router::new().fallback(get(|| async {
        Json(json!({"symbol": "SOL", "price": 42}))
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// Latencies of one kind of request, over one or more slices of time.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    seconds: f64,
    /// CPU time of the whole process (clients, gateways, upstream) meanwhile.
    cpu_seconds: f64,
}

/// CPU time this process has used (all threads), seconds; 0 where unknown.
fn process_cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat: user and system time in ticks of 1/100 s.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
    };
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => 0.0,
    }
}

impl Tally {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    fn print(&mut self, label: &str) {
        self.latencies.sort();
        let at = |q: f64| {
            let index = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
            self.latencies[index].as_secs_f64() * 1e3
        };
        println!(
            "{label}: {:.0} requests/s; p50 {:.2} ms, p99 {:.2} ms; {:.1} µs of CPU each ({} requests)",
            self.rate(),
            at(0.5),
            at(0.99),
            self.cpu_seconds * 1e6 / self.latencies.len() as f64,
            self.latencies.len()
        );
    }
}

/// Runs `clients` loops of `request(client, n)` for `duration`, adding to
/// `tally`; the rate of this slice.
async fn slice<F, Fut>(tally: &mut Tally, clients: usize, duration: Duration, request: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let cpu_started = process_cpu_seconds();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                request(client, n).await;
                latencies.push(sent.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut count = 0;
    for task in tasks {
        let latencies = task.await.unwrap();
        count += latencies.len();
        tally.latencies.extend(latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    tally.seconds += elapsed;
    tally.cpu_seconds += process_cpu_seconds() - cpu_started;
    count as f64 / elapsed
}

/// Runs `clients` loops of `request(client, n)` for `seconds`; prints the figures.
async fn measure<F, Fut>(label: &str, clients: usize, seconds: u64, request: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tally = Tally::default();
    slice(&mut tally, clients, Duration::from_secs(seconds), request).await;
    tally.print(label);
    tally.rate()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let clients: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(clients, seconds));
    // Stop the localnet, facilitator and gateway so the last phase has the core to itself.
    drop(runtime);
    proof_checks_per_core(seconds);
}

async fn run(clients: usize, seconds: u64) {
    println!("gateway benchmark: {clients} concurrent clients, {seconds} s per phase");
    let localnet = Localnet::start(LocalnetConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        slot_duration: Duration::from_millis(100),
        ..LocalnetConfig::default()
    })
    .await
    .unwrap();
    let rpc = RpcClient::new_with_commitment(localnet.rpc_url(), CommitmentConfig::confirmed());
    let mint = localnet.info().usdc_mint;
    let facilitator_key = Keypair::new();
    localnet
        .chain
        .airdrop(&facilitator_key.pubkey(), 10_000_000_000)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(
        localnet.rpc_url(),
        dir.path().join("facilitator.db").display().to_string(),
        facilitator_key.insecure_clone(),
    )
    .with_client("bench", support::FACILITATOR_KEY);
    settings.claimer = None;
    settings.chain_cache_ttl = Duration::from_secs(3_600);
    let facilitator = Facilitator::start(settings).await.unwrap();
    let provider = Keypair::new().pubkey();
    let upstream = upstream().await;
    let config = format!(
        r#"
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"
upstream = "http://{upstream}"
state_file = "{state_file}"
[payment]
network = "{network}"
asset = "{mint}"
pay_to = "{provider}"
schemes = ["escrow", "exact"]
[facilitator]
url = "{facilitator}"
fee_payer = "{fee_payer}"
api_key_env = "FACILITATOR_KEY"
[[routes]]
path = "/free/*"
free = true
[[routes]]
path = "/paid/*"
price = {PRICE}
"#,
        network = localnet.info().network,
        facilitator = facilitator.url(),
        fee_payer = facilitator_key.pubkey(),
        state_file = dir.path().join("gateway.state").display(),
    );
    let file: FileConfig = toml::from_str(&config).unwrap();
    let config = GatewayConfig::check(file, |name| {
        (name == "FACILITATOR_KEY").then(|| support::FACILITATOR_KEY.to_string())
    })
    .unwrap();
    let in_memory = Gateway::start_with(
        config.clone(),
        Some(vec![7; 32]),
        paytab_gateway::reservations::Reservations::memory(),
    )
    .await
    .unwrap();
    let gateway = Gateway::start(config, Some(vec![7; 32])).await.unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .build()
        .unwrap();

    let direct = format!("http://{upstream}/free/quote");
    let client = http.clone();
    measure("(a) upstream direct", clients, seconds, move |_, _| {
        fetch(client.clone(), direct.clone(), None)
    })
    .await;

    let free = format!("{}/free/quote", gateway.url());
    let client = http.clone();
    let free_url = free.clone();
    let free_rate = measure(
        "(b) gateway, free route, on its own",
        clients,
        seconds,
        move |_, _| fetch(client.clone(), free_url.clone(), None),
    )
    .await;

    // (c) Proofs signed before the clock starts, by the facilitator's proof key.
    let paid = format!("{}/paid/quote", gateway.url());
    let key = SigningKey::from_bytes(facilitator_key.secret_bytes());
    // Enough for every slice of both gateways at three times the free rate.
    let per_client =
        (free_rate as usize * seconds as usize * 3 * SLICES_PER_SECOND / clients).max(100);
    let network = localnet.info().network.clone();
    let mut by_client: Vec<Vec<String>> = vec![Vec::with_capacity(per_client); clients];
    for n in 0..per_client {
        let batch: Vec<Proof> = (0..clients)
            .map(|client| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&(client as u64).to_le_bytes());
                id[8..].copy_from_slice(&(n as u64).to_le_bytes());
                proof_content(
                    &key,
                    &network,
                    provider,
                    mint,
                    Binding::request("GET", &format!("{PUBLIC_URL}/paid/quote")),
                    id,
                )
            })
            .collect();
        for (client, token) in sign_batch(&batch, &key).unwrap().into_iter().enumerate() {
            by_client[client].push(token);
        }
    }
    let proofs: Arc<Vec<Vec<String>>> = Arc::new(by_client);
    // The next unused proof of each client, per gateway (each keeps its own
    // record of used proofs).
    let next_file: Arc<Vec<AtomicUsize>> =
        Arc::new((0..clients).map(|_| AtomicUsize::new(0)).collect());
    let next_memory: Arc<Vec<AtomicUsize>> =
        Arc::new((0..clients).map(|_| AtomicUsize::new(0)).collect());

    // The machine is noisy: free and paid requests alternate in slices of
    // one second (in a rotating order), and each slice's ratio compares
    // slices measured back to back.
    let slices = seconds as usize * SLICES_PER_SECOND;
    let mut tallies: [Tally; 3] = Default::default();
    let (mut file_ratios, mut memory_ratios) = (Vec::new(), Vec::new());
    let memory_paid = format!("{}/paid/quote", in_memory.url());
    for index in 0..slices {
        let mut rates = [0.0; 3];
        for step in 0..3 {
            let kind = (index + step) % 3;
            let tally = &mut tallies[kind];
            rates[kind] = match kind {
                0 => {
                    let (client, url) = (http.clone(), free.clone());
                    slice(tally, clients, SLICE, move |_, _| {
                        fetch(client.clone(), url.clone(), None)
                    })
                    .await
                }
                1 => paid_slice(tally, clients, &http, &paid, &proofs, &next_file).await,
                _ => paid_slice(tally, clients, &http, &memory_paid, &proofs, &next_memory).await,
            };
        }
        file_ratios.push(rates[1] / rates[0]);
        memory_ratios.push(rates[2] / rates[0]);
    }
    let [free_tally, file_tally, memory_tally] = &mut tallies;
    free_tally.print("(b) gateway, free route, in slices");
    file_tally.print("(c) gateway, paid route, proofs, in slices");
    memory_tally.print("(c') the same, used proofs in memory only, in slices");
    println!(
        "paid / free over {slices} slices of 1 s: {:.2} (target >= 0.8), median of the slices' ratios {:.2}; \
         used proofs in memory only: {:.2}, median {:.2}",
        file_tally.rate() / free_tally.rate(),
        median(&mut file_ratios),
        memory_tally.rate() / free_tally.rate(),
        median(&mut memory_ratios),
    );
    in_memory.shutdown().await;

    // (d) x402 escrow receipts through the facilitator; one payer per client.
    let mut payers = Vec::new();
    for _ in 0..clients {
        payers.push(support::payer(&localnet, &rpc, &facilitator_key, &provider).await);
    }
    let requirement = json!({
        "scheme": "paytab-escrow",
        "network": network,
        "amount": PRICE.to_string(),
        "asset": mint.to_string(),
        "payTo": provider.to_string(),
        "maxTimeoutSeconds": 60,
        "extra": {"delegate": facilitator_key.pubkey().to_string(), "programId": paytab::ID.to_string()},
    });
    // Each receipt is used once; enough for well over the expected rate.
    let receipts_per_client = (seconds as usize * 4_000 / clients).max(200);
    let headers: Arc<Vec<Vec<String>>> = Arc::new(
        payers
            .iter()
            .map(|payer| {
                (1..=receipts_per_client as u64)
                    .map(|step| {
                        let receipt = Receipt {
                            allowance: payer.allowance,
                            generation: payer.generation,
                            cumulative: step * PRICE,
                            expires_at: 0,
                        };
                        let payload = SignedReceipt {
                            receipt,
                            signer: payer.keypair.pubkey(),
                            signature: sign_receipt(&payer.keypair, &receipt),
                        }
                        .to_payload();
                        STANDARD.encode(
                            json!({"x402Version": 2, "accepted": requirement, "payload": payload})
                                .to_string(),
                        )
                    })
                    .collect()
            })
            .collect(),
    );
    let client = http.clone();
    let url = paid.clone();
    measure(
        "(d) gateway, paid route, facilitator round trip",
        clients,
        seconds,
        move |c, n| {
            let header = headers[c][n % receipts_per_client].clone();
            fetch(
                client.clone(),
                url.clone(),
                Some(("payment-signature", header)),
            )
        },
    )
    .await;
    gateway.shutdown().await;
    facilitator.shutdown().await;
}

/// One slice of paid requests to `url`: each client presents its next unused proof.
async fn paid_slice(
    tally: &mut Tally,
    clients: usize,
    http: &reqwest::Client,
    url: &str,
    proofs: &Arc<Vec<Vec<String>>>,
    next: &Arc<Vec<AtomicUsize>>,
) -> f64 {
    let (client, tokens, next, url) = (http.clone(), proofs.clone(), next.clone(), url.to_string());
    slice(tally, clients, SLICE, move |c, _| {
        let list = &tokens[c];
        let token = list[next[c].fetch_add(1, Ordering::Relaxed) % list.len()].clone();
        fetch(client.clone(), url.clone(), Some(("paytab-proof", token)))
    })
    .await
}

/// The middle value of `values`.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// GETs `url` (with one extra header, if given) and reads the whole answer,
/// which must be a success.
async fn fetch(client: reqwest::Client, url: String, header: Option<(&'static str, String)>) {
    let mut request = client.get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.unwrap();
}

/// A proof of one `PRICE` payment, unsigned.
fn proof_content(
    key: &SigningKey,
    network: &str,
    pay_to: Pubkey,
    asset: Pubkey,
    binding: Binding,
    id: [u8; 16],
) -> Proof {
    let now = unix_now();
    Proof {
        key_id: KeyId::of(&key.verifying_key()),
        scheme: Scheme::Escrow,
        network: network.to_string(),
        payer: Pubkey::new_from_array([1; 32]),
        pay_to,
        asset,
        amount: PRICE,
        binding,
        issued_at: now,
        expires_at: now + 600,
        id,
        settlement: Settlement::Receipt {
            allowance: Pubkey::new_from_array([4; 32]),
            cumulative: PRICE,
        },
    }
}

/// Proof checks (decode, key, signature, time, terms) per second on one core.
fn proof_checks_per_core(seconds: u64) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let terms = paytab_gateway::config::PaymentTerms {
        network: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into(),
        asset: Pubkey::new_from_array([3; 32]),
        token_program: paytab_gateway::config::SPL_TOKEN,
        pay_to: Pubkey::new_from_array([2; 32]),
        decimals: 6,
        schemes: vec![paytab_gateway::config::PayScheme::Escrow],
        max_timeout_seconds: 60,
        fee_payer: None,
        delegate: None,
        settles_charges: false,
    };
    let binding = Binding::request("GET", "https://api.example.com/v1/quote");
    let token = proof_content(
        &key,
        &terms.network,
        terms.pay_to,
        terms.asset,
        binding,
        [9; 16],
    )
    .sign(&key)
    .unwrap();
    let mut keys = KeySet::default();
    keys.insert(key.verifying_key(), 0, None);
    keys.warm();
    let expected = Expected {
        terms: &terms,
        price: PRICE,
        binding,
    };
    let now = unix_now();
    let started = Instant::now();
    let mut checks = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..100 {
            proof_check::check_signed(&token, &keys, None, &expected, now).unwrap();
        }
        checks += 100;
    }
    println!(
        "proof check, one core: {:.0} checks/s (target >= 30,000)",
        checks as f64 / started.elapsed().as_secs_f64()
    );
    // Batch tokens of 32 proofs, each batch's root verified once (signing
    // the batches is left out of the time).
    let roots = VerifiedRoots::default();
    let started = Instant::now();
    let mut checks = 0u64;
    let mut checked = Duration::ZERO;
    let mut batch_id = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let batch: Vec<Proof> = (0..32u64)
            .map(|index| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&batch_id.to_le_bytes());
                id[8..].copy_from_slice(&index.to_le_bytes());
                proof_content(&key, &terms.network, terms.pay_to, terms.asset, binding, id)
            })
            .collect();
        let tokens = sign_batch(&batch, &key).unwrap();
        let checking = Instant::now();
        for token in &tokens {
            proof_check::check_signed(token, &keys, Some(&roots), &expected, now).unwrap();
        }
        checked += checking.elapsed();
        checks += tokens.len() as u64;
        batch_id += 1;
    }
    println!(
        "proof check, one core, batch tokens of 32: {:.0} checks/s",
        checks as f64 / checked.as_secs_f64()
    );
}
