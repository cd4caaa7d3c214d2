//! Discovery without payment: `GET /openapi.json` (MPP's payment discovery:
//! `x-service-info`, and `x-payment-info` on each priced operation, which
//! also lists its 402), and the x402 bazaar extension a priced route's 402s
//! carry. Both come from the same configuration as the routes and prices, so
//! they cannot disagree with what the gateway charges.

use paytab_protocol::networks::v1_network_name;
use paytab_protocol::schemes;
use serde_json::{json, Map, Value};

use crate::config::{Access, PayScheme, PaymentTerms, Route, ServiceFile};
use crate::routes::PathPattern;

/// Methods whose input is a body (x402 bazaar: `bodyType` and `body`).
const BODY_METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];

fn method_of(route: &Route) -> String {
    match &route.method {
        crate::routes::MethodFilter::Any => "GET".into(),
        crate::routes::MethodFilter::Only(method) => method.clone(),
    }
}

/// The values of `pattern`'s parameters in `example` (empty without one).
fn path_params(pattern: &PathPattern, example: Option<&str>) -> Map<String, Value> {
    let mut params = Map::new();
    let examples: Vec<&str> = example
        .map(|example| example.trim_start_matches('/').split('/').collect())
        .unwrap_or_default();
    for (index, segment) in pattern
        .as_str()
        .trim_start_matches('/')
        .split('/')
        .enumerate()
    {
        if let Some(name) = segment.strip_prefix(':') {
            let value = examples.get(index).copied().unwrap_or_default();
            params.insert(name.to_string(), json!(value));
        }
    }
    params
}

/// The x402 bazaar `extensions.bazaar` of a priced route: how to call it
/// (`info`) and the JSON Schema of that (`schema`), plus `routeTemplate` for
/// a route with parameters.
pub fn bazaar_extension(route: &Route) -> Option<Value> {
    let Access::Priced { mime_type, .. } = &route.access else {
        return None;
    };
    let method = method_of(route);
    let has_body = BODY_METHODS.contains(&method.as_str());
    let mut input = json!({"type": "http", "method": method});
    let mut properties = json!({
        "type": {"type": "string", "const": "http"},
        "method": {"type": "string", "enum": [method]},
        "queryParams": {"type": "object", "additionalProperties": {"type": "string"}},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    });
    let mut required = vec!["type", "method"];
    if has_body {
        input["bodyType"] = json!("json");
        input["body"] = json!({});
        properties["bodyType"] = json!({"type": "string", "enum": ["json", "form-data", "text"]});
        properties["body"] = json!({"type": "object"});
        required.extend(["bodyType", "body"]);
    }
    let parameters = route.path.parameters();
    if !parameters.is_empty() {
        input["pathParams"] =
            Value::Object(path_params(&route.path, route.example_path.as_deref()));
        let names: Map<String, Value> = parameters
            .iter()
            .map(|name| (name.to_string(), json!({"type": "string"})))
            .collect();
        properties["pathParams"] = json!({
            "type": "object", "properties": names, "required": parameters,
        });
        required.push("pathParams");
    }
    let output_type = if mime_type.contains("json") {
        "json"
    } else {
        "text"
    };
    let mut extension = json!({
        "info": {"input": input, "output": {"type": output_type}},
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "input": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                },
                "output": {
                    "type": "object",
                    "properties": {"type": {"type": "string"}, "example": {}},
                    "required": ["type"],
                },
            },
            "required": ["input"],
        },
    });
    if route.path.is_template() {
        extension["routeTemplate"] = json!(route.path.as_str());
    }
    Some(extension)
}

/// `/v1/quotes/:symbol` as OpenAPI writes it: `/v1/quotes/{symbol}`.
fn openapi_path(pattern: &PathPattern) -> String {
    pattern
        .as_str()
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None if segment == "*" => "{rest}".to_string(),
            None => segment.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn scheme_names(terms: &PaymentTerms) -> Vec<&'static str> {
    terms
        .schemes
        .iter()
        .map(|scheme| match scheme {
            PayScheme::Escrow => "escrow",
            PayScheme::Exact => schemes::EXACT,
            PayScheme::Mpp => "mpp",
        })
        .collect()
}

fn operation(route: &Route, terms: &PaymentTerms) -> Value {
    let mut parameters: Vec<Value> = route
        .path
        .parameters()
        .iter()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if route.path.as_str().ends_with('*') {
        parameters.push(
            json!({"name": "rest", "in": "path", "required": true, "schema": {"type": "string"}}),
        );
    }
    let mut operation = json!({
        "summary": route.description,
        "responses": {"200": {"description": "Successful response"}},
    });
    if !parameters.is_empty() {
        operation["parameters"] = json!(parameters);
    }
    if let Some(example) = &route.example_path {
        operation["x-paytab-example-path"] = json!(example);
    }
    match &route.access {
        Access::Priced { price, .. } => {
            operation["x-payment-info"] = json!({"offers": [{
                "intent": "charge",
                "method": "solana",
                "amount": price.to_string(),
                "currency": terms.asset.to_string(),
                "description": route.description,
            }]});
            operation["x-paytab-access"] = json!("paid");
            operation["responses"]["402"] = json!({"description": "Payment Required"});
        }
        Access::SignIn => {
            operation["x-paytab-access"] = json!("sign-in");
            operation["responses"]["402"] =
                json!({"description": "Sign-in required (x402 sign-in-with-x)"});
        }
        Access::Free => operation["x-paytab-access"] = json!("free"),
    }
    operation
}

/// The gateway's `GET /openapi.json`.
pub fn openapi(
    service: Option<&ServiceFile>,
    routes: &[Route],
    terms: &PaymentTerms,
    public_url: &str,
    facilitator_url: &str,
) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let entry = paths
            .entry(openapi_path(&route.path))
            .or_insert_with(|| json!({}));
        entry[method_of(route).to_ascii_lowercase()] = operation(route, terms);
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": service.map_or("paytab gateway", |s| s.title.as_str()),
            "version": service.map_or("1.0.0", |s| s.version.as_str()),
        },
        "servers": [{"url": public_url}],
        "paths": paths,
        "x-paytab": {
            "network": terms.network,
            "networkV1": v1_network_name(&terms.network),
            "asset": terms.asset.to_string(),
            "decimals": terms.decimals,
            "payTo": terms.pay_to.to_string(),
            "schemes": scheme_names(terms),
            "facilitator": facilitator_url,
        },
    });
    if let Some(service) = service {
        document["info"]["description"] = json!(service.description);
        let mut info = json!({"categories": [service.category]});
        if let Some(docs) = &service.docs_url {
            info["docs"] = json!({"homepage": docs});
        }
        document["x-service-info"] = info;
        let paytab = &mut document["x-paytab"];
        paytab["name"] = json!(service.name);
        paytab["category"] = json!(service.category);
        paytab["useCase"] = json!(service.use_case);
        paytab["sandboxServiceUrl"] = json!(service.sandbox_url);
        paytab["usage"] = json!(service.usage);
    }
    document
}
