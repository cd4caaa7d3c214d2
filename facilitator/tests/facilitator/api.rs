//! The facilitator's HTTP surface: `/supported` (and its network label), `/keys` and rotation, proof
//! checks, discovery, health, metrics, and bad requests.

use crate::support::{now, Terms, World};
use ed25519_dalek::SigningKey;
use paytab_facilitator::proofs::ProofKey;
use paytab_facilitator::Facilitator;
use paytab_protocol::keys::{KeyId, KeySet, PublishedKey};
use paytab_protocol::networks::{SOLANA_DEVNET, SOLANA_MAINNET};
use paytab_protocol::proof::{Proof, ProofError};
use serde_json::{json, Value};
use solana_signer::Signer;

const PRICE: u64 = 10_000;

async fn key_set(world: &World) -> (Vec<PublishedKey>, KeySet) {
    let (status, answer) = world.get("/keys").await;
    assert_eq!(status, 200);
    let keys: Vec<PublishedKey> = serde_json::from_value(answer["keys"].clone()).unwrap();
    let mut set = KeySet::default();
    for key in &keys {
        set.insert_published(key).unwrap();
    }
    (keys, set)
}

/// Settles one escrow receipt and returns its proof.
async fn one_proof(world: &World) -> String {
    let provider = world.wallet(0).await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    let body = world.body(
        &world.escrow_requirement(&provider, PRICE),
        payer.next_receipt(PRICE),
    );
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(answer["success"], true, "{answer}");
    answer["extensions"]["paytab"]["proof"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn supported_lists_exact_and_escrow_in_both_versions_and_mpp_charges_in_v2_with_the_fee_payer(
) {
    let world = World::start().await;
    let (status, answer) = world.get("/supported").await;
    assert_eq!(status, 200);
    let fee_payer = world.facilitator_key.pubkey().to_string();
    let kinds = answer["kinds"].as_array().unwrap();
    assert_eq!(kinds.len(), 5);
    for version in [1, 2] {
        for scheme in ["exact", "paytab-escrow"] {
            let kind = kinds
                .iter()
                .find(|kind| kind["x402Version"] == version && kind["scheme"] == scheme)
                .unwrap();
            assert_eq!(kind["network"], world.network());
            assert_eq!(kind["extra"]["feePayer"], fee_payer);
        }
    }
    let escrow = kinds
        .iter()
        .find(|kind| kind["scheme"] == "paytab-escrow")
        .unwrap();
    assert_eq!(escrow["extra"]["delegate"], fee_payer);
    assert_eq!(escrow["extra"]["programId"], paytab::ID.to_string());
    let charge = kinds
        .iter()
        .find(|kind| kind["scheme"] == "paytab-mpp-charge")
        .unwrap();
    assert_eq!(charge["x402Version"], 2);
    assert_eq!(charge["network"], world.network());
    assert_eq!(charge["extra"]["feePayer"], fee_payer);
    assert_eq!(answer["signers"]["solana:*"][0], fee_payer);
    world.shutdown().await;
}

#[tokio::test]
async fn a_proof_is_refused_when_tampered_expired_or_signed_by_an_unknown_key() {
    let world = World::start().await;
    let proof = one_proof(&world).await;
    let (_, keys) = key_set(&world).await;
    let decoded = Proof::verify(&proof, &keys, now()).unwrap();

    let mut tampered = proof.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(Proof::verify(&tampered, &keys, now()).is_err());

    assert_eq!(
        Proof::verify(&proof, &keys, decoded.expires_at),
        Err(ProofError::Expired(decoded.expires_at))
    );

    let mut stranger = KeySet::default();
    stranger.insert(SigningKey::from_bytes(&[9; 32]).verifying_key(), 0, None);
    assert!(matches!(
        Proof::verify(&proof, &stranger, now()),
        Err(ProofError::UnknownKey(_))
    ));
    world.shutdown().await;
}

#[tokio::test]
async fn keys_rotate_without_downtime_the_next_key_is_published_before_it_signs() {
    let current = SigningKey::from_bytes(&[1; 32]);
    let next = SigningKey::from_bytes(&[2; 32]);
    let switch_at = now() + 3_600;
    let mut world = World::start_with(|settings| {
        settings.claimer = None;
        settings.proof_keys = vec![
            ProofKey {
                signing_key: current.clone(),
                not_before: 0,
                not_after: Some(switch_at + 600),
            },
            ProofKey {
                signing_key: next.clone(),
                not_before: switch_at,
                not_after: None,
            },
        ];
    })
    .await;
    let (published, keys) = key_set(&world).await;
    assert_eq!(published.len(), 2, "the next key is published ahead of use");
    let old_proof = one_proof(&world).await;
    let before = Proof::verify(&old_proof, &keys, now()).unwrap();
    assert_eq!(before.key_id, KeyId::of(&current.verifying_key()));

    // After the switch: the next key signs; the old one stays published.
    world
        .restart(|settings| {
            settings.claimer = None;
            settings.proof_keys = vec![
                ProofKey {
                    signing_key: current.clone(),
                    not_before: 0,
                    not_after: Some(now() + 600),
                },
                ProofKey {
                    signing_key: next.clone(),
                    not_before: now() - 1,
                    not_after: None,
                },
            ];
        })
        .await;
    let (published, refreshed) = key_set(&world).await;
    assert_eq!(published.len(), 2, "the old key stays published");
    let after = Proof::verify(&one_proof(&world).await, &refreshed, now()).unwrap();
    assert_eq!(after.key_id, KeyId::of(&next.verifying_key()));
    assert!(
        Proof::verify(&old_proof, &refreshed, now()).is_ok(),
        "proofs signed before the switch still verify"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn resources_registered_with_the_token_are_listed_by_type_and_page() {
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.registration_token = Some("s3cret".into());
    })
    .await;
    let register = |resource: String, kind: &'static str| {
        let http = world.http.clone();
        let url = world.url("/discovery/resources");
        async move {
            http.post(url)
                .bearer_auth("s3cret")
                .json(&json!({
                    "resource": resource,
                    "type": kind,
                    "x402Version": 2,
                    "accepts": [{"scheme": "exact", "amount": "1000"}],
                    "metadata": {"name": "quotes", "category": "finance"},
                }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for index in 0..3 {
        assert_eq!(
            register(format!("https://api.example/{index}"), "http").await,
            201
        );
    }
    assert_eq!(register("https://mcp.example/".into(), "mcp").await, 201);
    assert_eq!(register("ftp://nope".into(), "http").await, 400);

    let (_, page) = world.get("/discovery/resources?type=http&limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["pagination"]["total"], 3);
    assert_eq!(page["items"][0]["metadata"]["category"], "finance");
    let (_, rest) = world
        .get("/discovery/resources?type=http&limit=2&offset=2")
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let (_, all) = world.get("/discovery/resources").await;
    assert_eq!(all["pagination"]["total"], 4);

    let anonymous = world
        .http
        .post(world.url("/discovery/resources"))
        .json(&json!({"resource": "https://x.example", "x402Version": 2, "accepts": [{}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    world.shutdown().await;
}

#[tokio::test]
async fn health_metrics_and_request_ids_are_served() {
    let world = World::start().await;
    one_proof(&world).await;
    let (status, health) = world.get("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    assert_eq!(
        health["checks"],
        serde_json::json!({"chain": "ok", "store": "ok"})
    );
    let metrics = world
        .as_operator(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert!(metrics.headers().contains_key("x-request-id"));
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("paytab_payments_total{route=\"settle\",scheme=\"escrow\",outcome=\"ok\"}")
    );
    assert!(text.contains("paytab_settle_seconds_count"));
    world.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors_without_internals() {
    let world = World::start().await;
    let post_raw = |body: String| {
        let http = world.http.clone();
        let url = world.url("/settle");
        async move {
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, answer) = post_raw("{not json".into()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_request");

    let (status, _) = post_raw(format!("{{\"pad\": \"{}\"}}", "x".repeat(100_000))).await;
    assert_eq!(status, 413);

    let (status, answer) = world.get("/nope").await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));

    let requirement = world.escrow_requirement(&solana_keypair::Keypair::new().pubkey(), PRICE);
    let mut other_scheme = requirement.clone();
    other_scheme["scheme"] = json!("upto");
    let (_, answer) = world
        .post("/settle", &world.body(&other_scheme, json!({})))
        .await;
    assert_eq!(answer["errorReason"], "unsupported_scheme");

    let mut other_network = requirement.clone();
    other_network["network"] = json!(paytab_facilitator::x402::SOLANA_MAINNET);
    let (_, answer) = world
        .post("/verify", &world.body(&other_network, json!({})))
        .await;
    assert_eq!(answer["invalidReason"], "invalid_network");

    let mut body = world.body(&requirement, json!({}));
    body["x402Version"] = json!(7);
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(answer["errorReason"], "invalid_x402_version");
    world.shutdown().await;
}

#[tokio::test]
async fn a_facilitator_labelled_devnet_serves_and_settles_its_chain_under_that_name_only() {
    let world = World::start_with(|settings| {
        settings.claimer = None;
        settings.network = Some(SOLANA_DEVNET.into());
    })
    .await;
    let (_, supported) = world.get("/supported").await;
    let kinds = supported["kinds"].as_array().unwrap();
    assert!(kinds
        .iter()
        .filter(|kind| kind["x402Version"] == 2)
        .all(|kind| kind["network"] == SOLANA_DEVNET));
    assert!(kinds
        .iter()
        .filter(|kind| kind["x402Version"] == 1)
        .all(|kind| kind["network"] == "solana-devnet"));

    let provider = world.wallet(0).await.pubkey();
    let mut payer = world.payer(&provider, Terms::default()).await;
    let mut labelled = world.escrow_requirement(&provider, PRICE);
    labelled["network"] = json!(SOLANA_DEVNET);
    let own_name = world.escrow_requirement(&provider, PRICE);
    let receipt = payer.next_receipt(PRICE);
    let (_, refused) = world
        .post("/settle", &world.body(&own_name, receipt.clone()))
        .await;
    assert_eq!(refused["errorReason"], "invalid_network", "{refused}");
    let (_, settled) = world.post("/settle", &world.body(&labelled, receipt)).await;
    assert_eq!(settled["success"], true, "{settled}");
    assert_eq!(settled["network"], SOLANA_DEVNET);
    world.shutdown().await;
}

#[tokio::test]
async fn a_test_chain_cannot_be_served_as_mainnet() {
    let world = World::start().await;
    let mut settings = world.settings();
    settings.network = Some(SOLANA_MAINNET.into());
    let Err(error) = Facilitator::start(settings).await else {
        panic!("a localnet was served as mainnet");
    };
    assert!(error.to_string().contains("devnet"), "{error}");
    world.shutdown().await;
}
