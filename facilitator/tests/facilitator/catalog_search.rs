//! Catalog search on both engines (SQLite FTS5, PostgreSQL full text): the
//! ranking of a fixture of three dozen services, filters, and stale listings.

use paytab_facilitator::store::{ListingQuery, ListingRecord, ListingStatus, ListingWrite, Store};
use serde_json::json;
use solana_pubkey::Pubkey;

use crate::store::fresh_stores;

/// A listing as the catalog stores it, for search tests.
fn listing(
    name: &str,
    title: &str,
    description: &str,
    category: &str,
    price: u64,
) -> ListingRecord {
    ListingRecord {
        name: name.into(),
        signer: Pubkey::new_unique().to_string(),
        publication: json!({"manifest": {"serviceUrl": format!("https://{name}.example.com")}}),
        title: title.into(),
        description: description.into(),
        use_case: String::new(),
        category: category.into(),
        endpoints_text: format!("GET /v1/{name} {title}"),
        network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into(),
        asset: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU".into(),
        lowest_price: Some(price),
        probes: json!([]),
        published_at: 1_790_000_000,
        listed_at: 1_790_000_000,
        status: ListingStatus::Live,
        status_reason: None,
        probed_at: 1_790_000_000,
        failures: 0,
    }
}

/// Three dozen services, a few close to each query and many near misses.
fn catalog_fixture() -> Vec<ListingRecord> {
    let rows: [(&str, &str, &str, &str, u64); 36] = [
        ("weather-now", "Weather now", "Current weather conditions and forecasts for any city: temperature, wind, rain and UV, updated every ten minutes.", "maps", 1_000),
        ("forecast-pro", "Forecast Pro", "Hourly and ten-day weather forecasts with precipitation probability for coordinates worldwide.", "maps", 5_000),
        ("climate-archive", "Climate archive", "Historical climate records: daily temperature and rainfall since 1950 for weather stations.", "data", 2_000),
        ("geocode", "Geocoder", "Forward and reverse geocoding of addresses and coordinates, with places and time zones.", "maps", 1_000),
        ("tides", "Tides", "Tide tables and river gauge levels for coastal and inland stations.", "maps", 1_000),
        ("quotes", "Crypto quotes", "Price quotes for crypto assets by symbol, refreshed every second from several venues.", "finance", 10_000),
        ("fx-rates", "FX rates", "Foreign exchange rates for 160 currencies, with historical series.", "finance", 2_000),
        ("stock-prices", "Stock prices", "Delayed stock prices and company fundamentals for listed equities.", "finance", 3_000),
        ("defi-yields", "DeFi yields", "Lending and staking yields across Solana protocols, updated hourly.", "finance", 4_000),
        ("translate", "Translate", "Machine translation of text between 100 languages, with language detection.", "translation", 2_000),
        ("subtitles", "Subtitles", "Translate subtitle files (SRT, VTT) while keeping timing intact.", "translation", 8_000),
        ("ocr", "OCR", "Extract text from images and scanned PDF documents in 40 languages.", "ai_ml", 5_000),
        ("embeddings", "Embeddings", "Text embeddings for semantic search and clustering, 1,024 dimensions.", "ai_ml", 500),
        ("chat-llm", "Chat model", "A large language model for chat completions and tool calls.", "ai_ml", 20_000),
        ("image-gen", "Image generation", "Generate images from text prompts at up to 2048 pixels.", "media", 40_000),
        ("tts", "Text to speech", "Natural voices reading text aloud, as MP3 or WAV.", "media", 6_000),
        ("transcribe", "Transcribe", "Speech to text transcription of audio and video files with timestamps.", "media", 9_000),
        ("web-search", "Web search", "Search the web and get ranked results with snippets and links.", "search", 3_000),
        ("news-search", "News search", "Search news articles from 50,000 sources by keyword and date.", "search", 3_000),
        ("paper-search", "Paper search", "Search scientific papers and abstracts across open archives.", "search", 2_000),
        ("sms", "SMS", "Send text messages to phones in 200 countries, with delivery receipts.", "messaging", 15_000),
        ("email-send", "Email", "Send transactional email with templates and bounce tracking.", "messaging", 1_000),
        ("kyc", "Identity check", "Verify identity documents and match selfies for onboarding.", "identity", 90_000),
        ("dns-scan", "DNS scan", "Scan domains for DNS misconfigurations and expiring certificates.", "security", 4_000),
        ("malware-scan", "Malware scan", "Scan files and URLs for malware with several engines.", "security", 7_000),
        ("blob-store", "Blob store", "Store and fetch files by content hash, paid per gigabyte.", "storage", 1_000),
        ("pins", "Pinning", "Pin content to IPFS and keep it available.", "storage", 2_000),
        ("gpu-jobs", "GPU jobs", "Run containers on GPUs by the second, with logs.", "compute", 50_000),
        ("functions", "Functions", "Deploy and invoke short-lived HTTP functions.", "compute", 1_000),
        ("vm", "Virtual machines", "Rent virtual machines by the hour in several regions.", "cloud", 100_000),
        ("cdn", "CDN", "Cache and deliver static content from edge locations.", "cloud", 500),
        ("calendar", "Calendar", "Create and query calendar events and free/busy times.", "productivity", 1_000),
        ("pdf-tools", "PDF tools", "Merge, split and convert PDF documents.", "productivity", 2_000),
        ("shop-prices", "Shop prices", "Compare product prices across online shops.", "shopping", 3_000),
        ("lint", "Code lint", "Lint and format code in 30 languages.", "devtools", 1_000),
        ("misc", "Odds and ends", "A little of everything, for tests of search.", "other", 1_000),
    ];
    rows.iter()
        .map(|(name, title, description, category, price)| {
            listing(name, title, description, category, *price)
        })
        .collect()
}

async fn names(store: &Store, query: ListingQuery) -> Vec<String> {
    store
        .search_listings(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|(listing, _)| listing.name)
        .collect()
}

fn words(text: &str) -> ListingQuery {
    ListingQuery {
        words: text.split_whitespace().map(str::to_string).collect(),
        limit: 10,
        ..ListingQuery::default()
    }
}

#[tokio::test]
async fn search_ranks_a_fixture_of_three_dozen_services_as_expected_on_both_engines() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        for listing in catalog_fixture() {
            assert_eq!(
                store.write_listing(&listing).await.unwrap(),
                ListingWrite::Listed
            );
        }
        let weather = names(store, words("weather forecast")).await;
        let mut top = weather[..2].to_vec();
        top.sort();
        assert_eq!(
            top,
            ["forecast-pro", "weather-now"],
            "{} {weather:?}",
            store.kind()
        );
        assert!(weather.contains(&"climate-archive".to_string()));
        assert!(!weather.contains(&"quotes".to_string()));

        let translation = names(store, words("translate")).await;
        assert_eq!(translation[0], "translate", "{translation:?}");
        assert_eq!(translation[1], "subtitles", "{translation:?}");

        let prices = names(store, words("crypto price")).await;
        assert_eq!(prices[0], "quotes", "{prices:?}");

        let searches = names(
            store,
            ListingQuery {
                category: Some("search".into()),
                ..words("search")
            },
        )
        .await;
        assert_eq!(searches.len(), 3, "{searches:?}");

        let cheap = names(
            store,
            ListingQuery {
                max_price: Some(1_000),
                ..words("weather forecast")
            },
        )
        .await;
        assert_eq!(
            cheap,
            ["weather-now"],
            "the forecast at 5,000 is over the price"
        );

        let everything = names(
            store,
            ListingQuery {
                limit: 50,
                ..ListingQuery::default()
            },
        )
        .await;
        assert_eq!(everything.len(), 36);
        assert!(names(store, words("zeppelin")).await.is_empty());
        fresh.finish().await;
    }
}

#[tokio::test]
async fn a_stale_listing_ranks_after_live_ones_and_a_probe_of_an_old_publication_is_not_recorded() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        for listing in catalog_fixture() {
            store.write_listing(&listing).await.unwrap();
        }
        store
            .record_probe(
                "forecast-pro",
                1_790_000_000,
                ListingStatus::Stale,
                Some("down"),
                &json!([]),
                1_790_000_100,
            )
            .await
            .unwrap();
        let weather = names(store, words("weather forecast")).await;
        assert_eq!(
            weather.last().map(String::as_str),
            Some("forecast-pro"),
            "{weather:?}"
        );

        store
            .record_probe(
                "weather-now",
                1,
                ListingStatus::Stale,
                Some("old"),
                &json!([]),
                1_790_000_100,
            )
            .await
            .unwrap();
        let held = store.listing("weather-now").await.unwrap().unwrap();
        assert_eq!(held.status, ListingStatus::Live);
        fresh.finish().await;
    }
}
