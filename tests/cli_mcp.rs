//! `paytab mcp` through the official Rust MCP SDK's client, in process,
//! against the world's localnet, facilitator, catalog and gateway: the tools
//! and their schemas, search → quote → fetch paid by escrow receipt and by
//! `exact`, the policy's refusals, confirmation by elicitation (approved,
//! declined, impossible), the ledger, and malformed arguments.

use std::sync::{Arc, Mutex};

use paytab_cli::commands::mcp::agent;
use paytab_cli::context::{Context, GlobalArgs};
use paytab_cli::mcp::PaytabMcp;
use paytab_cli::world::World;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::{json, Value};

use super::User;

/// The person at the MCP client: answers confirmations (`None`: the client
/// cannot ask, no elicitation) and remembers what it was asked.
#[derive(Clone, Default)]
pub(crate) struct Person {
    answer: Option<bool>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.answer {
            Some(_) => ClientCapabilities::builder().enable_elicitation().build(),
            None => ClientCapabilities::default(),
        };
        ClientConfig::new(capabilities, Implementation::new("test-person", "0.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let message = match &request {
            ElicitRequestParams::FormElicitationParams { message, .. } => message.clone(),
            _ => String::new(),
        };
        self.asked.lock().unwrap().push(message);
        Ok(ElicitResult::new(ElicitationAction::Accept)
            .with_content(json!({"approve": self.answer.unwrap_or(false)})))
    }
}

pub(crate) type Client = RunningService<RoleClient, Person>;

/// `paytab mcp` for `user`'s wallet, ledger and policy, connected to `person`.
async fn connect(world: &World, user: &User, person: Person) -> Client {
    connect_server(world, user, person, |server| server).await
}

/// The same, with the server adjusted by `adjust` (e.g. given an upstream).
pub(crate) async fn connect_server(
    world: &World,
    user: &User,
    person: Person,
    adjust: impl FnOnce(PaytabMcp) -> PaytabMcp,
) -> Client {
    let context = Context::resolve(&GlobalArgs {
        url: Some(user.rpc_url.clone()),
        keypair: Some(user.keypair()),
        home: Some(user.paytab_home()),
        catalog: world.facilitator.url(),
        ..GlobalArgs::default()
    })
    .unwrap();
    let agent = agent(&context, None, None, 1024).await.unwrap();
    let (server_side, client_side) = tokio::io::duplex(1 << 16);
    let server = adjust(PaytabMcp::new(agent));
    tokio::spawn(async move {
        if let Ok(server) = server.serve(server_side).await {
            let _ = server.waiting().await;
        }
    });
    person.serve(client_side).await.unwrap()
}

/// Calls `tool` with `arguments`.
pub(crate) async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    client.call_tool(params).await.unwrap()
}

/// A successful call's structured answer.
pub(crate) async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{tool} {arguments}: {result:?}"
    );
    result.structured_content.unwrap()
}

/// A refused call's message.
pub(crate) async fn refused(client: &Client, tool: &str, arguments: Value) -> String {
    let result = call(client, tool, arguments.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} {arguments}: {result:?}"
    );
    format!("{:?}", result.content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_lists_its_tools_each_with_a_schema_and_a_description_for_models() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let client = connect(&world, &user, Person::default()).await;
    let tools = client.list_tools(Default::default()).await.unwrap().tools;
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "balance",
            "budget",
            "fetch",
            "get_service",
            "history",
            "quote",
            "search_services"
        ]
    );
    for tool in &tools {
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 60),
            "{} needs a description a model can act on",
            tool.name
        );
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            tool.name
        );
    }
    let fetch = tools.iter().find(|tool| tool.name == "fetch").unwrap();
    assert_eq!(fetch.input_schema.get("required"), Some(&json!(["url"])));
    assert!(fetch.input_schema["properties"]
        .as_object()
        .is_some_and(|p| p.contains_key("method")
            && p.contains_key("headers")
            && p.contains_key("body")));
    client.cancel().await.unwrap();
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_searches_quotes_and_pays_by_escrow_receipt_or_exact_and_the_ledger_records_it() {
    let world = World::start().await.unwrap();
    world.publish_sample_api().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let client = connect(&world, &user, Person::default()).await;

    let found = ok(
        &client,
        "search_services",
        json!({"query": "crypto price quote"}),
    )
    .await;
    assert_eq!(found["results"][0]["name"], "quotes");
    assert_eq!(found["results"][0]["cheapestCall"], "0.01");
    let service = ok(&client, "get_service", json!({"name": "quotes"})).await;
    assert_eq!(service["health"]["status"], "live");

    let quote = ok(&client, "quote", json!({"url": "quotes/v1/quotes/SOL"})).await;
    assert_eq!(quote["price"], "0.01");
    assert_eq!(quote["scheme"], "escrow");
    assert_eq!(quote["policy"]["decision"], "pay");
    assert_eq!(
        ok(&client, "history", json!({})).await["payments"],
        json!([]),
        "a quote pays nothing"
    );

    let fetched = ok(&client, "fetch", json!({"url": "quotes/v1/quotes/SOL"})).await;
    assert_eq!(fetched["status"], 200);
    assert_eq!(fetched["paid"]["scheme"], "escrow");
    assert_eq!(fetched["body"]["untrusted"], true);
    assert!(fetched["body"]["text"]
        .as_str()
        .unwrap()
        .contains("\"symbol\":\"SOL\""));

    let balance = ok(&client, "balance", json!({})).await;
    assert_eq!(balance["allowances"][0]["signed"], "0.01");
    assert_eq!(balance["allowances"][0]["remaining"], "0.99");
    assert_eq!(balance["escrow"]["free"], "4");

    // A wallet with no allowance pays the same call by an `exact` transfer.
    let plain = User::new(&world);
    plain.ok(&["wallet", "create"]).await;
    plain.ok(&["faucet", "--sol", "1", "--usdc", "1"]).await;
    let other = connect(&world, &plain, Person::default()).await;
    let fetched = ok(&other, "fetch", json!({"url": world.url("/v1/quotes/BTC")})).await;
    assert_eq!(fetched["paid"]["scheme"], "exact");
    assert!(
        fetched["paid"]["reference"].as_str().unwrap().len() > 80,
        "a transaction signature"
    );

    let history = ok(&client, "history", json!({})).await;
    assert_eq!(history["payments"].as_array().unwrap().len(), 1);
    assert_eq!(history["payments"][0]["scheme"], "escrow");
    let budget = ok(&client, "budget", json!({})).await;
    assert_eq!(budget["hosts"][0]["spentToday"], "0.01");
    client.cancel().await.unwrap();
    other.cancel().await.unwrap();
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_per_request_maximum_or_the_daily_budget_a_fetch_is_refused_with_the_reason_and_nothing_paid(
) {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    user.ok(&["policy", "set", "daily_budget_per_host", "0.015"])
        .await;
    let client = connect(&world, &user, Person::default()).await;

    let over_max = refused(&client, "fetch", json!({"url": world.url("/v1/report")})).await;
    assert!(over_max.contains("max_per_request"), "{over_max}");
    ok(
        &client,
        "fetch",
        json!({"url": world.url("/v1/quotes/SOL")}),
    )
    .await;
    let over_budget = refused(
        &client,
        "fetch",
        json!({"url": world.url("/v1/quotes/ETH")}),
    )
    .await;
    assert!(over_budget.contains("daily budget"), "{over_budget}");
    let history = ok(&client, "history", json!({})).await;
    assert_eq!(
        history["payments"].as_array().unwrap().len(),
        1,
        "only the first was paid"
    );
    client.cancel().await.unwrap();
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_confirmation_threshold_the_person_is_asked_and_their_answer_decides() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    user.ok(&["policy", "set", "confirm_above", "0.005"]).await;
    let url = world.url("/v1/quotes/SOL");

    let yes = Person {
        answer: Some(true),
        ..Person::default()
    };
    let approving = connect(&world, &user, yes.clone()).await;
    let quote = ok(&approving, "quote", json!({"url": url})).await;
    assert_eq!(quote["policy"]["decision"], "confirm");
    let paid = ok(&approving, "fetch", json!({"url": url})).await;
    assert_eq!(paid["paid"]["price"], "0.01");
    assert_eq!(yes.asked.lock().unwrap().len(), 1);
    assert!(
        yes.asked.lock().unwrap()[0].contains("0.01"),
        "{:?}",
        yes.asked
    );

    let no = Person {
        answer: Some(false),
        ..Person::default()
    };
    let declining = connect(&world, &user, no.clone()).await;
    let declined = refused(&declining, "fetch", json!({"url": url})).await;
    assert!(declined.contains("declined"), "{declined}");

    let cannot_ask = connect(&world, &user, Person::default()).await;
    let refusal = refused(&cannot_ask, "fetch", json!({"url": url})).await;
    assert!(refusal.contains("cannot ask a person"), "{refusal}");

    let history = ok(&approving, "history", json!({})).await;
    assert_eq!(
        history["payments"].as_array().unwrap().len(),
        1,
        "only the approved call was paid"
    );
    for client in [approving, declining, cannot_ask] {
        client.cancel().await.unwrap();
    }
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_tool_arguments_get_a_tool_error_and_the_server_keeps_serving() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let client = connect(&world, &user, Person::default()).await;
    for (tool, arguments) in [
        ("fetch", json!({"url": 5})),
        ("fetch", json!({})),
        (
            "fetch",
            json!({"url": "https://x.example", "colour": "red"}),
        ),
        ("fetch", json!({"url": "not a url"})),
        (
            "fetch",
            json!({"url": world.url("/health"), "method": "NOT A METHOD"}),
        ),
        (
            "search_services",
            json!({"query": "quotes", "max_price": "lots"}),
        ),
        ("search_services", json!({"limit": -1})),
        ("history", json!({"limit": "ten"})),
        ("get_service", json!({"name": "nosuch"})),
    ] {
        refused(&client, tool, arguments).await;
    }
    let free = ok(&client, "fetch", json!({"url": world.url("/health")})).await;
    assert_eq!(free["status"], 200);
    assert!(free["paid"].is_null());
    client.cancel().await.unwrap();
    world.shutdown().await;
}
