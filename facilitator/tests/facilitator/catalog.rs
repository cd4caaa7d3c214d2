//! The catalog over HTTP: a publication is checked, probed and listed; search
//! and show find it; a forged, re-signed, rolled-back, mispriced or private
//! one is refused with the reason; a listing that stops answering as listed
//! goes stale.

use paytab_facilitator::catalog::config::CatalogSettings;
use paytab_protocol::clock::unix_now;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::support::provider::{manifest_json, publication, Asked, FakeProvider};
use crate::support::World;

/// A world whose catalog may probe this machine and rounds run on request.
async fn world() -> World {
    World::start_with(|settings| {
        settings.claimer = None;
        settings.catalog = Some(CatalogSettings {
            allow_private_probes: true,
            probe_interval: None,
            publishes_per_minute: 1_000,
            ..CatalogSettings::default()
        });
    })
    .await
}

/// Publishes `body`; the status and the error code, if any.
async fn publish(world: &World, body: &Value) -> (u16, String) {
    let (status, answer) = world.post("/catalog/publish", body).await;
    (
        status,
        answer["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// A provider key, the terms its service asks and that service's manifest.
fn service(world: &World, provider: &FakeProvider, name: &str, price: u64) -> (Keypair, Value) {
    let key = Keypair::new();
    let asked = Asked {
        price,
        pay_to: key.pubkey(),
        asset: world.mint(),
        network: world.network(),
    };
    provider.set(name, asked.clone());
    (key, manifest_json(name, &provider.url(name), &asked))
}

#[tokio::test]
async fn a_published_service_is_probed_listed_found_by_search_and_shown_with_its_signature() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "quotes", 10_000);
    let body = publication(&manifest, &key, unix_now());

    let (status, listed) = world.post("/catalog/publish", &body).await;
    assert_eq!(status, 201, "{listed}");
    assert_eq!(provider.requests(), 3, "each endpoint probed once");
    assert_eq!(listed["health"]["status"], "live");

    let (status, found) = world.get("/catalog/search?q=crypto%20price%20quotes").await;
    assert_eq!(status, 200);
    assert_eq!(found["results"][0]["name"], "quotes");
    assert_eq!(found["results"][0]["lowestPrice"], "10000");

    let (status, shown) = world.get("/catalog/services/quotes").await;
    assert_eq!(status, 200);
    assert_eq!(shown["publication"]["signer"], key.pubkey().to_string());
    assert_eq!(shown["publication"]["signature"], body["signature"]);
    assert_eq!(shown["endpoints"][0]["probe"]["ok"], true);
    assert_eq!(shown["endpoints"][1]["access"], "sign-in");

    let (_, resources) = world.get("/discovery/resources").await;
    let resource = &resources["items"][0];
    assert_eq!(
        resource["resource"],
        format!("{}/v1/quotes/SOL", provider.url("quotes"))
    );
    assert_eq!(resource["accepts"][1]["scheme"], "exact");
    let (status, bazaar) = world.get("/discovery/search?query=quotes").await;
    assert_eq!(status, 200);
    assert_eq!(bazaar["x402Version"], 2);
    assert_eq!(bazaar["resources"][0]["resource"], resource["resource"]);
    assert_eq!(bazaar["partialResults"], false);
    world.shutdown().await;
}

#[tokio::test]
async fn an_endpoint_asking_another_price_than_listed_is_refused_with_the_reason_and_nothing_is_listed(
) {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, mut manifest) = service(&world, &provider, "cheaper", 20_000);
    manifest["endpoints"][0]["price"] = json!("10000");

    let (status, refused) = world
        .post(
            "/catalog/publish",
            &publication(&manifest, &key, unix_now()),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"], "probe_failed");
    let reason = refused["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("GET /v1/quotes/SOL") && reason.contains("asks 20000"),
        "{reason}"
    );
    let (status, _) = world.get("/catalog/services/cheaper").await;
    assert_eq!(status, 404);
    world.shutdown().await;
}

#[tokio::test]
async fn a_manifest_changed_after_signing_is_refused_before_any_probe() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "forged", 10_000);
    let mut body = publication(&manifest, &key, unix_now());
    body["manifest"]["endpoints"][0]["price"] = json!("1");

    assert_eq!(
        publish(&world, &body).await,
        (401, "invalid_signature".into())
    );
    assert_eq!(provider.requests(), 0);
    world.shutdown().await;
}

#[tokio::test]
async fn a_manifest_re_signed_by_someone_other_than_its_payee_is_refused() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (_payee, manifest) = service(&world, &provider, "resigned", 10_000);
    let impostor = Keypair::new();

    assert_eq!(
        publish(&world, &publication(&manifest, &impostor, unix_now())).await,
        (403, "signer_not_payee".into())
    );
    assert_eq!(provider.requests(), 0);
    world.shutdown().await;
}

#[tokio::test]
async fn a_name_belongs_to_its_first_payee_and_an_older_publication_cannot_roll_a_listing_back() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "owned", 10_000);
    let now = unix_now();
    let first = publication(&manifest, &key, now - 60);
    let newer = publication(&manifest, &key, now);
    assert_eq!(world.post("/catalog/publish", &first).await.0, 201);
    assert_eq!(world.post("/catalog/publish", &newer).await.0, 201);

    assert_eq!(publish(&world, &first).await, (409, "not_newer".into()));

    let (squatter, mut taken) = service(&world, &provider, "other", 10_000);
    taken["name"] = json!("owned");
    assert_eq!(
        publish(&world, &publication(&taken, &squatter, now)).await,
        (409, "name_taken".into())
    );
    let (_, shown) = world.get("/catalog/services/owned").await;
    assert_eq!(shown["publication"]["publishedAt"], now);
    assert_eq!(shown["payTo"], key.pubkey().to_string());
    world.shutdown().await;
}

#[tokio::test]
async fn a_publication_signed_long_ago_is_refused_so_it_cannot_be_replayed_later() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "replayed", 10_000);
    assert_eq!(
        publish(&world, &publication(&manifest, &key, unix_now() - 3_600)).await,
        (400, "publication_expired".into())
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_listing_whose_endpoint_changes_its_price_is_marked_stale_with_the_reason_and_recovers() {
    let world = world().await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "drifting", 10_000);
    let body = publication(&manifest, &key, unix_now());
    assert_eq!(world.post("/catalog/publish", &body).await.0, 201);

    let mut asked = Asked {
        price: 50_000,
        pay_to: key.pubkey(),
        asset: world.mint(),
        network: world.network(),
    };
    provider.set("drifting", asked.clone());
    let round = world
        .facilitator()
        .probe_catalog_now()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((round.probed, round.stale), (1, 1));
    let (_, shown) = world.get("/catalog/services/drifting").await;
    assert_eq!(shown["health"]["status"], "stale");
    assert!(
        shown["health"]["reason"]
            .as_str()
            .unwrap()
            .contains("asks 50000"),
        "{}",
        shown["health"]
    );
    let (_, found) = world.get("/catalog/search?q=quotes").await;
    assert_eq!(found["results"][0]["status"], "stale");

    asked.price = 10_000;
    provider.set("drifting", asked);
    let round = world
        .facilitator()
        .probe_catalog_now()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round.live, 1);
    let (_, shown) = world.get("/catalog/services/drifting").await;
    assert_eq!(shown["health"]["status"], "live");
    assert_eq!(shown["health"]["failures"], 0);
    world.shutdown().await;
}

#[tokio::test]
async fn by_default_a_manifest_naming_a_private_address_is_refused_and_that_address_never_called() {
    let world = World::start_with(|settings| settings.claimer = None).await;
    let provider = FakeProvider::start().await;
    let (key, manifest) = service(&world, &provider, "internal", 10_000);

    let (status, refused) = world
        .post(
            "/catalog/publish",
            &publication(&manifest, &key, unix_now()),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["reasons"][0]
            .as_str()
            .unwrap()
            .contains("private address"),
        "{refused}"
    );
    assert_eq!(provider.requests(), 0);
    world.shutdown().await;
}

#[tokio::test]
async fn publications_from_one_address_are_rate_limited() {
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.catalog = Some(CatalogSettings {
            publishes_per_minute: 2,
            ..CatalogSettings::default()
        });
    })
    .await;
    let statuses: Vec<u16> = forged_publications(&world, 4).await;
    assert_eq!(statuses[..2], [401, 401], "refused on their merits first");
    assert_eq!(statuses[2..], [429, 429]);
    world.shutdown().await;
}

/// `count` forged publications in a row; their statuses.
async fn forged_publications(world: &World, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        let key = Keypair::new();
        let asked = Asked {
            price: 10_000,
            pay_to: key.pubkey(),
            asset: world.mint(),
            network: world.network(),
        };
        let mut body = publication(
            &manifest_json("spam", "https://example.com", &asked),
            &key,
            unix_now(),
        );
        body["manifest"]["title"] = json!("changed");
        statuses.push(world.post("/catalog/publish", &body).await.0);
    }
    statuses
}

#[tokio::test]
async fn malformed_publications_and_searches_get_a_clear_error_naming_the_field() {
    let world = world().await;
    let key = Keypair::new();
    let asked = Asked {
        price: 10_000,
        pay_to: key.pubkey(),
        asset: Pubkey::new_unique(),
        network: world.network(),
    };
    let good = manifest_json("fine", "https://example.com", &asked);
    let mut bad = publication(&good, &key, unix_now());
    bad["manifest"]["category"] = json!("weather");
    let (status, refused) = world.post("/catalog/publish", &bad).await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_manifest"))
    );
    assert_eq!(refused["field"], "category");

    for body in [
        json!({}),
        json!({"manifest": good, "publishedAt": "soon"}),
        json!([1]),
    ] {
        let (status, refused) = world.post("/catalog/publish", &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
    }
    let (status, refused) = world.get("/catalog/search?category=weather").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _) = world.get("/catalog/search?maxPrice=-1").await;
    assert_eq!(status, 400);
    let (status, _) = world.get("/discovery/search").await;
    assert_eq!(status, 400);
    world.shutdown().await;
}
