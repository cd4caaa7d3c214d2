//! x402 facilitator wire types (v2, with v1 accepted) and their normalised form.
//!
//! Requests arrive as `{x402Version, paymentPayload, paymentRequirements}` in
//! either version; [`PaymentRequest::parse`] turns both into one [`Requirement`]
//! and one [`Payment`], so the schemes never see the version differences.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use solana_pubkey::Pubkey;

use crate::rejection::Rejection;

pub use paytab_protocol::networks::{
    caip2_network, normalise_network, v1_network_name, SOLANA_DEVNET, SOLANA_MAINNET,
    SOLANA_TESTNET,
};

/// The x402 versions spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// x402 v1: plain network names, `maxAmountRequired`, no `accepted` echo.
    V1,
    /// x402 v2: CAIP-2 networks, `amount`, `accepted` echoed in the payload.
    V2,
}

impl Version {
    /// The version number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
}

/// Body of `POST /verify` and `POST /settle`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilitatorRequest {
    /// 1 or 2.
    pub x402_version: u64,
    /// The client's payment.
    pub payment_payload: Value,
    /// What the resource server asked for.
    pub payment_requirements: Value,
    /// **paytab extension**: what the proof is bound to; defaults to `GET` of the resource URL.
    #[serde(default)]
    pub paytab: Option<BindingRequest>,
}

/// **paytab extension**: the request or challenge a settlement's proof binds to.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingRequest {
    /// HTTP method of the paid request.
    #[serde(default)]
    pub method: Option<String>,
    /// Absolute URL of the paid request.
    #[serde(default)]
    pub url: Option<String>,
    /// A challenge id (e.g. MPP's) instead of a request.
    #[serde(default)]
    pub challenge_id: Option<String>,
}

/// x402 v2 `PaymentRequirements`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequirementsV2 {
    /// Payment scheme, e.g. `exact`.
    pub scheme: String,
    /// CAIP-2 network id.
    pub network: String,
    /// Atomic units, as a decimal string.
    pub amount: String,
    /// Base58 mint.
    pub asset: String,
    /// Base58 owner address to pay.
    pub pay_to: String,
    /// Longest the server waits for payment.
    pub max_timeout_seconds: u64,
    /// Scheme-specific fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// x402 v1 `PaymentRequirements`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequirementsV1 {
    /// Payment scheme.
    pub scheme: String,
    /// Plain network name (`solana`, `solana-devnet`) or CAIP-2 id.
    pub network: String,
    /// Atomic units, as a decimal string.
    pub max_amount_required: String,
    /// URL of the resource.
    pub resource: String,
    /// What is sold.
    #[serde(default)]
    pub description: String,
    /// MIME type of the resource.
    #[serde(default)]
    pub mime_type: String,
    /// Optional schema of the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Base58 owner address to pay.
    pub pay_to: String,
    /// Longest the server waits for payment.
    pub max_timeout_seconds: u64,
    /// Base58 mint.
    pub asset: String,
    /// Scheme-specific fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// A payment requirement, whichever version it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Payment scheme.
    pub scheme: String,
    /// CAIP-2 network id.
    pub network: String,
    /// Atomic units.
    pub amount: u64,
    /// The token mint.
    pub asset: Pubkey,
    /// The owner address paid.
    pub pay_to: Pubkey,
    /// Longest the server waits for payment.
    pub max_timeout_seconds: u64,
    /// The resource URL, if the requirement names one.
    pub resource: Option<String>,
    /// Scheme-specific fields (an empty object when absent).
    pub extra: Map<String, Value>,
}

/// A client's payment, whichever version it came in.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The version it was sent in.
    pub version: Version,
    /// Scheme named by the payment.
    pub scheme: String,
    /// CAIP-2 network named by the payment.
    pub network: String,
    /// The scheme's payload object.
    pub payload: Map<String, Value>,
    /// The resource URL the payment names (v2 `resource.url`), if any.
    pub resource: Option<String>,
}

/// A parsed verify or settle request.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// What was asked for.
    pub requirement: Requirement,
    /// What was offered.
    pub payment: Payment,
    /// What the proof binds to.
    pub binding: Option<BindingRequest>,
}

impl PaymentRequest {
    /// Parses and normalises a facilitator request. Checks the version, that
    /// the payment names the requirement's scheme and network, and (v2) that
    /// `accepted` echoes the requirement exactly.
    pub fn parse(request: FacilitatorRequest) -> Result<Self, Rejection> {
        let version = match request.x402_version {
            1 => Version::V1,
            2 => Version::V2,
            other => {
                return Err(Rejection::new(
                    "invalid_x402_version",
                    format!("x402 version {other} is not supported (1 or 2)"),
                ))
            }
        };
        let requirement = match version {
            Version::V1 => parse_v1_requirement(&request.payment_requirements)?,
            Version::V2 => parse_v2_requirement(&request.payment_requirements)?,
        };
        let payment = parse_payment(version, &request, &requirement)?;
        if payment.scheme != requirement.scheme {
            return Err(Rejection::new(
                "invalid_scheme",
                format!(
                    "payment scheme {} differs from the required {}",
                    payment.scheme, requirement.scheme
                ),
            ));
        }
        if payment.network != requirement.network {
            return Err(Rejection::new(
                "invalid_network",
                "payment network differs from the required one",
            ));
        }
        Ok(Self {
            requirement,
            payment,
            binding: request.paytab,
        })
    }
}

fn parse_v2_requirement(value: &Value) -> Result<Requirement, Rejection> {
    let raw: RequirementsV2 = serde_json::from_value(value.clone())
        .map_err(|error| invalid_requirements(&error.to_string()))?;
    Ok(Requirement {
        scheme: raw.scheme,
        network: raw.network,
        amount: parse_amount(&raw.amount)?,
        asset: parse_address(&raw.asset, "asset")?,
        pay_to: parse_address(&raw.pay_to, "payTo")?,
        max_timeout_seconds: raw.max_timeout_seconds,
        resource: None,
        extra: object_or_empty(raw.extra)?,
    })
}

fn parse_v1_requirement(value: &Value) -> Result<Requirement, Rejection> {
    let raw: RequirementsV1 = serde_json::from_value(value.clone())
        .map_err(|error| invalid_requirements(&error.to_string()))?;
    Ok(Requirement {
        scheme: raw.scheme,
        network: normalise_network(&raw.network),
        amount: parse_amount(&raw.max_amount_required)?,
        asset: parse_address(&raw.asset, "asset")?,
        pay_to: parse_address(&raw.pay_to, "payTo")?,
        max_timeout_seconds: raw.max_timeout_seconds,
        resource: Some(raw.resource),
        extra: object_or_empty(raw.extra)?,
    })
}

fn parse_payment(
    version: Version,
    request: &FacilitatorRequest,
    requirement: &Requirement,
) -> Result<Payment, Rejection> {
    let body = request
        .payment_payload
        .as_object()
        .ok_or_else(|| invalid_payload("paymentPayload must be an object"))?;
    let payload_version = body.get("x402Version").and_then(Value::as_u64);
    if payload_version != Some(u64::from(version.number())) {
        return Err(Rejection::new(
            "invalid_x402_version",
            "paymentPayload.x402Version differs from the request's x402Version",
        ));
    }
    let payload = body
        .get("payload")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| invalid_payload("paymentPayload.payload must be an object"))?;
    let (scheme, network) = match version {
        Version::V1 => (
            string_field(body, "scheme")?,
            normalise_network(&string_field(body, "network")?),
        ),
        Version::V2 => {
            let accepted = body
                .get("accepted")
                .ok_or_else(|| invalid_payload("paymentPayload.accepted is missing"))?;
            if accepted != &request.payment_requirements {
                return Err(Rejection::new(
                    "invalid_payment_requirements",
                    "paymentPayload.accepted does not match paymentRequirements",
                ));
            }
            (requirement.scheme.clone(), requirement.network.clone())
        }
    };
    let resource = body
        .get("resource")
        .and_then(|resource| resource.get("url"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| requirement.resource.clone());
    Ok(Payment {
        version,
        scheme,
        network,
        payload,
        resource,
    })
}

fn string_field(body: &Map<String, Value>, name: &str) -> Result<String, Rejection> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid_payload(&format!("paymentPayload.{name} must be a string")))
}

fn object_or_empty(extra: Option<Value>) -> Result<Map<String, Value>, Rejection> {
    match extra {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(invalid_requirements("extra must be an object")),
    }
}

/// Parses a decimal amount of atomic units.
pub fn parse_amount(text: &str) -> Result<u64, Rejection> {
    decimal_u64(text)
        .filter(|amount| *amount > 0)
        .ok_or_else(|| {
            invalid_requirements(&format!(
                "amount {text:?} is not a positive integer of atomic units"
            ))
        })
}

/// A `u64` written as plain decimal digits (no sign, no spaces, no leading `+`).
pub fn decimal_u64(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

/// Parses a base58 address.
pub fn parse_address(text: &str, field: &str) -> Result<Pubkey, Rejection> {
    text.parse::<Pubkey>()
        .map_err(|_| invalid_requirements(&format!("{field} {text:?} is not a base58 address")))
}

fn invalid_requirements(detail: &str) -> Rejection {
    Rejection::new(
        "invalid_payment_requirements",
        format!("paymentRequirements: {detail}"),
    )
}

fn invalid_payload(detail: &str) -> Rejection {
    Rejection::new("invalid_payload", detail.to_string())
}

/// x402 `VerifyResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Whether the payment would settle.
    pub is_valid: bool,
    /// x402 reason code when not valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// A readable explanation when not valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_message: Option<String>,
    /// The paying address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// Scheme-specific details (for `escrow`, the accepted cumulative amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// x402 `SettlementResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SettleResponse {
    /// Whether the payment settled.
    pub success: bool,
    /// x402 reason code on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// A readable explanation on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The paying address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// Base58 transaction signature; empty on failure and for escrow receipts.
    pub transaction: String,
    /// CAIP-2 network (or the v1 name for v1 requests).
    pub network: String,
    /// Atomic units settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// `paytab`: the proof and, for escrow, the accepted receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

impl VerifyResponse {
    /// A refusal carrying `rejection`'s reason and details.
    pub fn refused(rejection: &Rejection) -> Self {
        Self {
            is_valid: false,
            invalid_reason: Some(rejection.reason.to_string()),
            invalid_message: Some(rejection.message.clone()),
            payer: rejection.payer.map(|payer| payer.to_string()),
            extensions: rejection.extensions.clone(),
        }
    }
}

impl SettleResponse {
    /// A successful settlement.
    pub fn settled(
        payer: Pubkey,
        transaction: String,
        network: String,
        amount: u64,
        extensions: Value,
    ) -> Self {
        Self {
            success: true,
            error_reason: None,
            error_message: None,
            payer: Some(payer.to_string()),
            transaction,
            network,
            amount: Some(amount.to_string()),
            extensions: Some(extensions),
        }
    }

    /// A failed settlement carrying `rejection`'s reason and details.
    pub fn refused(rejection: &Rejection, network: String) -> Self {
        Self {
            success: false,
            error_reason: Some(rejection.reason.to_string()),
            error_message: Some(rejection.message.clone()),
            payer: rejection.payer.map(|payer| payer.to_string()),
            transaction: String::new(),
            network,
            amount: None,
            extensions: rejection.extensions.clone(),
        }
    }
}

/// One entry of `GET /supported`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SupportedKind {
    /// 1 or 2.
    pub x402_version: u8,
    /// Scheme name.
    pub scheme: String,
    /// Network (CAIP-2 for v2; the v1 name for v1).
    pub network: String,
    /// Scheme-specific fields, e.g. `feePayer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2_requirement() -> Value {
        json!({
            "scheme": "exact",
            "network": SOLANA_DEVNET,
            "amount": "10000",
            "asset": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
            "payTo": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
            "maxTimeoutSeconds": 60,
            "extra": {"feePayer": "GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB"}
        })
    }

    fn request(body: Value) -> Result<PaymentRequest, Rejection> {
        PaymentRequest::parse(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn a_v2_request_whose_accepted_echoes_the_requirement_parses() {
        let parsed = request(json!({
            "x402Version": 2,
            "paymentPayload": {"x402Version": 2, "accepted": v2_requirement(), "payload": {"transaction": "x"}},
            "paymentRequirements": v2_requirement(),
        }))
        .unwrap();
        assert_eq!(parsed.requirement.amount, 10_000);
        assert_eq!(parsed.payment.network, SOLANA_DEVNET);
        assert_eq!(parsed.payment.version, Version::V2);
    }

    #[test]
    fn a_v2_request_whose_accepted_differs_is_refused() {
        let mut accepted = v2_requirement();
        accepted["amount"] = json!("1");
        let error = request(json!({
            "x402Version": 2,
            "paymentPayload": {"x402Version": 2, "accepted": accepted, "payload": {}},
            "paymentRequirements": v2_requirement(),
        }))
        .unwrap_err();
        assert_eq!(error.reason, "invalid_payment_requirements");
    }

    #[test]
    fn a_v1_request_maps_plain_network_names_to_caip2() {
        let parsed = request(json!({
            "x402Version": 1,
            "paymentPayload": {"x402Version": 1, "scheme": "exact", "network": "solana-devnet", "payload": {}},
            "paymentRequirements": {
                "scheme": "exact", "network": "solana-devnet", "maxAmountRequired": "5",
                "resource": "https://api.example/x", "description": "", "mimeType": "",
                "payTo": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", "maxTimeoutSeconds": 60,
                "asset": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
            },
        }))
        .unwrap();
        assert_eq!(parsed.requirement.network, SOLANA_DEVNET);
        assert_eq!(
            parsed.requirement.resource.as_deref(),
            Some("https://api.example/x")
        );
    }

    #[test]
    fn unknown_versions_and_bad_amounts_get_their_reason_codes() {
        let error = request(json!({
            "x402Version": 3, "paymentPayload": {}, "paymentRequirements": {}
        }))
        .unwrap_err();
        assert_eq!(error.reason, "invalid_x402_version");
        for amount in ["", "0", "-1", "1.5", "99999999999999999999999", "0x10"] {
            assert!(parse_amount(amount).is_err(), "{amount}");
        }
    }

    #[test]
    fn networks_are_named_from_the_genesis_hash() {
        assert_eq!(
            caip2_network("5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d"),
            SOLANA_MAINNET
        );
        assert_eq!(v1_network_name(SOLANA_DEVNET), Some("solana-devnet"));
    }
}
