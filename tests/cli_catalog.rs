//! The catalog from the command line: a provider writes its gateway's
//! manifest and publishes it; a payer searches, shows and pays it by name.

use super::{history_len, User};
use paytab_cli::world::{World, SAMPLE_SERVICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_publishes_its_gateway_and_a_payer_finds_shows_and_pays_it_by_name() {
    let world = World::start().await.unwrap();
    let catalog = world.facilitator.url();
    let mut provider = User::new(&world);
    paytab_client::wallet::write_keypair(&provider.keypair(), &world.provider).unwrap();
    provider.env.push(("PAYTAB_CATALOG", catalog.clone()));
    let manifest = provider.home.path().join("PAY.md");
    let manifest_arg = manifest.display().to_string();
    provider
        .ok(&[
            "provider",
            "manifest",
            &world.gateway.url(),
            "--output",
            &manifest_arg,
        ])
        .await;
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.starts_with("---\nname: \"quotes\"\n"), "{text}");
    assert!(text.contains("example_path: \"/v1/quotes/SOL\""), "{text}");
    let listed = provider.json(&["provider", "publish", &manifest_arg]).await;
    assert_eq!(listed["health"]["status"], "live");

    let mut payer = User::funded_with_allowance(&world).await;
    payer.env.push(("PAYTAB_CATALOG", catalog));
    let found = payer.json(&["search", "crypto price quote"]).await;
    assert_eq!(found[0]["name"], SAMPLE_SERVICE);
    assert_eq!(found[0]["serviceUrl"], world.gateway.url());
    let cheap = payer
        .json(&["search", "quote", "--max-price", "0.001"])
        .await;
    assert_eq!(
        cheap.as_array().unwrap().len(),
        0,
        "the cheapest call is 0.01"
    );
    let shown = payer.ok(&["show", SAMPLE_SERVICE]).await;
    for line in [
        "/v1/quotes/:symbol",
        "0.01",
        "health      live",
        "Symbols are upper case",
    ] {
        assert!(shown.contains(line), "missing `{line}` in:\n{shown}");
    }

    let body = payer.ok(&["curl", "quotes/v1/quotes/SOL"]).await;
    assert!(body.contains("\"symbol\":\"SOL\""), "{body}");
    let history = payer.json(&["history"]).await;
    assert_eq!(history_len(&history), 1);
    assert_eq!(history[0]["scheme"], "escrow");

    let unknown = payer.fails(&["curl", "nosuch/v1/x"]).await;
    assert!(unknown.contains("neither a URL nor a service"), "{unknown}");
    let not_payee = payer.fails(&["provider", "publish", &manifest_arg]).await;
    assert!(
        not_payee.contains("only the payee can publish"),
        "{not_payee}"
    );
    world.shutdown().await;
}
