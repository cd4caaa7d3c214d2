//! Paying for something other than an HTTP request: an MCP tool call whose
//! server asked for payment (x402's MCP transport, or MPP's JSON-RPC error
//! `-32042`). The payment is built here as a JSON value to put in the call's
//! `_meta`; sending it, and reading the answer, is the caller's.
//!
//! Only payments that are transactions (`exact`, MPP charge) are made this
//! way: an escrow receipt's count lives in the ledger and its refusals are
//! read from HTTP answers, so receipts stay HTTP-only.

use paytab_protocol::clock::unix_now;
use serde_json::{json, Value};
use solana_signer::Signer;

use super::{host_of, PayError, Payer, Quote};
use crate::ledger::PaymentRecord;
use crate::offers::OfferKind;

impl Payer {
    /// The x402 `PaymentPayload` (v2) paying `quote` for `resource` (the
    /// `resource` object the server's PaymentRequired named).
    pub async fn x402_tool_payment(
        &self,
        quote: &Quote,
        resource: &Value,
    ) -> Result<Value, PayError> {
        if quote.offer.kind != OfferKind::Exact {
            return Err(PayError::NoUsableOffer(format!(
                "{} cannot pay a tool call: only exact transfers and MPP charges can",
                quote.offer.kind.name()
            )));
        }
        let wire = self.exact_wire(quote).await?;
        Ok(json!({
            "x402Version": 2,
            "resource": resource,
            "accepted": quote.offer.requirement,
            "payload": {"transaction": wire},
        }))
    }

    /// The MPP credential answering `challenge` (echoed exactly as received)
    /// with a Solana charge transaction for `quote`.
    pub async fn mpp_tool_credential(
        &self,
        quote: &Quote,
        challenge: &Value,
    ) -> Result<Value, PayError> {
        if quote.offer.kind != OfferKind::MppCharge {
            return Err(PayError::NoUsableOffer(
                "the chosen offer is not an MPP charge".into(),
            ));
        }
        let wire = self.exact_wire(quote).await?;
        Ok(json!({
            "challenge": challenge,
            "source": self.wallet.pubkey().to_string(),
            "payload": {"type": "transaction", "transaction": wire},
        }))
    }

    /// Records a tool call paid by `quote` (its `url` names the server and
    /// tool; `reference` is the settlement's transaction, if it said).
    pub async fn record_tool_payment(
        &self,
        url: &str,
        quote: &Quote,
        reference: String,
    ) -> Result<PaymentRecord, PayError> {
        let record = PaymentRecord {
            at: unix_now(),
            method: "TOOL".into(),
            url: url.to_string(),
            host: host_of(url),
            scheme: quote.offer.kind.name().to_string(),
            network: quote.offer.network.clone(),
            asset: quote.offer.asset.to_string(),
            pay_to: quote.offer.pay_to.to_string(),
            amount: quote.offer.amount,
            decimals: quote.decimals,
            reference,
            proof: None,
        };
        self.ledger.record(&record).await?;
        Ok(record)
    }
}
