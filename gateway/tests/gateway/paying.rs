//! Paying through the gateway: challenges, the proof fast path, the standard
//! path, MPP charges, sign-in routes, a failing upstream, malformed headers,
//! and used payments shared through Redis.

use crate::support::{Used, World, PRICE, ROUTES, SECRET, SHARED_PUBLIC_URL, UPSTREAM_KEY};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab_client::exact::ExactPayment;
use paytab_gateway::challenge::MppChallenge;
use paytab_gateway::sign_in::SignInFields;
use paytab_protocol::mpp::ChallengeParams;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;

/// GETs `url` presenting `proof` in `Paytab-Proof`.
pub(crate) async fn with_proof(
    world: &World,
    url: impl reqwest::IntoUrl,
    proof: impl AsRef<str>,
) -> reqwest::Response {
    world
        .http
        .get(url)
        .header("paytab-proof", proof.as_ref())
        .send()
        .await
        .unwrap()
}

pub(crate) fn decode_header(response: &reqwest::Response, name: &str) -> Value {
    let value = response.headers().get(name).unwrap().to_str().unwrap();
    serde_json::from_slice(&STANDARD.decode(value).unwrap()).unwrap()
}

/// The quoted parameters of a `WWW-Authenticate: Payment` challenge.
pub(crate) fn mpp_parameters(header: &str) -> MppChallenge {
    let rest = header.strip_prefix("Payment ").unwrap();
    let mut challenge = MppChallenge {
        id: String::new(),
        realm: String::new(),
        method: String::new(),
        intent: String::new(),
        request: String::new(),
        expires: String::new(),
        opaque: String::new(),
    };
    for pair in rest.split(", ") {
        let (name, value) = pair.split_once('=').unwrap();
        let value = value.trim_matches('"').to_string();
        match name {
            "id" => challenge.id = value,
            "realm" => challenge.realm = value,
            "method" => challenge.method = value,
            "intent" => challenge.intent = value,
            "request" => challenge.request = value,
            "expires" => challenge.expires = value,
            "opaque" => challenge.opaque = value,
            other => panic!("unexpected parameter {other}"),
        }
    }
    challenge
}

#[tokio::test]
async fn an_unpaid_request_gets_x402_v2_v1_and_mpp_challenges_field_by_field() {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let response = world.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 402);

    let required = decode_header(&response, "payment-required");
    assert_eq!(required["x402Version"], 2);
    assert_eq!(required["resource"]["url"], url);
    assert_eq!(required["resource"]["description"], "A quote");
    let accepts = required["accepts"].as_array().unwrap();
    assert_eq!(accepts.len(), 2);
    assert_eq!(accepts[0], world.escrow_requirement());
    assert_eq!(accepts[1]["scheme"], "exact");
    assert_eq!(
        accepts[1]["extra"]["feePayer"],
        world.escrow_requirement()["extra"]["delegate"]
    );

    let www = response
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["x402Version"], 1);
    assert_eq!(body["accepts"][0]["maxAmountRequired"], PRICE.to_string());
    assert_eq!(body["accepts"][0]["resource"], url);
    assert_eq!(body["accepts"][0]["network"], world.localnet.info().network);

    let mpp = mpp_parameters(&www);
    assert_eq!(
        (mpp.method.as_str(), mpp.intent.as_str()),
        ("solana", "charge")
    );
    assert_eq!(mpp.realm, world.gateway.url());
    assert!(mpp.is_authentic(SECRET));
    let request: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&mpp.request).unwrap()).unwrap();
    assert_eq!(request["amount"], PRICE.to_string());
    assert_eq!(request["recipient"], world.provider.to_string());
    assert_eq!(
        request["currency"],
        world.localnet.info().usdc_mint.to_string()
    );
    assert_eq!(request["methodDetails"]["network"], "localnet");

    let page = world
        .http
        .get(&url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 402);
    assert!(page.text().await.unwrap().contains("Payment required"));
}

#[tokio::test]
async fn a_receipt_in_payment_signature_is_verified_proxied_then_settled() {
    let mut world = World::start().await;
    let response = world
        .http
        .get(world.url("/v1/quotes/SOL"))
        .header("payment-signature", world.payment_signature())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-upstream"], "quotes");
    let settled = decode_header(&response, "payment-response");
    assert_eq!(settled["success"], true, "{settled}");
    assert!(settled["extensions"]["paytab"]["proof"].is_string());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["symbol"], "SOL");
    assert_eq!(
        body["apiKey"], UPSTREAM_KEY,
        "the upstream credential is injected"
    );
    assert_eq!(
        body["sawPayment"], false,
        "payment headers stay at the gateway"
    );
    assert_eq!(world.accepted().await, PRICE);
}

#[tokio::test]
async fn a_facilitator_proof_pays_on_the_fast_path_exactly_once() {
    let mut world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let proof = world.proof_for("GET", &url).await;
    let paid = with_proof(&world, &url, &proof).await;
    assert_eq!(paid.status(), 200);
    assert_eq!(decode_header(&paid, "payment-response")["success"], true);

    let replayed = with_proof(&world, &url, &proof).await;
    assert_eq!(replayed.status(), 402);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["error"], "payment_already_used");
    assert!(body["message"].as_str().unwrap().contains("already used"));
}

#[tokio::test]
async fn proofs_for_another_route_tampered_or_from_a_stranger_are_refused() {
    let mut world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let other_route = world.proof_for("GET", &world.url("/v1/quotes/BTC")).await;
    let other_method = world.proof_for("POST", &url).await;
    let mut tampered = world.proof_for("GET", &url).await.into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (name, proof) in [
        ("other route", other_route),
        ("other method", other_method),
        ("tampered", tampered),
        ("garbage", "not-a-proof".to_string()),
    ] {
        let response = with_proof(&world, &url, proof).await;
        assert_eq!(response.status(), 402, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_proof", "{name}: {body}");
    }
}

#[tokio::test]
async fn a_failing_upstream_charges_nothing_and_says_so() {
    let mut world = World::start().await;
    let response = world
        .http
        .get(world.url("/boom"))
        .header("payment-signature", world.payment_signature())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let answer = decode_header(&response, "payment-response");
    assert_eq!(answer["success"], false);
    assert_eq!(answer["errorReason"], "upstream_error");
    assert_eq!(
        world.accepted().await,
        0,
        "the receipt was verified, never settled"
    );

    // A proof presented to a failing upstream is released for another try.
    let url = world.url("/boom");
    world.payer.signed = 0;
    let proof = world.proof_for("GET", &url).await;
    for _ in 0..2 {
        let response = with_proof(&world, &url, &proof).await;
        assert_eq!(response.status(), 500, "released, not replayed");
    }
}

#[tokio::test]
async fn malformed_payment_headers_get_400_with_a_reason() {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    for (header, value) in [
        ("payment-signature", "%%%".to_string()),
        ("payment-signature", STANDARD.encode("not json")),
        ("payment-signature", STANDARD.encode("[1,2]")),
        (
            "payment-signature",
            STANDARD.encode(r#"{"x402Version":1,"payload":{}}"#),
        ),
        ("x-payment", STANDARD.encode(r#"{"x402Version":1}"#)),
    ] {
        let response = world
            .http
            .get(&url)
            .header(header, value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{header}: {value}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "malformed_payment");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn free_routes_stream_through_and_unknown_routes_are_refused() {
    let world = World::start().await;
    let health = world.http.get(world.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let large = vec![b'x'; 3 * 1024 * 1024];
    let echoed = world
        .http
        .post(world.url("/echo"))
        .body(large.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(echoed.bytes().await.unwrap().len(), large.len());

    let unknown = world.http.get(world.url("/admin")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let metrics = world.http.get(world.url("/metrics")).send().await.unwrap();
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("paytab_gateway_requests_total{outcome=\"free\"}"));
}

#[tokio::test]
async fn two_gateways_sharing_redis_accept_a_proof_only_once() {
    let Some(redis_url) = std::env::var("PAYTAB_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "CI=true but PAYTAB_TEST_REDIS_URL is not set: run .ci/run, which starts Redis"
        );
        eprintln!("PAYTAB_TEST_REDIS_URL not set: shared replay test skipped");
        return;
    };
    let mut world = World::start_with_redis(Some(&redis_url)).await;
    let second = world
        .another_gateway(Used::Redis(redis_url.clone()), None, ROUTES)
        .await;
    let path = "/v1/quotes/SOL";
    let proof = world
        .proof_for("GET", &format!("{SHARED_PUBLIC_URL}{path}"))
        .await;
    let at_first = with_proof(&world, world.url(path), &proof).await;
    assert_eq!(at_first.status(), 200);
    let at_second = with_proof(&world, format!("{}{path}", second.url()), &proof).await;
    assert_eq!(
        at_second.status(),
        402,
        "the second gateway saw the first's use"
    );
    let body: Value = at_second.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("already used"));
    second.shutdown().await;
}

/// The first `WWW-Authenticate: Payment` challenge of a 402.
pub(crate) fn mpp_challenge_of(response: &reqwest::Response) -> MppChallenge {
    mpp_parameters(
        response
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap(),
    )
}

/// `Authorization: Payment <credential>` answering `challenge` with `transaction`.
pub(crate) fn mpp_authorization(
    challenge: &MppChallenge,
    payer: &Pubkey,
    transaction: &str,
) -> String {
    ChallengeParams::from(challenge).authorization(
        &payer.to_string(),
        &json!({"type": "transaction", "transaction": transaction}),
    )
}

/// The payment an MPP charge request asks for, as an `exact` transaction.
pub(crate) fn charge_payment(challenge: &MppChallenge) -> ExactPayment {
    let request: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&challenge.request).unwrap()).unwrap();
    let key = |value: &Value| value.as_str().unwrap().parse::<Pubkey>().unwrap();
    ExactPayment {
        fee_payer: key(&request["methodDetails"]["feePayerKey"]),
        mint: key(&request["currency"]),
        token_program: spl_token_interface::ID,
        decimals: u8::try_from(request["methodDetails"]["decimals"].as_u64().unwrap()).unwrap(),
        pay_to: key(&request["recipient"]),
        amount: request["amount"].as_str().unwrap().parse().unwrap(),
        memo: None,
    }
}

#[tokio::test]
async fn an_mpp_charge_pays_on_chain_once_and_gets_a_payment_receipt() {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let payer = Keypair::new();
    world.mint_usdc(&payer.pubkey(), 1_000_000).await;
    world.mint_usdc(&world.provider, 1).await;

    let challenge = mpp_challenge_of(&world.http.get(&url).send().await.unwrap());
    let payment = charge_payment(&challenge);
    assert_eq!(payment.amount, PRICE);
    assert_eq!(payment.pay_to, world.provider);
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let authorization = mpp_authorization(
        &challenge,
        &payer.pubkey(),
        &payment.wire(&payer, blockhash).unwrap(),
    );
    let paid = world
        .http
        .get(&url)
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let receipt: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(paid.headers()["payment-receipt"].to_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["status"], "success");
    assert_eq!(receipt["method"], "solana");
    let reference: Signature = receipt["reference"].as_str().unwrap().parse().unwrap();
    assert!(world.rpc.confirm_transaction(&reference).await.unwrap());
    let body: Value = paid.json().await.unwrap();
    assert_eq!(body["symbol"], "SOL");
    assert_eq!(body["sawPayment"], false, "the credential is not forwarded");
    assert_eq!(world.usdc_balance(&world.provider).await, 1 + PRICE);
    assert_eq!(world.usdc_balance(&payer.pubkey()).await, 1_000_000 - PRICE);

    let again = world
        .http
        .get(&url)
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 402, "a credential is single-use");
    assert_eq!(again.headers()["content-type"], "application/problem+json");
    assert!(again.headers().contains_key("www-authenticate"));
    assert_eq!(world.usdc_balance(&world.provider).await, 1 + PRICE);
}

#[tokio::test]
async fn an_mpp_credential_malformed_forged_expired_or_unpaid_is_refused_with_its_problem_and_fresh_challenges(
) {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let payer = Keypair::new();
    world.mint_usdc(&payer.pubkey(), 1_000_000).await;
    world.mint_usdc(&world.provider, 1).await;
    let challenge = mpp_challenge_of(&world.http.get(&url).send().await.unwrap());
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let transaction = charge_payment(&challenge).wire(&payer, blockhash).unwrap();

    let mut cheaper = challenge.clone();
    let mut request: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&challenge.request).unwrap()).unwrap();
    request["amount"] = json!("1");
    cheaper.request = URL_SAFE_NO_PAD.encode(request.to_string());
    let mut expired = challenge.clone();
    expired.expires = "2020-01-01T00:00:00Z".into();
    expired.id = expired.expected_id(SECRET);
    let mut underpaid = charge_payment(&challenge);
    underpaid.amount = PRICE - 1;
    let underpaid = underpaid.wire(&payer, blockhash).unwrap();

    for (authorization, status, problem) in [
        ("Payment %%%".to_string(), 402, "malformed-credential"),
        (
            mpp_authorization(&cheaper, &payer.pubkey(), &transaction),
            402,
            "invalid-challenge",
        ),
        (
            mpp_authorization(&expired, &payer.pubkey(), &transaction),
            402,
            "payment-expired",
        ),
        (
            mpp_authorization(&challenge, &payer.pubkey(), &underpaid),
            402,
            "verification-failed",
        ),
    ] {
        let response = world
            .http
            .get(&url)
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{problem}");
        let challenges = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .count();
        assert_eq!(
            challenges, 2,
            "{problem}: a server-paid and a client-paid challenge"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["type"],
            format!("https://paymentauth.org/problems/{problem}")
        );
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1,
        "nothing moved"
    );
}

#[tokio::test]
async fn a_sign_in_route_admits_the_signing_wallet_once_and_charges_nothing() {
    let world = World::start().await;
    let url = world.url("/v1/account");
    let challenged = world.http.get(&url).send().await.unwrap();
    assert_eq!(challenged.status(), 402);
    let required = decode_header(&challenged, "payment-required");
    assert_eq!(required["accepts"], json!([]), "nothing to pay");
    let extension = &required["extensions"]["sign-in-with-x"];
    let origin = world.gateway.url();
    assert_eq!(
        extension["info"]["domain"],
        origin.trim_start_matches("http://")
    );
    assert_eq!(extension["info"]["uri"], url);
    assert_eq!(extension["info"]["version"], "1");
    assert_eq!(extension["info"]["nonce"].as_str().unwrap().len(), 32);
    assert_eq!(
        extension["supportedChains"][0],
        json!({"chainId": world.localnet.info().network, "type": "ed25519", "signatureScheme": "siws"})
    );

    let wallet = Keypair::new();
    let mut fields = SignInFields::answering(extension, &wallet.pubkey()).unwrap();
    fields.signature = wallet.sign_message(fields.message().as_bytes()).to_string();
    let signed_in = world
        .http
        .get(&url)
        .header("sign-in-with-x", fields.header_value())
        .header("paytab-signed-in", "a spoofed wallet")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let body: Value = signed_in.json().await.unwrap();
    assert_eq!(body["signedIn"], wallet.pubkey().to_string());

    let replayed = world
        .http
        .get(&url)
        .header("sign-in-with-x", fields.header_value())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 402);
    assert!(decode_header(&replayed, "payment-required")["error"]
        .as_str()
        .unwrap()
        .contains("already used"));

    let stranger = Keypair::new();
    let fresh = world.http.get(&url).send().await.unwrap();
    let extension =
        decode_header(&fresh, "payment-required")["extensions"]["sign-in-with-x"].clone();
    let mut forged = SignInFields::answering(&extension, &wallet.pubkey()).unwrap();
    forged.signature = stranger
        .sign_message(forged.message().as_bytes())
        .to_string();
    let refused = world
        .http
        .get(&url)
        .header("sign-in-with-x", forged.header_value())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 402);
    assert!(decode_header(&refused, "payment-required")["error"]
        .as_str()
        .unwrap()
        .contains("does not verify"));

    let malformed = world
        .http
        .get(&url)
        .header("sign-in-with-x", "%%%")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn a_refused_x402_payment_gets_fresh_terms_with_the_reason_a_payment_response_saying_not_charged_and_mpp_challenges(
) {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let unfunded = Keypair::new();
    let payment = crate::one_answer::exact_header(&world, &url, &unfunded).await;
    let refused = world
        .http
        .get(&url)
        .header("payment-signature", &payment)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 402);
    let required = decode_header(&refused, "payment-required");
    let settled = decode_header(&refused, "payment-response");
    assert_eq!(settled["success"], false);
    assert_eq!(settled["transaction"], "");
    assert_eq!(required["error"], settled["errorReason"]);
    assert!(!required["accepts"].as_array().unwrap().is_empty());
    assert_eq!(
        refused.headers().get_all("www-authenticate").iter().count(),
        2,
        "the route takes MPP: every 402 carries its challenges"
    );
    let body: Value = refused.json().await.unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("nothing was charged"));
}
