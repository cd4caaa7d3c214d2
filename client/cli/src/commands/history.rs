//! `paytab history` and `paytab policy`.

use paytab_client::ledger::Ledger;
use paytab_client::policy::SpendingPolicy;
use paytab_protocol::amount::format_units;
use paytab_protocol::clock::rfc3339;
use serde_json::json;

use crate::context::Context;
use crate::error::CliError;
use crate::output::emit;

/// `paytab history`: the newest payments first.
pub async fn history(context: &Context, limit: u32) -> Result<(), CliError> {
    let ledger = Ledger::open(&context.ledger_path()).await?;
    let payments = ledger.history(limit).await?;
    ledger.close().await;
    emit(context, &json!(payments), || {
        if payments.is_empty() {
            return "no payments yet".into();
        }
        payments
            .iter()
            .map(|payment| {
                format!(
                    "{}  {:>10}  {:<6}  {} {}  to {}  {}{}",
                    rfc3339(payment.at),
                    format_units(payment.amount, payment.decimals),
                    payment.scheme,
                    payment.method,
                    payment.url,
                    payment.pay_to,
                    payment.reference,
                    if payment.proof.is_some() {
                        "  (proof kept)"
                    } else {
                        ""
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// `paytab policy show`.
pub fn policy_show(context: &Context) -> Result<(), CliError> {
    let path = context.policy_path();
    let policy = SpendingPolicy::load(&path)?;
    let text = toml::to_string_pretty(&policy).map_err(|error| CliError::new(error.to_string()))?;
    emit(
        context,
        &json!({"file": path.display().to_string(), "exists": path.exists(), "policy": policy}),
        || {
            let origin = if path.exists() {
                ""
            } else {
                " (not written yet: these are the defaults)"
            };
            format!("# {}{origin}\n# amounts are in tokens of the asset paid (0.25 = a quarter of a USDC)\n{text}", path.display())
        },
    );
    Ok(())
}

/// `paytab policy set NAME VALUE`.
pub fn policy_set(context: &Context, name: &str, value: &str) -> Result<(), CliError> {
    let path = context.policy_path();
    let mut policy = SpendingPolicy::load(&path)?;
    policy.set(name, value)?;
    policy.save(&path)?;
    emit(
        context,
        &json!({"file": path.display().to_string(), "policy": policy}),
        || format!("{name} = {value} (in {})", path.display()),
    );
    Ok(())
}
