//! `paytab search`, `paytab show`, `paytab provider manifest|publish`, and
//! catalog names in `paytab curl`.

use std::path::Path;

use paytab_client::catalog::{manifest_from_gateway, CatalogClient, CatalogError, SearchRequest};
use paytab_protocol::amount::{format_units, parse_units};
use paytab_protocol::clock::unix_now;
use paytab_protocol::manifest::{pay_md, Publication};
use serde_json::{json, Value};
use solana_signer::Signer;

use crate::context::Context;
use crate::error::CliError;
use crate::output::emit;

impl From<CatalogError> for CliError {
    fn from(error: CatalogError) -> Self {
        match &error {
            CatalogError::Unreachable { .. } => CliError::new(error.to_string())
                .hint("start a facilitator (its catalog is on by default), or pass --catalog URL"),
            CatalogError::Refused {
                code,
                field,
                reasons,
                ..
            } => {
                let mut message = format!("{error} ({code})");
                if let Some(field) = field {
                    message.push_str(&format!("\nfield: {field}"));
                }
                for reason in reasons {
                    message.push_str(&format!("\n  - {reason}"));
                }
                CliError::new(message)
            }
            CatalogError::NotListed(_) => {
                CliError::new(error.to_string()).hint("find it with `paytab search WORDS`")
            }
            CatalogError::Manifest(_) => CliError::new(error.to_string()),
        }
    }
}

/// A raw price as tokens (6 decimals: the catalog's stablecoins).
fn tokens(raw: Option<&str>, decimals: u8) -> String {
    match raw.and_then(|raw| raw.parse::<u64>().ok()) {
        Some(raw) => format_units(raw, decimals),
        None => "free".into(),
    }
}

/// `paytab search`.
pub async fn search(
    context: &Context,
    text: &str,
    category: Option<String>,
    max_price: Option<&str>,
    limit: u32,
) -> Result<(), CliError> {
    let catalog = CatalogClient::new(&context.catalog_url);
    let request = SearchRequest {
        text: text.to_string(),
        category,
        network: context.network_label.clone(),
        max_price: max_price.map(|price| parse_units(price, 6)).transpose()?,
        limit: Some(limit),
    };
    let results = catalog.search(&request).await?;
    let json = json!(results
        .iter()
        .map(|r| json!({
            "name": r.name, "title": r.title, "description": r.description,
            "category": r.category, "serviceUrl": r.service_url, "network": r.network,
            "asset": r.asset, "lowestPrice": r.lowest_price, "status": r.status,
            "statusReason": r.status_reason, "score": r.score,
        }))
        .collect::<Vec<_>>());
    emit(context, &json, || {
        if results.is_empty() {
            return format!("no service matches {text:?} in {}", catalog.url());
        }
        let mut out = String::new();
        for result in &results {
            let health = match &result.status_reason {
                Some(reason) => format!("  [stale: {reason}]"),
                None => String::new(),
            };
            out.push_str(&format!(
                "{:<20} {:<10} from {:>10}  {}{health}\n{:<20} {}\n",
                result.name,
                result.category,
                tokens(result.lowest_price.as_deref(), 6),
                result.title,
                "",
                result.description,
            ));
        }
        out.push_str("\nshow one with `paytab show NAME`; call it with `paytab curl NAME/PATH`");
        out
    });
    Ok(())
}

/// `paytab show NAME`.
pub async fn show(context: &Context, name: &str) -> Result<(), CliError> {
    let catalog = CatalogClient::new(&context.catalog_url);
    let service = catalog.service(name).await?;
    emit(context, &service, || describe(&service));
    Ok(())
}

fn describe(service: &Value) -> String {
    let decimals = service["decimals"]
        .as_u64()
        .and_then(|d| u8::try_from(d).ok())
        .unwrap_or(6);
    let text = |value: &Value| value.as_str().unwrap_or("-").to_string();
    let mut out = format!(
        "{} — {}\n{}\n",
        text(&service["name"]),
        text(&service["title"]),
        text(&service["description"])
    );
    if let Some(use_case) = service["useCase"].as_str() {
        out.push_str(&format!("use it for: {use_case}\n"));
    }
    out.push_str(&format!("\nservice     {}\n", text(&service["serviceUrl"])));
    if let Some(sandbox) = service["sandboxServiceUrl"].as_str() {
        out.push_str(&format!("sandbox     {sandbox}\n"));
    }
    out.push_str(&format!(
        "category    {}\nnetwork     {}\nasset       {} ({decimals} decimals)\npays        {}\nschemes     {}\nfacilitator {}\n",
        text(&service["category"]),
        text(&service["network"]),
        text(&service["asset"]),
        text(&service["payTo"]),
        service["schemes"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        text(&service["facilitator"]),
    ));
    let health = &service["health"];
    out.push_str(&format!(
        "health      {}{} (probed at {})\n\nendpoints\n",
        text(&health["status"]),
        health["reason"]
            .as_str()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default(),
        paytab_protocol::clock::rfc3339(health["probedAt"].as_i64().unwrap_or_default()),
    ));
    for endpoint in service["endpoints"].as_array().into_iter().flatten() {
        let price = match endpoint["access"].as_str() {
            Some("paid") => tokens(endpoint["price"].as_str(), decimals),
            Some("sign-in") => "sign-in".into(),
            _ => "free".into(),
        };
        out.push_str(&format!(
            "  {:<6} {:<28} {:>10}  {}\n",
            text(&endpoint["method"]),
            text(&endpoint["path"]),
            price,
            text(&endpoint["description"])
        ));
    }
    if let Some(usage) = service["usage"].as_str().filter(|usage| !usage.is_empty()) {
        out.push_str(&format!("\n{usage}\n"));
    }
    out.push_str(&format!(
        "\nsigned by {} at {}",
        text(&service["publication"]["signer"]),
        paytab_protocol::clock::rfc3339(
            service["publication"]["publishedAt"]
                .as_i64()
                .unwrap_or_default()
        ),
    ));
    out
}

/// `paytab provider manifest GATEWAY_URL`: the gateway's own description as a `PAY.md`.
pub async fn manifest(
    context: &Context,
    gateway_url: &str,
    output: Option<&Path>,
) -> Result<(), CliError> {
    let manifest = manifest_from_gateway(gateway_url).await?;
    let text = pay_md::render(&manifest);
    match output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|error| {
                CliError::new(format!("cannot write {}: {error}", path.display()))
            })?;
            emit(
                context,
                &json!({"written": path.display().to_string()}),
                || {
                    format!(
                        "wrote {} ({} endpoints); publish it with `paytab provider publish {}`",
                        path.display(),
                        manifest.endpoints.len(),
                        path.display()
                    )
                },
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `paytab provider publish FILE`: signs the manifest with the wallet and
/// publishes it; the catalog probes every endpoint before listing it.
pub async fn publish(context: &Context, file: &Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| CliError::new(format!("cannot read {}: {error}", file.display())))?;
    let manifest = pay_md::parse(&text)
        .map_err(|error| CliError::new(format!("{}: {error}", file.display())))?;
    let wallet = context.wallet()?;
    if wallet.pubkey() != manifest.pay_to {
        return Err(CliError::new(format!(
            "the wallet is {}, but the manifest pays {}: only the payee can publish it",
            wallet.pubkey(),
            manifest.pay_to
        ))
        .hint("pass the payee's keypair with --keypair"));
    }
    let publication = Publication::sign(&manifest, unix_now(), |message| {
        (wallet.pubkey(), wallet.sign_message(message).into())
    });
    let catalog = CatalogClient::new(&context.catalog_url);
    let listing = catalog.publish(&publication).await?;
    emit(context, &listing, || {
        format!(
            "listed {} in {}: every endpoint answered as listed ({} probed)",
            manifest.name,
            catalog.url(),
            manifest.endpoints.len()
        )
    });
    Ok(())
}

/// A `paytab curl` target: a URL as is, or `NAME/path` of a catalog service.
pub async fn resolve_target(context: &Context, target: &str) -> Result<String, CliError> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return Ok(target.to_string());
    }
    let (name, rest) = target.split_once('/').unwrap_or((target, ""));
    let is_name = name.len() >= 2
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !is_name {
        return Err(CliError::new(format!(
            "`{target}` is not a URL (http:// or https://…) nor a catalog service (NAME/path)"
        )));
    }
    let catalog = CatalogClient::new(&context.catalog_url);
    let service = catalog.service(name).await.map_err(|error| match error {
        CatalogError::NotListed(_) => CliError::new(format!(
            "`{target}` is neither a URL nor a service in the catalog at {}",
            catalog.url()
        ))
        .hint("give a full http(s) URL, or find the service with `paytab search WORDS`"),
        CatalogError::Unreachable { message, .. } => CliError::new(format!(
            "`{target}` is not a URL, and the catalog at {} cannot be asked for a service named {name}: {message}",
            catalog.url()
        ))
        .hint("give a full http(s) URL, or pass --catalog URL (PAYTAB_CATALOG)"),
        other => other.into(),
    })?;
    let service_url = service["serviceUrl"]
        .as_str()
        .ok_or_else(|| CliError::new(format!("the catalog lists {name} without a serviceUrl")))?;
    if !context.json {
        let health = match service["health"]["reason"].as_str() {
            Some(reason) => format!(" — stale: {reason}"),
            None => String::new(),
        };
        eprintln!(
            "* {name} is {service_url} (catalog {}){health}",
            catalog.url()
        );
    }
    Ok(format!("{}/{rest}", service_url.trim_end_matches('/')))
}
