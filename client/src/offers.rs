//! What a 402 offers: x402 v2 (`PAYMENT-REQUIRED`), x402 v1 (`accepts` in the
//! body) and MPP (`WWW-Authenticate: Payment`) payment options, and an x402
//! sign-in request, read into one list.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab_protocol::mpp::ChallengeParams;
use paytab_protocol::networks::normalise_network;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::Value;
use solana_pubkey::Pubkey;

/// How an offer is paid, in the order paytab prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfferKind {
    /// A paytab escrow receipt (x402 scheme `escrow`).
    Escrow,
    /// An x402 `exact` transfer.
    Exact,
    /// An MPP `charge`.
    MppCharge,
}

impl OfferKind {
    /// The name people and `--scheme` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Escrow => "escrow",
            Self::Exact => "exact",
            Self::MppCharge => "mpp",
        }
    }

    /// Parses a `--scheme` value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "escrow" => Some(Self::Escrow),
            "exact" => Some(Self::Exact),
            "mpp" | "mpp-charge" => Some(Self::MppCharge),
            _ => None,
        }
    }
}

/// One way to pay.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// How it is paid.
    pub kind: OfferKind,
    /// CAIP-2 network (MPP names are kept as given, e.g. `localnet`).
    pub network: String,
    /// Raw units.
    pub amount: u64,
    /// The token mint.
    pub asset: Pubkey,
    /// The payee.
    pub pay_to: Pubkey,
    /// The facilitator's fee payer (`exact`, MPP).
    pub fee_payer: Option<Pubkey>,
    /// The facilitator's delegate key (`escrow`).
    pub delegate: Option<Pubkey>,
    /// Token decimals, when the offer says (MPP).
    pub decimals: Option<u8>,
    /// What is sold.
    pub description: Option<String>,
    /// 1 or 2 for x402 offers.
    pub x402_version: u8,
    /// The x402 requirement as offered, to echo back.
    pub requirement: Value,
    /// The MPP challenge, for MPP offers.
    pub mpp: Option<ChallengeParams>,
}

/// Everything a 402 asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentRequired {
    /// Payment options, as offered (x402 first, then MPP).
    pub offers: Vec<Offer>,
    /// The x402 `sign-in-with-x` extension, if the resource asks to sign in.
    pub sign_in: Option<Value>,
    /// The server's reason, if any.
    pub error: Option<String>,
    /// Offers that could not be read, with why (shown, not paid).
    pub unreadable: Vec<String>,
}

/// Reads a 402's headers and body. Unknown schemes and malformed offers are
/// listed in `unreadable`, never fatal.
pub fn parse_payment_required(headers: &HeaderMap, body: &[u8]) -> PaymentRequired {
    let mut required = PaymentRequired::default();
    let v2 = headers
        .get("payment-required")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| STANDARD.decode(text.trim()).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let v1 = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|value| value["x402Version"] == 1);
    if let Some(v2) = &v2 {
        required.error = v2["error"].as_str().map(str::to_string);
        required.sign_in =
            Some(v2["extensions"]["sign-in-with-x"].clone()).filter(Value::is_object);
        read_x402(v2, 2, &mut required);
    } else if let Some(v1) = &v1 {
        required.error = v1["error"].as_str().map(str::to_string);
        read_x402(v1, 1, &mut required);
    }
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(text) = value.to_str() else { continue };
        if !text
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("payment "))
        {
            continue;
        }
        match mpp_offer(&text[8..]) {
            Ok(offer) => required.offers.push(offer),
            Err(reason) => required.unreadable.push(format!("MPP challenge: {reason}")),
        }
    }
    required
}

fn read_x402(value: &Value, version: u8, required: &mut PaymentRequired) {
    let Some(accepts) = value["accepts"].as_array() else {
        return;
    };
    for requirement in accepts {
        match x402_offer(requirement, version) {
            Ok(offer) => required.offers.push(offer),
            Err(reason) => required.unreadable.push(reason),
        }
    }
}

fn x402_offer(requirement: &Value, version: u8) -> Result<Offer, String> {
    let scheme = requirement["scheme"].as_str().unwrap_or("?");
    let kind = match scheme {
        paytab_protocol::schemes::PAYTAB_ESCROW => OfferKind::Escrow,
        "exact" => OfferKind::Exact,
        other => return Err(format!("x402 scheme `{other}` is not supported")),
    };
    let amount_field = if version == 1 {
        "maxAmountRequired"
    } else {
        "amount"
    };
    let network = requirement["network"].as_str().unwrap_or_default();
    Ok(Offer {
        kind,
        network: normalise_network(network),
        amount: number(&requirement[amount_field])
            .ok_or_else(|| format!("{scheme}: {amount_field} is not an amount"))?,
        asset: key(&requirement["asset"]).ok_or_else(|| format!("{scheme}: bad asset"))?,
        pay_to: key(&requirement["payTo"]).ok_or_else(|| format!("{scheme}: bad payTo"))?,
        fee_payer: key(&requirement["extra"]["feePayer"]),
        delegate: key(&requirement["extra"]["delegate"]),
        decimals: None,
        description: requirement["description"].as_str().map(str::to_string),
        x402_version: version,
        requirement: requirement.clone(),
        mpp: None,
    })
}

fn mpp_offer(parameters: &str) -> Result<Offer, String> {
    let mut params = ChallengeParams::default();
    for (name, value) in auth_params(parameters)? {
        match name.as_str() {
            "id" => params.id = value,
            "realm" => params.realm = value,
            "method" => params.method = value,
            "intent" => params.intent = value,
            "request" => params.request = value,
            "expires" => params.expires = Some(value),
            "opaque" => params.opaque = Some(value),
            _ => {}
        }
    }
    if params.method != "solana" || params.intent != "charge" {
        return Err(format!(
            "method `{}` intent `{}` is not a Solana charge",
            params.method, params.intent
        ));
    }
    let request: Value = URL_SAFE_NO_PAD
        .decode(&params.request)
        .or_else(|_| URL_SAFE.decode(&params.request))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("the request is not base64url JSON")?;
    let details = &request["methodDetails"];
    Ok(Offer {
        kind: OfferKind::MppCharge,
        network: details["network"].as_str().unwrap_or("mainnet").to_string(),
        amount: number(&request["amount"]).ok_or("amount is not an amount")?,
        asset: key(&request["currency"]).ok_or("currency is not a mint")?,
        pay_to: key(&request["recipient"]).ok_or("recipient is not an address")?,
        fee_payer: (details["feePayer"] == true)
            .then(|| key(&details["feePayerKey"]))
            .flatten(),
        delegate: None,
        decimals: details["decimals"]
            .as_u64()
            .and_then(|value| u8::try_from(value).ok()),
        description: request["description"].as_str().map(str::to_string),
        x402_version: 0,
        requirement: request,
        mpp: Some(params),
    })
}

/// `name="value", name=token, …` (RFC 9110 auth-params).
fn auth_params(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut params = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected name=value at `{rest}`"))?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((index, character)) = chars.next() {
                match character {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(index + 1);
                        break;
                    }
                    other => value.push(other),
                }
            }
            let end = end.ok_or("unterminated quoted value")?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((name, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(params)
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

fn key(value: &Value) -> Option<Pubkey> {
    value.as_str().and_then(|text| text.parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    const DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";

    fn requirement(scheme: &str) -> Value {
        json!({
            "scheme": scheme, "network": DEVNET, "amount": "10000",
            "asset": Pubkey::new_from_array([3; 32]).to_string(),
            "payTo": Pubkey::new_from_array([2; 32]).to_string(),
            "maxTimeoutSeconds": 60,
            "extra": {"feePayer": Pubkey::new_from_array([9; 32]).to_string(),
                      "delegate": Pubkey::new_from_array([9; 32]).to_string()},
        })
    }

    #[test]
    fn a_402_with_v2_and_mpp_challenges_yields_every_offer() {
        let required = json!({"x402Version": 2, "error": "payment required",
            "accepts": [requirement("paytab-escrow"), requirement("exact"), requirement("upto")]});
        let request = json!({"amount": "10000", "currency": Pubkey::new_from_array([3; 32]).to_string(),
            "recipient": Pubkey::new_from_array([2; 32]).to_string(),
            "methodDetails": {"network": "devnet", "decimals": 6, "feePayer": true,
                              "feePayerKey": Pubkey::new_from_array([9; 32]).to_string()}});
        let mut headers = HeaderMap::new();
        headers.insert(
            "payment-required",
            HeaderValue::from_str(&STANDARD.encode(required.to_string())).unwrap(),
        );
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(
                "Payment id=\"abc\", realm=\"https://api.example.com\", method=\"solana\", intent=\"charge\", request=\"{}\", expires=\"2026-01-01T00:00:00Z\"",
                URL_SAFE_NO_PAD.encode(request.to_string())
            ))
            .unwrap(),
        );
        let parsed = parse_payment_required(&headers, b"{}");
        let kinds: Vec<OfferKind> = parsed.offers.iter().map(|offer| offer.kind).collect();
        assert_eq!(
            kinds,
            [OfferKind::Escrow, OfferKind::Exact, OfferKind::MppCharge]
        );
        assert_eq!(parsed.unreadable, ["x402 scheme `upto` is not supported"]);
        assert_eq!(parsed.error.as_deref(), Some("payment required"));
        let mpp = &parsed.offers[2];
        assert_eq!(mpp.amount, 10_000);
        assert_eq!(mpp.decimals, Some(6));
        assert_eq!(mpp.fee_payer, Some(Pubkey::new_from_array([9; 32])));
        assert_eq!(mpp.mpp.as_ref().unwrap().id, "abc");
        assert_eq!(parsed.offers[0].requirement, requirement("paytab-escrow"));
    }

    #[test]
    fn a_v1_body_is_read_with_its_plain_network_names() {
        let mut offer = requirement("exact");
        offer["network"] = json!("solana-devnet");
        offer["maxAmountRequired"] = json!("2500");
        let body = json!({"x402Version": 1, "error": "pay", "accepts": [offer]});
        let parsed = parse_payment_required(&HeaderMap::new(), body.to_string().as_bytes());
        assert_eq!(parsed.offers.len(), 1);
        assert_eq!(parsed.offers[0].network, DEVNET);
        assert_eq!(parsed.offers[0].amount, 2_500);
        assert_eq!(parsed.offers[0].x402_version, 1);
    }

    #[test]
    fn garbage_yields_no_offers_and_no_panic() {
        let mut headers = HeaderMap::new();
        headers.insert("payment-required", HeaderValue::from_static("%%%"));
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Payment id=\"unterminated"),
        );
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"x\""),
        );
        let parsed = parse_payment_required(&headers, b"not json");
        assert!(parsed.offers.is_empty());
        assert_eq!(parsed.unreadable.len(), 1);
    }

    #[test]
    fn quoted_auth_params_may_hold_commas_and_escapes() {
        let params = auth_params(r#"id="a,b", description="say \"hi\"", intent=charge"#).unwrap();
        assert_eq!(
            params,
            [
                ("id".to_string(), "a,b".to_string()),
                ("description".to_string(), "say \"hi\"".to_string()),
                ("intent".to_string(), "charge".to_string()),
            ]
        );
    }
}
