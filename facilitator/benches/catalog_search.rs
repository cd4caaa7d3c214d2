//! Catalog search latency: a catalog of N generated listings in the store
//! (SQLite FTS5; PostgreSQL full text too when `PAYTAB_TEST_POSTGRES_URL`
//! names a server), then a fixed mix of queries, one after another, timed
//! at the store (what `GET /catalog/search` spends besides HTTP and JSON).
//!
//! `cargo bench -p paytab-facilitator --bench catalog_search [-- LISTINGS ROUNDS]`

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use paytab_facilitator::store::{ListingQuery, ListingRecord, ListingStatus, Store};
use serde_json::json;

const WORDS: [&str; 40] = [
    "weather",
    "forecast",
    "price",
    "quote",
    "crypto",
    "stock",
    "translate",
    "text",
    "image",
    "audio",
    "video",
    "search",
    "news",
    "paper",
    "email",
    "sms",
    "identity",
    "document",
    "pdf",
    "storage",
    "file",
    "gpu",
    "compute",
    "function",
    "dns",
    "security",
    "scan",
    "map",
    "geocode",
    "route",
    "calendar",
    "shop",
    "product",
    "code",
    "lint",
    "embedding",
    "model",
    "chat",
    "speech",
    "tide",
];
const CATEGORIES: [&str; 17] = [
    "ai_ml",
    "cloud",
    "compute",
    "data",
    "devtools",
    "finance",
    "identity",
    "maps",
    "media",
    "messaging",
    "other",
    "productivity",
    "search",
    "security",
    "shopping",
    "storage",
    "translation",
];

/// A deterministic pseudo-random listing number `index`.
fn listing(index: usize) -> ListingRecord {
    let word = |k: usize| WORDS[(index * 7 + k * 13 + index / 3) % WORDS.len()];
    let title = format!("{} {} {index}", word(0), word(1));
    let description = format!(
        "{} and {} for {} with {}: a service that answers {} requests about {} and {}, paid per call.",
        word(2), word(3), word(4), word(5), word(6), word(7), word(8)
    );
    ListingRecord {
        name: format!("service-{index}"),
        signer: format!("signer-{index}"),
        publication: json!({"manifest": {"serviceUrl": format!("https://s{index}.example.com")}}),
        title,
        description,
        use_case: format!("Use for {} {}.", word(9), word(10)),
        category: CATEGORIES[index % CATEGORIES.len()].into(),
        endpoints_text: format!("GET /v1/{} {}", word(11), word(12)),
        network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into(),
        asset: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU".into(),
        lowest_price: Some(1_000 * (1 + index as u64 % 50)),
        probes: json!([]),
        published_at: 1_790_000_000,
        listed_at: 1_790_000_000,
        status: if index.is_multiple_of(20) {
            ListingStatus::Stale
        } else {
            ListingStatus::Live
        },
        status_reason: None,
        probed_at: 1_790_000_000,
        failures: 0,
    }
}

fn queries() -> Vec<ListingQuery> {
    let words = |text: &str| text.split_whitespace().map(str::to_string).collect();
    let base = ListingQuery {
        limit: 10,
        ..ListingQuery::default()
    };
    vec![
        ListingQuery {
            words: words("weather forecast"),
            ..base.clone()
        },
        ListingQuery {
            words: words("crypto price quote"),
            ..base.clone()
        },
        ListingQuery {
            words: words("translate text"),
            category: Some("translation".into()),
            ..base.clone()
        },
        ListingQuery {
            words: words("gpu compute model"),
            max_price: Some(10_000),
            ..base.clone()
        },
        ListingQuery {
            words: words("scan"),
            ..base.clone()
        },
        ListingQuery {
            category: Some("finance".into()),
            ..base.clone()
        },
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn run(kind: &str, store: Store, listings: usize, rounds: usize) {
    let started = Instant::now();
    for index in 0..listings {
        store.write_listing(&listing(index)).await.unwrap();
    }
    let loaded = started.elapsed();
    let queries = queries();
    for query in &queries {
        store.search_listings(query).await.unwrap();
    }
    let mut times = Vec::with_capacity(rounds * queries.len());
    let mut results = 0;
    for _ in 0..rounds {
        for query in &queries {
            let start = Instant::now();
            results += store.search_listings(query).await.unwrap().len();
            times.push(start.elapsed());
        }
    }
    times.sort();
    println!(
        "{kind:<10} {listings:>6} listings (loaded in {:.1} s)  {} searches: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({:.1} results each)",
        loaded.as_secs_f64(),
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        results as f64 / times.len() as f64,
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let listings = args.first().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let rounds = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db").display().to_string();
    run(
        "sqlite",
        Store::open(&path).await.unwrap(),
        listings,
        rounds,
    )
    .await;
    if let Ok(base) = std::env::var("PAYTAB_TEST_POSTGRES_URL") {
        let name = format!("paytab_bench_{:08x}", rand::random::<u32>());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        run(
            "postgres",
            Store::open(&format!("{prefix}/{name}")).await.unwrap(),
            listings,
            rounds,
        )
        .await;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
