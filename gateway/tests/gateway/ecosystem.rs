//! The gateway with other facilitators: terms taken from `GET /supported`
//! when the file leaves them out, a start refused (saying what is wrong)
//! when they disagree, and a standard x402 facilitator (no `/keys`, no
//! proofs) in front of which one payment still buys one answer.

use paytab_gateway::config::{FileConfig, GatewayConfig};
use paytab_gateway::server::{Gateway, StartError};
use paytab_protocol::networks::SOLANA_DEVNET;
use serde_json::Value;
use solana_signer::Signer;

use crate::one_answer::{assert_one_answer, exact_header, exact_payer, send_copies};
use crate::paying::{decode_header, with_proof};
use crate::support::{standard_facilitator, World, FACILITATOR_KEY, PRICE, SECRET, UPSTREAM_KEY};

/// A gateway before this world's upstream asking `facilitator`, with
/// `payment` and `facilitator_keys` lines added to those tables.
async fn gateway(
    world: &World,
    facilitator: &str,
    payment: &str,
    facilitator_keys: &str,
) -> Result<Gateway, StartError> {
    let text = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{upstream}"
state_file = "{state}"

[payment]
asset = "{asset}"
pay_to = "{provider}"
{payment}

[facilitator]
url = "{facilitator}"
api_key_env = "FACILITATOR_KEY"
{facilitator_keys}

[[routes]]
method = "*"
path = "/v1/slow/:id"
price = {PRICE}
"#,
        upstream = world.upstream,
        state = world
            .dir
            .path()
            .join(format!("gateway-{}.db", rand_suffix()))
            .display(),
        asset = world.localnet.info().usdc_mint,
        provider = world.provider,
    );
    let file: FileConfig = toml::from_str(&text).unwrap();
    let config = GatewayConfig::check(file, |name| match name {
        "UPSTREAM_KEY" => Some(UPSTREAM_KEY.to_string()),
        "FACILITATOR_KEY" => Some(FACILITATOR_KEY.to_string()),
        _ => None,
    })
    .unwrap();
    Gateway::start(config, Some(SECRET.to_vec())).await
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The x402 v2 offers of a 402 from `url`.
async fn offers(world: &World, url: &str) -> Vec<Value> {
    let challenged = world.http.get(url).send().await.unwrap();
    assert_eq!(challenged.status(), 402);
    decode_header(&challenged, "payment-required")["accepts"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_gateway_naming_no_network_or_fee_payer_takes_both_from_the_facilitators_supported() {
    let world = World::start().await;
    let gateway = gateway(&world, &world.facilitator.url(), "", "")
        .await
        .unwrap();
    let offers = offers(&world, &format!("{}/v1/slow/a", gateway.url())).await;
    for offer in &offers {
        assert_eq!(offer["network"], world.localnet.info().network.as_str());
    }
    let exact = offers
        .iter()
        .find(|offer| offer["scheme"] == "exact")
        .unwrap();
    assert_eq!(
        exact["extra"]["feePayer"],
        world.facilitator_key.pubkey().to_string()
    );
    let escrow = offers
        .iter()
        .find(|offer| offer["scheme"] == "paytab-escrow")
        .unwrap();
    assert_eq!(
        escrow["extra"]["delegate"],
        world.facilitator_key.pubkey().to_string()
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_gateway_whose_network_the_facilitator_does_not_serve_refuses_to_start_naming_the_one_it_does(
) {
    let world = World::start().await;
    let payment = format!("network = \"{SOLANA_DEVNET}\"");
    let Err(error) = gateway(&world, &world.facilitator.url(), &payment, "").await else {
        panic!("started on a network its facilitator does not serve");
    };
    let message = error.to_string();
    assert!(message.contains(SOLANA_DEVNET), "{message}");
    assert!(
        message.contains(&world.localnet.info().network),
        "{message}"
    );
}

#[tokio::test]
async fn a_gateway_naming_another_fee_payer_than_the_facilitators_refuses_to_start() {
    let world = World::start().await;
    let stranger = solana_keypair::Keypair::new().pubkey();
    let keys = format!("fee_payer = \"{stranger}\"");
    let Err(error) = gateway(&world, &world.facilitator.url(), "", &keys).await else {
        panic!("started with a fee payer its facilitator does not have");
    };
    let message = error.to_string();
    assert!(message.contains(&stranger.to_string()), "{message}");
    assert!(
        message.contains(&world.facilitator_key.pubkey().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn before_a_standard_facilitator_escrow_is_refused_at_start_naming_the_scheme_it_lacks() {
    let world = World::start().await;
    let standard = standard_facilitator::start(&world.facilitator.url()).await;
    let Err(error) = gateway(&world, &standard, r#"schemes = ["escrow", "exact"]"#, "").await
    else {
        panic!("started escrow before a facilitator that cannot settle it");
    };
    assert!(error.to_string().contains("paytab-escrow"), "{error}");
}

#[tokio::test]
async fn before_a_standard_facilitator_200_copies_of_one_exact_payment_buy_one_answer_and_a_proof_buys_none(
) {
    let world = World::start().await;
    let standard = standard_facilitator::start(&world.facilitator.url()).await;
    let gateway = gateway(&world, &standard, r#"schemes = ["exact", "mpp"]"#, "")
        .await
        .unwrap();
    let url = format!("{}/v1/slow/standard", gateway.url());
    let offers = offers(&world, &url).await;
    assert_eq!(offers.len(), 1, "exact only: {offers:?}");

    let payer = exact_payer(&world).await;
    let payment = exact_header(&world, &url, &payer).await;
    let statuses = send_copies(&url, ("payment-signature", &payment)).await;
    assert_one_answer(&statuses);
    assert_eq!(
        world.served("/v1/slow/standard"),
        1,
        "the upstream ran once"
    );
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1 + PRICE,
        "charged once"
    );

    let later = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(
        later.status(),
        402,
        "used up for good, not only while in flight"
    );

    let proofless = with_proof(&world, url.clone(), "anything").await;
    assert_eq!(proofless.status(), 402);
    let body: Value = proofless.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("issues no proofs"),
        "{body}"
    );
    gateway.shutdown().await;
}
