//! Discovery without payment: `GET /openapi.json` in the shape of MPP's
//! payment-discovery draft, and the x402 bazaar extension in every priced
//! route's 402, both made from the routes and prices the gateway enforces.

use serde_json::{json, Value};

use crate::paying::decode_header;
use crate::support::World;

const LISTED: &str = r#"
[service]
name = "quotes"
title = "Sample quotes"
description = "Price quotes for crypto assets by symbol, and translations, paid per call in test USDC on a localnet."
category = "finance"
docs_url = "https://docs.example.com"

[[routes]]
method = "GET"
path = "/v1/quotes/:symbol"
price = 10000
description = "A price quote"
example_path = "/v1/quotes/SOL"

[[routes]]
method = "POST"
path = "/v1/translate"
price = 20000
description = "A translation"

[[routes]]
method = "GET"
path = "/v1/account"
sign_in = true

[[routes]]
method = "GET"
path = "/health"
free = true
"#;

/// The keys MPP's draft allows in an offer (its schema forbids others).
const OFFER_KEYS: [&str; 5] = ["intent", "method", "amount", "currency", "description"];

#[tokio::test]
async fn openapi_json_lists_every_route_with_its_mpp_payment_info_and_costs_nothing() {
    let world = World::start().await;
    let gateway = world.another_gateway_with("", LISTED).await;
    let response = world
        .http
        .get(format!("{}/openapi.json", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        world.served_paths().is_empty(),
        "discovery never reaches the upstream"
    );

    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Sample quotes");
    assert!(document["info"]["version"].is_string());
    assert_eq!(document["x-service-info"]["categories"], json!(["finance"]));
    assert_eq!(
        document["x-service-info"]["docs"]["homepage"],
        "https://docs.example.com"
    );

    let quote = &document["paths"]["/v1/quotes/{symbol}"]["get"];
    let offer = &quote["x-payment-info"]["offers"][0];
    for key in offer.as_object().unwrap().keys() {
        assert!(
            OFFER_KEYS.contains(&key.as_str()),
            "{key} is not an MPP offer field"
        );
    }
    assert_eq!(offer["intent"], "charge");
    assert_eq!(offer["method"], "solana");
    assert_eq!(offer["amount"], "10000");
    assert_eq!(
        offer["currency"],
        world.localnet.info().usdc_mint.to_string()
    );
    assert!(
        quote["responses"]["402"].is_object(),
        "a payable operation lists its 402"
    );
    assert_eq!(quote["parameters"][0]["name"], "symbol");
    assert_eq!(quote["x-paytab-example-path"], "/v1/quotes/SOL");

    let translate = &document["paths"]["/v1/translate"]["post"];
    assert_eq!(translate["x-payment-info"]["offers"][0]["amount"], "20000");
    let account = &document["paths"]["/v1/account"]["get"];
    assert!(account["x-payment-info"].is_null());
    assert_eq!(account["x-paytab-access"], "sign-in");
    let health = &document["paths"]["/health"]["get"];
    assert!(health["x-payment-info"].is_null() && health["responses"]["402"].is_null());
    assert_eq!(document["x-paytab"]["payTo"], world.provider.to_string());
}

/// Every field of `info.input` is one the schema names, and every field it
/// requires is there (the check a facilitator makes of a bazaar extension).
fn assert_input_fits_schema(extension: &Value) {
    let input = extension["info"]["input"].as_object().unwrap();
    let schema = &extension["schema"]["properties"]["input"];
    for key in input.keys() {
        assert!(
            schema["properties"][key].is_object(),
            "input.{key} is not in the schema"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        assert!(
            input.contains_key(required.as_str().unwrap()),
            "input lacks {required}"
        );
    }
    assert_eq!(schema["properties"]["type"]["const"], "http");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        extension["schema"]["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(extension["schema"]["required"], json!(["input"]));
}

#[tokio::test]
async fn a_priced_routes_402_carries_the_bazaar_extension_in_the_specs_shape() {
    let world = World::start().await;
    let gateway = world.another_gateway_with("", LISTED).await;

    let unpaid = world
        .http
        .get(format!("{}/v1/quotes/SOL", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unpaid.status(), 402);
    let bazaar = decode_header(&unpaid, "payment-required")["extensions"]["bazaar"].clone();
    assert_eq!(
        bazaar["info"]["input"],
        json!({"type": "http", "method": "GET", "pathParams": {"symbol": "SOL"}})
    );
    assert_eq!(bazaar["info"]["output"]["type"], "json");
    assert_eq!(bazaar["routeTemplate"], "/v1/quotes/:symbol");
    assert_input_fits_schema(&bazaar);

    let unpaid = world
        .http
        .post(format!("{}/v1/translate", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unpaid.status(), 402);
    let bazaar = decode_header(&unpaid, "payment-required")["extensions"]["bazaar"].clone();
    assert_eq!(
        bazaar["info"]["input"],
        json!({"type": "http", "method": "POST", "bodyType": "json", "body": {}})
    );
    assert!(
        bazaar["routeTemplate"].is_null(),
        "a static route has no template"
    );
    assert_input_fits_schema(&bazaar);
}
