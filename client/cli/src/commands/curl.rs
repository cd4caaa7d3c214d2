//! `paytab curl`: a request that pays when asked, within the spending policy.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use paytab_client::offers::{OfferKind, PaymentRequired};
use paytab_client::pay::{Confirm, Fetched, PaidRequest, Payer};
use paytab_protocol::amount::format_units;
use reqwest::Method;
use serde_json::{json, Value};

use crate::context::Context;
use crate::error::CliError;

/// `paytab curl`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CurlArgs {
    /// The URL to request, or a catalog service and path (`quotes/v1/quotes/SOL`)
    #[arg(value_name = "URL")]
    pub target: String,
    /// HTTP method
    #[arg(short = 'X', long = "request", default_value = "GET")]
    pub method: String,
    /// Extra header, `Name: value` (repeatable)
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body (`@file` reads a file); implies POST unless -X says otherwise
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// Write the body to this file instead of standard output
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Print the status line and headers before the body
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Describe the payment on standard error
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Show the price and stop (nothing is paid)
    #[arg(long)]
    pub dry_run: bool,
    /// Pay only with this scheme
    #[arg(long, value_parser = ["escrow", "exact", "mpp"])]
    pub scheme: Option<String>,
    /// The escrow's owner, when --keypair is that escrow's session key
    #[arg(long)]
    pub owner: Option<solana_pubkey::Pubkey>,
}

/// Runs `paytab curl`.
pub async fn run(context: &Context, args: &CurlArgs) -> Result<(), CliError> {
    let target = crate::commands::catalog::resolve_target(context, &args.target).await?;
    let request = build_request(args, &target)?;
    let payer = context
        .payer(terminal_confirm())
        .await?
        .prefer(args.scheme.as_deref().and_then(OfferKind::from_name))
        .for_owner(args.owner);
    if args.dry_run {
        let (fetched, quote) = payer.quote(&request).await?;
        let Some(quote) = quote else {
            if fetched
                .asked
                .as_ref()
                .is_some_and(|asked| asked.sign_in.is_some())
            {
                let text = format!(
                    "{} asks you to sign in with your wallet (x402 sign-in-with-x): nothing would be paid",
                    args.target
                );
                return print(context, &json!({"free": true, "signIn": true}), &text);
            }
            let text = format!(
                "free: {} answered {} without asking for payment",
                args.target, fetched.status
            );
            return print(
                context,
                &json!({"free": true, "status": fetched.status.as_u16()}),
                &text,
            );
        };
        let asked = fetched.asked.unwrap_or_default();
        let offers = describe_offers(&asked, &payer).await;
        let text = format!(
            "{} {} costs {}\n{offers}\n(dry run: nothing was paid)",
            request.method,
            args.target,
            quote.describe()
        );
        return print(
            context,
            &json!({
                "free": false,
                "amount": quote.offer.amount.to_string(),
                "decimals": quote.decimals,
                "asset": quote.offer.asset.to_string(),
                "payTo": quote.offer.pay_to.to_string(),
                "scheme": quote.offer.kind.name(),
            }),
            &text,
        );
    }
    let fetched = payer.fetch(&request).await?;
    if args.verbose {
        if let Some(asked) = &fetched.asked {
            eprintln!("* 402 offered:\n{}", describe_offers(asked, &payer).await);
        }
    }
    if let Some(address) = &fetched.signed_in {
        if !context.json {
            eprintln!("* signed in as {address} (x402 sign-in: nothing was paid)");
        }
    }
    if let Some(payment) = &fetched.payment {
        if !context.json {
            eprintln!(
                "* paid {} via {} to {} ({})",
                format_units(payment.amount, payment.decimals),
                payment.scheme,
                payment.pay_to,
                payment.reference
            );
        }
    }
    write_response(context, args, &fetched)
}

fn build_request(args: &CurlArgs, target: &str) -> Result<PaidRequest, CliError> {
    let mut method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::new(format!("`{}` is not an HTTP method", args.method)))?;
    let mut headers = Vec::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| CliError::new(format!("header `{header}` is not `Name: value`")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let body = match &args.data {
        None => None,
        Some(data) => {
            if method == Method::GET && args.method.eq_ignore_ascii_case("get") {
                method = Method::POST;
            }
            Some(match data.strip_prefix('@') {
                Some(file) => std::fs::read(file)
                    .map_err(|error| CliError::new(format!("cannot read {file}: {error}")))?,
                None => data.clone().into_bytes(),
            })
        }
    };
    reqwest::Url::parse(target)
        .map_err(|error| CliError::new(format!("`{target}` is not a URL: {error}")))?;
    Ok(PaidRequest {
        method,
        url: target.to_string(),
        headers,
        body,
    })
}

/// Every offer of a 402, one per line, in tokens where `payer` can read the
/// token's decimals (raw units otherwise).
pub async fn describe_offers(asked: &PaymentRequired, payer: &Payer) -> String {
    let mut lines = Vec::with_capacity(asked.offers.len());
    for offer in &asked.offers {
        let amount = match payer.offer_decimals(offer).await {
            Some(decimals) => format_units(offer.amount, decimals),
            None => format!("{} raw units", offer.amount),
        };
        lines.push(format!(
            "  - {}: {amount} of {} to {} on {}",
            offer.kind.name(),
            offer.asset,
            offer.pay_to,
            offer.network
        ));
    }
    lines.extend(
        asked
            .unreadable
            .iter()
            .map(|reason| format!("  - (not usable) {reason}")),
    );
    if asked.sign_in.is_some() {
        lines.push(
            "  - sign in with a wallet (x402 sign-in-with-x): authentication, not a payment".into(),
        );
    }
    lines.join("\n")
}

fn write_response(context: &Context, args: &CurlArgs, fetched: &Fetched) -> Result<(), CliError> {
    if context.json {
        let body = match std::str::from_utf8(&fetched.body) {
            Ok(text) => json!(text),
            Err(_) => {
                json!({"base64": base64::engine::general_purpose::STANDARD.encode(&fetched.body)})
            }
        };
        let headers: serde_json::Map<String, Value> = fetched
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or_default())))
            .collect();
        println!(
            "{}",
            json!({
                "status": fetched.status.as_u16(),
                "headers": headers,
                "body": body,
                "payment": fetched.payment,
                "signedIn": fetched.signed_in.map(|address| address.to_string()),
            })
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if args.include {
        writeln!(out, "HTTP/1.1 {}", fetched.status)?;
        for (name, value) in &fetched.headers {
            writeln!(out, "{name}: {}", value.to_str().unwrap_or("<binary>"))?;
        }
        writeln!(out)?;
    }
    match &args.output {
        Some(path) => std::fs::write(path, &fetched.body)
            .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display())))?,
        None => {
            out.write_all(&fetched.body)?;
            if !fetched.body.ends_with(b"\n") {
                writeln!(out)?;
            }
        }
    }
    if !fetched.status.is_success() {
        return Err(CliError::new(format!(
            "the server answered {}",
            fetched.status
        )));
    }
    Ok(())
}

fn print(context: &Context, json: &Value, text: &str) -> Result<(), CliError> {
    crate::output::emit(context, json, || text.to_string());
    Ok(())
}

/// Asks on the terminal; refuses when standard input is not one.
pub fn terminal_confirm() -> Confirm {
    Arc::new(|question: &str| {
        if !std::io::stdin().is_terminal() {
            eprintln!("* {question} — refused: confirmation needs a terminal");
            return false;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).is_ok()
            && matches!(answer.trim(), "y" | "Y" | "yes")
    })
}
