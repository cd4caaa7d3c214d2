use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use solana_pubkey::Pubkey;

use super::fields::{pattern_matches, Naming};
use super::publication::{canonical_json, signing_message};
use super::*;

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn address(key: &SigningKey) -> String {
    Pubkey::new_from_array(key.verifying_key().to_bytes()).to_string()
}

/// A valid manifest's JSON, paid to `pay_to`.
fn manifest_json(pay_to: &str) -> Value {
    json!({
        "name": "quotes",
        "title": "Sample quotes",
        "description": "Price quotes for crypto assets, one symbol per call, updated every second from several venues.",
        "useCase": "Use to price a token before trading or reporting.",
        "category": "finance",
        "serviceUrl": "https://api.example.com",
        "version": "1.0.0",
        "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
        "asset": Pubkey::new_from_array([3; 32]).to_string(),
        "decimals": 6,
        "payTo": pay_to,
        "schemes": ["escrow", "exact", "mpp"],
        "facilitator": "https://facilitator.example.com",
        "endpoints": [
            {"method": "GET", "path": "/v1/quotes/:symbol", "description": "A price quote",
             "access": "paid", "price": "10000", "examplePath": "/v1/quotes/SOL"},
            {"method": "GET", "path": "/v1/account", "description": "Who you are", "access": "sign-in"},
            {"method": "GET", "path": "/health", "description": "Liveness", "access": "free"},
        ],
        "usage": "Symbols are upper case.",
    })
}

/// Breaks one field of a manifest.
type Breaker = Box<dyn Fn(&mut Value)>;

fn read(value: &Value) -> Result<Manifest, ManifestError> {
    Manifest::from_value(value, Naming::Camel)
}

fn field_of(value: Value) -> String {
    match read(&value) {
        Ok(_) => panic!("accepted a malformed manifest: {value}"),
        Err(error) => error.field,
    }
}

#[test]
fn a_valid_manifest_reads_and_writes_back_the_same_json() {
    let json = manifest_json(&address(&signing_key(1)));
    let manifest = read(&json).expect("valid");
    assert_eq!(manifest.category, Category::Finance);
    assert_eq!(manifest.lowest_price(), Some(10_000));
    assert_eq!(manifest.endpoints[1].access, Access::SignIn);
    assert_eq!(manifest.endpoints[0].probe_path(), "/v1/quotes/SOL");
    assert_eq!(manifest.to_value(), json);
}

#[test]
fn every_malformed_field_is_refused_naming_that_field() {
    let good = manifest_json(&address(&signing_key(1)));
    let cases: Vec<(&str, Breaker)> = vec![
        ("name", Box::new(|m| m["name"] = json!("Quotes!"))),
        ("name", Box::new(|m| m["name"] = json!(7))),
        (
            "title",
            Box::new(|m| {
                m.as_object_mut().map(|o| o.remove("title"));
            }),
        ),
        (
            "description",
            Box::new(|m| m["description"] = json!("too short")),
        ),
        (
            "description",
            Box::new(|m| m["description"] = json!("x".repeat(256))),
        ),
        ("category", Box::new(|m| m["category"] = json!("weather"))),
        (
            "serviceUrl",
            Box::new(|m| m["serviceUrl"] = json!("ftp://api.example.com")),
        ),
        (
            "serviceUrl",
            Box::new(|m| m["serviceUrl"] = json!("https://user:pw@api.example.com")),
        ),
        (
            "serviceUrl",
            Box::new(|m| m["serviceUrl"] = json!("https://api.example.com/?a=1")),
        ),
        (
            "sandboxServiceUrl",
            Box::new(|m| m["sandboxServiceUrl"] = json!("sandbox")),
        ),
        ("network", Box::new(|m| m["network"] = json!("eip155:8453"))),
        (
            "asset",
            Box::new(|m| m["asset"] = json!("not-a-key-but-long-enough-to-pass-length")),
        ),
        ("payTo", Box::new(|m| m["payTo"] = json!(12))),
        ("decimals", Box::new(|m| m["decimals"] = json!(40))),
        ("decimals", Box::new(|m| m["decimals"] = json!(-1))),
        (
            "schemes",
            Box::new(|m| m["schemes"] = json!(["escrow", "lightning"])),
        ),
        ("schemes", Box::new(|m| m["schemes"] = json!([]))),
        ("facilitator", Box::new(|m| m["facilitator"] = json!(null))),
        ("endpoints", Box::new(|m| m["endpoints"] = json!([]))),
        (
            "endpoints[0].method",
            Box::new(|m| m["endpoints"][0]["method"] = json!("FETCH")),
        ),
        (
            "endpoints[0].path",
            Box::new(|m| m["endpoints"][0]["path"] = json!("v1/quotes")),
        ),
        (
            "endpoints[0].path",
            Box::new(|m| m["endpoints"][0]["path"] = json!("/v1/../admin")),
        ),
        (
            "endpoints[0].price",
            Box::new(|m| m["endpoints"][0]["price"] = json!("0.01")),
        ),
        (
            "endpoints[0].price",
            Box::new(|m| m["endpoints"][0]["price"] = json!(0)),
        ),
        (
            "endpoints[0].price",
            Box::new(|m| {
                m["endpoints"][0].as_object_mut().map(|o| o.remove("price"));
            }),
        ),
        (
            "endpoints[0].access",
            Box::new(|m| m["endpoints"][0]["access"] = json!("vip")),
        ),
        (
            "endpoints[0].examplePath",
            Box::new(|m| m["endpoints"][0]["examplePath"] = json!("/v2/other")),
        ),
        (
            "endpoints[0].examplePath",
            Box::new(|m| {
                m["endpoints"][0]
                    .as_object_mut()
                    .map(|o| o.remove("examplePath"));
            }),
        ),
        (
            "endpoints[1].price",
            Box::new(|m| m["endpoints"][1]["price"] = json!(5)),
        ),
        (
            "endpoints[2].colour",
            Box::new(|m| m["endpoints"][2]["colour"] = json!("red")),
        ),
        (
            "endpoints[2]",
            Box::new(|m| m["endpoints"][2] = json!("GET /health")),
        ),
        (
            "endpoints[2]",
            Box::new(|m| m["endpoints"][2] = m["endpoints"][1].clone()),
        ),
        (
            "usage",
            Box::new(|m| m["usage"] = json!("x".repeat(17 * 1024))),
        ),
        (
            "homepage",
            Box::new(|m| m["homepage"] = json!("https://example.com")),
        ),
    ];
    for (field, break_it) in cases {
        let mut manifest = good.clone();
        break_it(&mut manifest);
        assert_eq!(field_of(manifest.clone()), field, "for {manifest}");
    }
    assert_eq!(field_of(json!("a string")), "");
}

#[test]
fn path_patterns_match_their_concrete_paths_only() {
    assert!(pattern_matches("/v1/quotes/:symbol", "/v1/quotes/SOL"));
    assert!(!pattern_matches("/v1/quotes/:symbol", "/v1/quotes/"));
    assert!(!pattern_matches(
        "/v1/quotes/:symbol",
        "/v1/quotes/SOL/more"
    ));
    assert!(pattern_matches("/files/*", "/files/a/b"));
    assert!(pattern_matches("/", "/"));
    assert!(!pattern_matches("/v1/report", "/v1/reports"));
}

#[test]
fn a_pay_md_file_reads_as_its_manifest_and_renders_back_unchanged() {
    let manifest = read(&manifest_json(&address(&signing_key(1)))).expect("valid");
    let text = pay_md::render(&manifest);
    assert!(text.starts_with("---\nname: \"quotes\"\n"), "{text}");
    assert_eq!(pay_md::parse(&text), Ok(manifest));
}

#[test]
fn a_pay_sh_listing_with_a_flat_usd_price_and_a_relative_path_is_read() {
    let text = format!(
        "---\nname: cpu\ntitle: \"GCP CPU\"\n\
         description: \"Deploy, inspect, invoke, and delete payer-isolated Google Cloud Run functions through a paid control plane.\"\n\
         use_case: \"Use for deploying short-lived HTTP functions.\"\n\
         category: compute\nservice_url: https://cpu.example.com\nversion: v1\n\
         network: solana\nasset: {asset}\ndecimals: 6\npay_to: {pay_to}\nschemes: [exact]\n\
         facilitator: https://facilitator.example.com\n\
         endpoints:\n  - method: POST\n    path: mcp\n    description: \"The control plane\"\n    resource: control\n\
         \x20   pricing:\n      dimensions:\n        - direction: usage\n          unit: requests\n          scale: 1\n\
         \x20         tiers:\n            - price_usd: 0.001\n---\n\nBody notes.\n",
        asset = Pubkey::new_from_array([3; 32]),
        pay_to = address(&signing_key(1)),
    );
    let manifest = pay_md::parse(&text).expect("reads");
    assert_eq!(manifest.endpoints[0].path, "/mcp");
    assert_eq!(manifest.endpoints[0].access, Access::Paid(1_000));
    assert_eq!(manifest.network, crate::networks::SOLANA_MAINNET);
    assert_eq!(manifest.usage, "Body notes.");
}

#[test]
fn pay_md_files_that_cannot_be_read_say_why() {
    let good = pay_md::render(&read(&manifest_json(&address(&signing_key(1)))).expect("valid"));
    let cases = [
        ("", "name: x\n".to_string()),
        ("", "---\nname: [unclosed\n---\n".to_string()),
        ("", "---\nname: quotes\n".to_string()),
        ("openapi", good.replacen("name:", "openapi:\n  path: openapi.json\nname:", 1)),
        ("usage", good.replacen("name:", "usage: \"inline\"\nname:", 1)),
        (
            "endpoints[0].pricing",
            good.replacen("    price: 10000\n", "    pricing:\n      dimensions:\n        - direction: input\n          unit: tokens\n          tiers:\n            - price_usd: 0.1\n", 1),
        ),
        ("category", good.replacen("\"finance\"", "\"analytics\"", 1)),
    ];
    for (field, text) in cases {
        let error = pay_md::parse(&text).expect_err(&text);
        assert_eq!(error.field, field, "{error} for:\n{text}");
    }
}

#[test]
fn a_publication_signed_by_the_payee_verifies_and_any_change_breaks_it() {
    let key = signing_key(1);
    let manifest = read(&manifest_json(&address(&key))).expect("valid");
    let publication = Publication::sign(&manifest, 1_790_000_000, |message| {
        (
            Pubkey::new_from_array(key.verifying_key().to_bytes()),
            key.sign(message).to_bytes(),
        )
    });
    let wire = publication.to_json();
    assert_eq!(Publication::verify(&wire), Ok(publication));

    let mut forged = wire.clone();
    forged["manifest"]["endpoints"][0]["price"] = json!("1");
    assert_eq!(
        Publication::verify(&forged),
        Err(PublicationError::BadSignature)
    );
    let mut later = wire.clone();
    later["publishedAt"] = json!(1_790_000_001);
    assert_eq!(
        Publication::verify(&later),
        Err(PublicationError::BadSignature)
    );
}

#[test]
fn a_manifest_re_signed_by_someone_other_than_the_payee_is_refused() {
    let payee = signing_key(1);
    let other = signing_key(2);
    let manifest = read(&manifest_json(&address(&payee))).expect("valid");
    let publication = Publication::sign(&manifest, 1_790_000_000, |message| {
        (
            Pubkey::new_from_array(other.verifying_key().to_bytes()),
            other.sign(message).to_bytes(),
        )
    });
    assert!(matches!(
        Publication::verify(&publication.to_json()),
        Err(PublicationError::SignerNotPayee { .. })
    ));
}

#[test]
fn canonical_json_sorts_keys_and_drops_whitespace() {
    let value = json!({"b": [1, {"d": "é\n", "c": null}], "a": true});
    assert_eq!(
        canonical_json(&value),
        r#"{"a":true,"b":[1,{"c":null,"d":"é\n"}]}"#
    );
}

/// `docs/protocol.md` §9, vector `manifest-1`.
#[test]
fn the_manifest_signature_vector_matches_the_specification() {
    let key = signing_key(7);
    let manifest = manifest_json(&address(&key));
    let message = signing_message(&manifest, 1_790_000_000);
    let digest = sha256_hex(&message);
    let signature = bs58::encode(key.sign(&message).to_bytes()).into_string();
    let spec = include_str!("../../../docs/protocol.md");
    let vector = spec
        .split("<!-- vector: manifest-1 -->")
        .nth(1)
        .expect("the vector is in docs/protocol.md");
    assert!(
        vector.contains(&format!("signer     {}", address(&key))),
        "signer"
    );
    assert!(
        vector.contains(&format!("sha256     {digest}")),
        "message digest {digest}"
    );
    assert!(
        vector.contains(&format!("signature  {signature}")),
        "signature {signature}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
