//! `paytab mcp --upstream URL`: a remote MCP server (streamable HTTP) whose
//! tools are offered to the agent as if they were paytab's, and paid for
//! when they ask: x402's MCP transport (a tool error whose structured
//! content is a `PaymentRequired`; paid again with `_meta["x402/payment"]`)
//! or MPP's (JSON-RPC error `-32042` with `data.challenges`; paid again with
//! `_meta["org.paymentauth/credential"]`).
//!
//! Every payment goes through the same policy, confirmation and ledger as
//! `fetch`. At most one payment per call: a server that asks again after
//! being paid is answered with a refusal, never with a second payment.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab_client::offers::{parse_payment_required, OfferKind, PaymentRequired};
use paytab_client::pay::{PaidRequest, Payer, Quote};
use paytab_protocol::amount::format_units;
use paytab_protocol::manifest::publication::canonical_json;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::Method;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, JsonObject, MetaObject, RequestMetaObject,
    Tool,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};

use super::agent::{decide, Approval, ToolError};

/// MPP's JSON-RPC code for "payment required".
pub const MPP_PAYMENT_REQUIRED: i32 = -32042;
/// The `_meta` key of an x402 payment.
const X402_PAYMENT: &str = "x402/payment";
/// The `_meta` key of an x402 settlement.
const X402_PAYMENT_RESPONSE: &str = "x402/payment-response";
/// The `_meta` key of an MPP credential.
const MPP_CREDENTIAL: &str = "org.paymentauth/credential";
/// The `_meta` key of an MPP receipt.
const MPP_RECEIPT: &str = "org.paymentauth/receipt";

/// A connected upstream MCP server and its tools.
pub struct Upstream {
    url: String,
    client: RunningService<RoleClient, ()>,
    tools: Vec<Tool>,
}

/// What the server asked to be paid, as it asked.
enum Asked {
    /// x402: the `PaymentRequired` object.
    X402(Value),
    /// MPP: the challenges (their `request` is JSON, not base64url).
    Mpp(Vec<Value>),
}

/// The x402 `PaymentRequired` a tool result carries, if it is one.
fn x402_required(result: &CallToolResult) -> Option<Value> {
    if result.is_error != Some(true) {
        return None;
    }
    let is_required =
        |value: &Value| value["x402Version"].is_number() && value["accepts"].is_array();
    if let Some(structured) = result
        .structured_content
        .as_ref()
        .filter(|v| is_required(v))
    {
        return Some(structured.clone());
    }
    result.content.iter().find_map(|block| {
        let text = &block.as_text()?.text;
        let start = text.find('{')?;
        serde_json::from_str::<Value>(&text[start..])
            .ok()
            .filter(is_required)
    })
}

impl Upstream {
    /// Connects to the MCP server at `url` and lists its tools.
    pub async fn connect(url: &str) -> Result<Self, String> {
        // rmcp's HTTP client (reqwest 0.13) takes rustls without a crypto
        // provider: install ring, the one the rest of paytab uses (a no-op
        // when one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let transport = StreamableHttpClientTransport::from_uri(url.to_string());
        let client = ()
            .serve(transport)
            .await
            .map_err(|error| format!("cannot connect to the MCP server at {url}: {error}"))?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|error| format!("{url} did not list its tools: {error}"))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_string(),
            client,
            tools,
        })
    }

    /// Its tools (their names must not clash with paytab's own).
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Whether it has a tool named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.tools.iter().any(|tool| tool.name == name)
    }

    async fn send(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
        meta: Option<(&str, Value)>,
    ) -> Result<Result<CallToolResult, Asked>, ToolError> {
        let mut params = CallToolRequestParams::new(name.to_string());
        params.arguments = arguments;
        if let Some((key, value)) = meta {
            let mut object = JsonObject::new();
            object.insert(key.to_string(), value);
            params.meta = Some(RequestMetaObject(MetaObject(object)));
        }
        match self.client.call_tool(params).await {
            Ok(result) => Ok(match x402_required(&result) {
                Some(required) => Err(Asked::X402(required)),
                None => Ok(result),
            }),
            Err(ServiceError::McpError(error)) if error.code.0 == MPP_PAYMENT_REQUIRED => {
                let challenges = error
                    .data
                    .as_ref()
                    .and_then(|data| data["challenges"].as_array())
                    .cloned()
                    .unwrap_or_default();
                Ok(Err(Asked::Mpp(challenges)))
            }
            Err(ServiceError::McpError(error)) => Err(ToolError(format!(
                "the upstream tool {name} failed ({}): {}",
                error.code.0, error.message
            ))),
            Err(error) => Err(ToolError(format!(
                "the upstream MCP server failed: {error}"
            ))),
        }
    }

    /// Calls `name`; pays once if asked and allowed (`ask` puts a payment the
    /// policy wants confirmed to the person).
    pub async fn call<F, Fut>(
        &self,
        payer: &Payer,
        name: &str,
        arguments: Option<JsonObject>,
        ask: F,
    ) -> Result<CallToolResult, ToolError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Approval>,
    {
        let asked = match self.send(name, arguments.clone(), None).await? {
            Ok(result) => return Ok(result),
            Err(asked) => asked,
        };
        // The policy judges the call as a request to the server, per tool.
        let request = PaidRequest {
            method: Method::POST,
            url: format!("{}#tool={name}", self.url),
            headers: Vec::new(),
            body: None,
        };
        let required = offers_of(&asked);
        let quote = payer.choose(&required).await?;
        decide(payer.judge(&request, &quote).await?, ask).await?;
        let meta = match &asked {
            Asked::X402(required) => (
                X402_PAYMENT,
                payer
                    .x402_tool_payment(&quote, &required["resource"])
                    .await?,
            ),
            Asked::Mpp(challenges) => {
                let chosen = quote
                    .offer
                    .mpp
                    .as_ref()
                    .and_then(|params| challenges.iter().find(|c| c["id"] == params.id.as_str()))
                    .ok_or_else(|| ToolError("the chosen MPP challenge is gone".into()))?;
                (
                    MPP_CREDENTIAL,
                    payer.mpp_tool_credential(&quote, chosen).await?,
                )
            }
        };
        let result = match self.send(name, arguments, Some(meta)).await? {
            Ok(result) => result,
            Err(_) => {
                return Err(ToolError(format!(
                    "{name} asked for payment again after a payment was sent; not paying twice \
                     (the first payment may have been charged: see `history`)"
                )))
            }
        };
        self.finish(payer, name, &quote, result).await
    }

    /// Records the payment (when the result shows it was charged) and says
    /// what was paid in the result's `_meta`.
    async fn finish(
        &self,
        payer: &Payer,
        name: &str,
        quote: &Quote,
        mut result: CallToolResult,
    ) -> Result<CallToolResult, ToolError> {
        let meta = result.meta.as_ref().map(|meta| &meta.0);
        let settlement = meta.and_then(|meta| meta.get(X402_PAYMENT_RESPONSE));
        let receipt = meta.and_then(|meta| meta.get(MPP_RECEIPT));
        let charged = settlement.is_some_and(|s| s["success"] == true)
            || receipt.is_some_and(|r| r["status"] == "success")
            || result.is_error != Some(true);
        if !charged {
            return Ok(result);
        }
        let reference = settlement
            .and_then(|s| s["transaction"].as_str())
            .or_else(|| receipt.and_then(|r| r["reference"].as_str()))
            .unwrap_or_default()
            .to_string();
        let record = payer
            .record_tool_payment(&format!("{}#tool={name}", self.url), quote, reference)
            .await?;
        let paid = json!({
            "price": format_units(record.amount, record.decimals),
            "asset": record.asset,
            "payTo": record.pay_to,
            "scheme": record.scheme,
            "reference": record.reference,
        });
        result
            .meta
            .get_or_insert_with(|| MetaObject(JsonObject::new()))
            .0
            .insert("paytab/paid".into(), paid.clone());
        result.content.push(ContentBlock::text(format!(
            "[paytab] paid {} via {} for {name}",
            paid["price"].as_str().unwrap_or_default(),
            record.scheme
        )));
        Ok(result)
    }

    /// Disconnects.
    pub async fn close(self) {
        let _ = self.client.cancel().await;
    }
}

/// The offers a paytab payer can weigh, read as the HTTP 402 parsers read
/// them: x402 as a `PAYMENT-REQUIRED` header; Solana charge challenges as
/// `WWW-Authenticate: Payment` (their `request` re-encoded as base64url of
/// its canonical JSON). Escrow receipts are left out (HTTP only).
fn offers_of(asked: &Asked) -> PaymentRequired {
    let mut headers = HeaderMap::new();
    match asked {
        Asked::X402(required) => {
            if let Ok(value) = HeaderValue::from_str(&STANDARD.encode(required.to_string())) {
                headers.insert("payment-required", value);
            }
        }
        Asked::Mpp(challenges) => {
            for challenge in challenges {
                let request = URL_SAFE_NO_PAD.encode(canonical_json(&challenge["request"]));
                let mut value = format!("Payment request=\"{request}\"");
                for field in ["id", "realm", "method", "intent", "expires", "opaque"] {
                    if let Some(text) = challenge[field].as_str() {
                        value.push_str(&format!(", {field}=\"{text}\""));
                    }
                }
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.append(WWW_AUTHENTICATE, value);
                }
            }
        }
    }
    let mut required = parse_payment_required(&headers, b"");
    required
        .offers
        .retain(|offer| offer.kind != OfferKind::Escrow);
    required
}
