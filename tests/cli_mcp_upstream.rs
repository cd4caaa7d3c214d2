//! `paytab mcp --upstream`: a remote MCP server (streamable HTTP, the
//! official Rust SDK) whose tools answer x402's MCP "payment required" or
//! MPP's `-32042`; the agent calls them through paytab, which pays once under
//! the policy, records the payment, and never pays twice for one call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use paytab_cli::mcp::upstream::Upstream;
use paytab_cli::mcp::PaytabMcp;
use paytab_cli::world::{World, QUOTE_PRICE};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, ErrorCode, Implementation, JsonObject, MetaObject,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use solana_signer::Signer;

use super::mcp::{call, connect_server, ok, refused, Person};
use super::User;

/// The paid tool's arguments.
#[derive(Debug, Deserialize, JsonSchema)]
struct SymbolArgs {
    /// A symbol.
    symbol: String,
}

/// A paid MCP server: `premium_quote` costs one quote, settled through the
/// world's facilitator; `greedy` asks for payment whatever it is sent.
#[derive(Clone)]
struct PaidServer {
    requirement: Value,
    facilitator: String,
    api_key: String,
    settled: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    tool_router: ToolRouter<PaidServer>,
}

impl PaidServer {
    /// The one MPP challenge `mpp_quote` issues (a Solana charge whose fees
    /// the facilitator pays), its request as JSON as MPP over MCP writes it.
    fn mpp_challenge(&self) -> Value {
        let requirement = &self.requirement;
        json!({
            "id": "ch-1", "realm": "paid-test-server", "method": "solana", "intent": "charge",
            "request": {
                "amount": requirement["amount"], "currency": requirement["asset"],
                "recipient": requirement["payTo"],
                "methodDetails": {
                    "network": paytab_protocol::networks::mpp_network_name(requirement["network"].as_str().unwrap()),
                    "decimals": 6, "feePayer": true, "feePayerKey": requirement["extra"]["feePayer"],
                    "tokenProgram": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
                },
            },
            "expires": "2099-01-01T00:00:00Z",
        })
    }

    /// Settles `payment` for this server's requirement at the facilitator.
    async fn settle(&self, payment: &Value) -> Result<Value, ErrorData> {
        let failed = |error: reqwest::Error| ErrorData::internal_error(error.to_string(), None);
        reqwest::Client::new()
            .post(format!("{}/settle", self.facilitator))
            .bearer_auth(&self.api_key)
            .json(&json!({"x402Version": 2, "paymentPayload": payment, "paymentRequirements": self.requirement}))
            .send()
            .await
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)
    }

    fn payment_required(&self, error: &str) -> CallToolResult {
        let required = json!({
            "x402Version": 2,
            "error": error,
            "resource": {"url": "mcp://tool/premium_quote", "description": "A premium quote", "mimeType": "application/json"},
            "accepts": [self.requirement],
        });
        let mut result = CallToolResult::structured_error(required);
        result.is_error = Some(true);
        result
    }
}

#[tool_router]
impl PaidServer {
    #[tool(description = "A premium quote for a symbol, paid per call (x402 over MCP).")]
    async fn premium_quote(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<SymbolArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Some(payment) = context.meta.0 .0.get("x402/payment").cloned() else {
            return Ok(self.payment_required("payment required"));
        };
        let settled = self.settle(&payment).await?;
        if settled["success"] != true {
            return Ok(self.payment_required(&format!("settlement failed: {settled}")));
        }
        self.settled.fetch_add(1, Ordering::SeqCst);
        let mut result = CallToolResult::success(vec![ContentBlock::text(format!(
            "{} is worth 187.42",
            args.symbol
        ))]);
        let mut meta = JsonObject::new();
        meta.insert("x402/payment-response".into(), settled);
        result.meta = Some(MetaObject(meta));
        Ok(result)
    }

    #[tool(description = "A quote paid by an MPP Solana charge (JSON-RPC error -32042).")]
    async fn mpp_quote(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Some(credential) = context.meta.0 .0.get("org.paymentauth/credential").cloned() else {
            return Err(ErrorData::new(
                ErrorCode(-32042),
                "Payment Required",
                Some(json!({"httpStatus": 402, "challenges": [self.mpp_challenge()]})),
            ));
        };
        if credential["challenge"] != self.mpp_challenge() {
            return Err(ErrorData::invalid_params(
                "the credential echoes another challenge",
                None,
            ));
        }
        let payment = json!({
            "x402Version": 2,
            "accepted": self.requirement,
            "payload": {"transaction": credential["payload"]["transaction"]},
        });
        let settled = self.settle(&payment).await?;
        if settled["success"] != true {
            return Err(ErrorData::new(
                ErrorCode(-32043),
                "Payment Verification Failed",
                Some(settled),
            ));
        }
        self.settled.fetch_add(1, Ordering::SeqCst);
        let mut meta = JsonObject::new();
        meta.insert(
            "org.paymentauth/receipt".into(),
            json!({"status": "success", "method": "solana", "timestamp": "2026-11-28T00:00:00Z",
                   "reference": settled["transaction"], "challengeId": "ch-1"}),
        );
        let mut result = CallToolResult::success(vec![ContentBlock::text("BTC is worth 97310")]);
        result.meta = Some(MetaObject(meta));
        Ok(result)
    }

    #[tool(description = "Asks for payment whatever it is sent.")]
    async fn greedy(&self) -> Result<CallToolResult, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.payment_required("payment required"))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PaidServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("paid-test-server", "0.0.0"))
    }
}

/// Serves `server` over streamable HTTP; its URL.
async fn serve(server: PaidServer) -> String {
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/mcp")
}

fn paid_server(world: &World) -> PaidServer {
    PaidServer {
        requirement: json!({
            "scheme": "exact",
            "network": world.localnet.info().network,
            "amount": QUOTE_PRICE.to_string(),
            "asset": world.localnet.info().usdc_mint.to_string(),
            "payTo": world.provider.pubkey().to_string(),
            "maxTimeoutSeconds": 60,
            "extra": {"feePayer": world.facilitator_key.pubkey().to_string()},
        }),
        facilitator: world.facilitator.url(),
        api_key: world.facilitator_api_key.clone(),
        settled: Arc::default(),
        calls: Arc::default(),
        tool_router: PaidServer::tool_router(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_tool_asking_x402_is_paid_once_under_the_policy_and_recorded() {
    let world = World::start().await.unwrap();
    let server = paid_server(&world);
    let (settled, calls) = (server.settled.clone(), server.calls.clone());
    let url = serve(server).await;
    let user = User::new(&world);
    user.ok(&["wallet", "create"]).await;
    user.ok(&["faucet", "--sol", "1", "--usdc", "1"]).await;
    let upstream = Upstream::connect(&url).await.unwrap();
    let client = connect_server(&world, &user, Person::default(), |server: PaytabMcp| {
        server.with_upstream(upstream)
    })
    .await;

    let tools = client.list_tools(Default::default()).await.unwrap().tools;
    assert!(tools.iter().any(|tool| tool.name == "premium_quote"));
    assert!(
        tools.iter().any(|tool| tool.name == "fetch"),
        "paytab's own tools stay"
    );

    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("premium_quote")
                .with_arguments(json!({"symbol": "SOL"}).as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert!(format!("{:?}", result.content).contains("SOL is worth 187.42"));
    let paid = &result.meta.as_ref().unwrap().0["paytab/paid"];
    assert_eq!(paid["price"], "0.01");
    assert_eq!(paid["scheme"], "exact");
    assert_eq!(
        (settled.load(Ordering::SeqCst), calls.load(Ordering::SeqCst)),
        (1, 2)
    );

    let history = ok(&client, "history", json!({})).await;
    assert_eq!(history["payments"].as_array().unwrap().len(), 1);
    assert!(history["payments"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("#tool=premium_quote"));
    assert_eq!(history["payments"][0]["reference"], paid["reference"]);

    let charged = call(&client, "mpp_quote", json!({})).await;
    assert_ne!(charged.is_error, Some(true), "{charged:?}");
    assert!(format!("{:?}", charged.content).contains("BTC is worth 97310"));
    let history = ok(&client, "history", json!({})).await;
    assert_eq!(history["payments"].as_array().unwrap().len(), 2);
    assert_eq!(history["payments"][0]["scheme"], "mpp");
    assert!(history["payments"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("#tool=mpp_quote"));
    assert!(
        history["payments"][0]["reference"].as_str().unwrap().len() > 80,
        "the charge's transaction"
    );
    assert_eq!(
        (settled.load(Ordering::SeqCst), calls.load(Ordering::SeqCst)),
        (2, 4)
    );

    let greedy = refused(&client, "greedy", json!({})).await;
    assert!(greedy.contains("not paying twice"), "{greedy}");
    assert_eq!(settled.load(Ordering::SeqCst), 2, "nothing more settled");
    client.cancel().await.unwrap();
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_tool_over_the_policy_is_refused_and_nothing_is_paid() {
    let world = World::start().await.unwrap();
    let server = paid_server(&world);
    let (settled, calls) = (server.settled.clone(), server.calls.clone());
    let url = serve(server).await;
    let user = User::new(&world);
    user.ok(&["wallet", "create"]).await;
    user.ok(&["faucet", "--sol", "1", "--usdc", "1"]).await;
    user.ok(&["policy", "set", "max_per_request", "0.001"])
        .await;
    let upstream = Upstream::connect(&url).await.unwrap();
    let client = connect_server(&world, &user, Person::default(), |server: PaytabMcp| {
        server.with_upstream(upstream)
    })
    .await;
    let refusal = refused(&client, "premium_quote", json!({"symbol": "SOL"})).await;
    assert!(refusal.contains("max_per_request"), "{refusal}");
    assert_eq!(
        (settled.load(Ordering::SeqCst), calls.load(Ordering::SeqCst)),
        (0, 1)
    );
    client.cancel().await.unwrap();
    world.shutdown().await;
}
