//! Sending a request with its payment, and reading what came back: an
//! escrow receipt (resynced once from a stale count), an `exact` transfer or
//! an MPP charge; the same payment sent again while its outcome is unknown;
//! the payment recorded only when it was charged. Signing in (nothing paid)
//! is here too.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab::receipt::Receipt;
use paytab_protocol::clock::unix_now;
use paytab_protocol::sign_in::SignInFields;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use super::{
    host_of, rpc_error, Fetched, PaidRequest, PayError, Payer, Quote, ALREADY_USED, RESEND_AFTER,
    STALE_RECEIPT,
};
use crate::exact::ExactPayment;
use crate::ledger::PaymentRecord;
use crate::offers::{parse_payment_required, OfferKind};
use crate::receipts::escrow_payload;

impl Payer {
    /// Answers an x402 sign-in challenge with the wallet: authentication,
    /// nothing is paid and the policy is not involved.
    pub(super) async fn sign_in(
        &self,
        request: &PaidRequest,
        extension: &Value,
    ) -> Result<Fetched, PayError> {
        let mut fields = SignInFields::answering(extension, &self.wallet.pubkey())
            .map_err(|error| PayError::SignIn(error.0))?;
        if fields.chain_id != self.network {
            return Err(PayError::SignIn(format!(
                "the sign-in is for chain {}, this wallet's network is {}",
                fields.chain_id, self.network
            )));
        }
        fields.signature = self
            .wallet
            .sign_message(fields.message().as_bytes())
            .to_string();
        let header = (
            HeaderName::from_static("sign-in-with-x"),
            fields.header_value(),
        );
        let fetched = self.send(request, Some(header)).await?;
        if fetched.status == StatusCode::PAYMENT_REQUIRED {
            let required = parse_payment_required(&fetched.headers, &fetched.body);
            return Err(PayError::SignIn(
                required
                    .error
                    .unwrap_or_else(|| "the server refused the sign-in".into()),
            ));
        }
        Ok(Fetched {
            signed_in: Some(self.wallet.pubkey()),
            ..fetched
        })
    }

    pub(super) async fn send(
        &self,
        request: &PaidRequest,
        payment: Option<(HeaderName, String)>,
    ) -> Result<Fetched, PayError> {
        let mut builder = self.http.request(request.method.clone(), &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        if let Some((name, value)) = payment {
            builder = builder.header(name, value);
        }
        let response = builder.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Fetched {
            status,
            headers,
            body,
            payment: None,
            asked: None,
            signed_in: None,
        })
    }

    pub(super) async fn pay(
        &self,
        request: &PaidRequest,
        quote: &Quote,
    ) -> Result<Fetched, PayError> {
        match quote.offer.kind {
            OfferKind::Escrow => self.pay_escrow(request, quote).await,
            OfferKind::Exact => {
                let wire = self.exact_wire(quote).await?;
                let header = x402_header(quote, json!({"transaction": wire}));
                let fetched = self.send_payment(request, header).await?;
                self.finish(request, quote, fetched, None).await
            }
            OfferKind::MppCharge => {
                let wire = self.exact_wire(quote).await?;
                let value = quote.offer.mpp.clone().unwrap_or_default().authorization(
                    &self.wallet.pubkey().to_string(),
                    &json!({"type": "transaction", "transaction": wire}),
                );
                let fetched = self.send_payment(request, (AUTHORIZATION, value)).await?;
                self.finish(request, quote, fetched, None).await
            }
        }
    }

    async fn pay_escrow(&self, request: &PaidRequest, quote: &Quote) -> Result<Fetched, PayError> {
        let Some((allowance, generation)) = quote.allowance else {
            return Err(PayError::NoUsableOffer("escrow: no allowance".into()));
        };
        let price = quote.offer.amount;
        let mut resynced = false;
        loop {
            let cumulative = self
                .ledger
                .next_receipt(&allowance, generation, price)
                .await?;
            let receipt = Receipt {
                allowance,
                generation,
                cumulative,
                expires_at: 0,
            };
            let header = x402_header(quote, escrow_payload(&receipt, &self.wallet));
            let fetched = self.send_payment(request, header).await?;
            if fetched.status == StatusCode::PAYMENT_REQUIRED && !resynced {
                let refusal: Value = serde_json::from_slice(&fetched.body).unwrap_or_default();
                let accepted = refusal["extensions"]["paytab"]["acceptedCumulative"]
                    .as_str()
                    .and_then(|text| text.parse::<u64>().ok());
                // Stale, or the same count already bought an answer (signed on
                // another device): either way the count moved on.
                if let (Some(STALE_RECEIPT | ALREADY_USED), Some(accepted)) =
                    (refusal["error"].as_str(), accepted)
                {
                    // Another device or a lost answer moved the count: resume from the facilitator's.
                    self.ledger
                        .resync_receipts(&allowance, generation, accepted)
                        .await?;
                    resynced = true;
                    continue;
                }
            }
            return self
                .finish(request, quote, fetched, Some((allowance, cumulative)))
                .await;
        }
    }

    /// Sends a request with its payment; while the answer says the outcome
    /// is unknown (or the same payment is in flight), or the connection broke
    /// after sending, sends the very same payment again, a few times. A payment
    /// is never charged twice, so resending is what recovers a lost answer.
    async fn send_payment(
        &self,
        request: &PaidRequest,
        payment: (HeaderName, String),
    ) -> Result<Fetched, PayError> {
        let mut waits = RESEND_AFTER.iter();
        loop {
            let sent = self.send(request, Some(payment.clone())).await;
            let unresolved = match &sent {
                Ok(fetched) => outcome_unknown(fetched),
                // Never connected: nothing was sent, so nothing was charged.
                Err(PayError::Http(error)) => !error.is_connect(),
                Err(_) => false,
            };
            match waits.next() {
                Some(wait) if unresolved => tokio::time::sleep(*wait).await,
                _ => return sent,
            }
        }
    }

    pub(super) async fn exact_wire(&self, quote: &Quote) -> Result<String, PayError> {
        let payment = ExactPayment {
            fee_payer: quote.offer.fee_payer.unwrap_or_default(),
            mint: quote.offer.asset,
            token_program: quote.token_program,
            decimals: quote.decimals,
            pay_to: quote.offer.pay_to,
            amount: quote.offer.amount,
            memo: quote.offer.requirement["extra"]["memo"]
                .as_str()
                .map(str::to_string),
        };
        let blockhash = self.rpc.get_latest_blockhash().await.map_err(rpc_error)?;
        Ok(payment.wire(&self.wallet, blockhash)?)
    }

    /// Records a paid answer, gives back an unused receipt count, or reports a refusal.
    async fn finish(
        &self,
        request: &PaidRequest,
        quote: &Quote,
        fetched: Fetched,
        receipt: Option<(Pubkey, u64)>,
    ) -> Result<Fetched, PayError> {
        if outcome_unknown(&fetched) {
            // The receipt count stays taken: that receipt may have been accepted.
            return Err(PayError::OutcomeUnknown(refusal_message(&fetched.body)));
        }
        let settlement = settlement_of(&fetched.headers);
        // Charged: a settlement or MPP receipt says so, or a success came back
        // without one. A refusal (4xx) or a failed upstream (5xx) without
        // them was not.
        let charged = settlement["success"] == true
            || fetched.headers.contains_key("payment-receipt")
            || (fetched.status.is_success() && settlement.is_null());
        if !charged {
            if let Some((allowance, cumulative)) = receipt {
                self.ledger
                    .give_back_receipt(&allowance, cumulative, quote.offer.amount)
                    .await?;
            }
            if fetched.status.is_client_error() {
                return Err(PayError::Rejected {
                    status: fetched.status,
                    message: refusal_message(&fetched.body),
                });
            }
            return Ok(fetched);
        }
        let reference = match (receipt, settlement["transaction"].as_str()) {
            (Some((allowance, cumulative)), _) => format!("{allowance}:{cumulative}"),
            (None, Some(transaction)) if !transaction.is_empty() => transaction.to_string(),
            _ => mpp_reference(&fetched.headers).unwrap_or_default(),
        };
        let record = PaymentRecord {
            at: unix_now(),
            method: request.method.to_string(),
            url: request.url.clone(),
            host: host_of(&request.url),
            scheme: quote.offer.kind.name().to_string(),
            network: quote.offer.network.clone(),
            asset: quote.offer.asset.to_string(),
            pay_to: quote.offer.pay_to.to_string(),
            amount: quote.offer.amount,
            decimals: quote.decimals,
            reference,
            proof: settlement["extensions"]["paytab"]["proof"]
                .as_str()
                .map(str::to_string),
        };
        self.ledger.record(&record).await?;
        Ok(Fetched {
            payment: Some(record),
            ..fetched
        })
    }
}

/// The x402 payment header for `quote` carrying `payload`.
fn x402_header(quote: &Quote, payload: Value) -> (HeaderName, String) {
    let offer = &quote.offer;
    if offer.x402_version == 1 {
        let body = json!({
            "x402Version": 1, "scheme": offer.kind.name(),
            "network": offer.requirement["network"], "payload": payload,
        });
        (
            HeaderName::from_static("x-payment"),
            STANDARD.encode(body.to_string()),
        )
    } else {
        let body = json!({"x402Version": 2, "accepted": offer.requirement, "payload": payload});
        (
            HeaderName::from_static("payment-signature"),
            STANDARD.encode(body.to_string()),
        )
    }
}

/// Whether an answer says the payment's outcome is unknown, or that the same
/// payment is being used by another request: both are resolved by sending
/// the same payment again.
fn outcome_unknown(fetched: &Fetched) -> bool {
    let body: Value = serde_json::from_slice(&fetched.body).unwrap_or_default();
    let code = body["error"].as_str().or_else(|| body["code"].as_str());
    matches!(
        (fetched.status.as_u16(), code),
        (502 | 504, Some("payment_outcome_unknown")) | (409, Some("payment_in_flight"))
    )
}

/// The sentence of a refusal body (x402 JSON or problem details).
fn refusal_message(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    ["message", "detail", "error"]
        .iter()
        .find_map(|field| body[*field].as_str())
        .unwrap_or("payment refused")
        .to_string()
}

/// The decoded `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE`, or null.
fn settlement_of(headers: &HeaderMap) -> Value {
    ["payment-response", "x-payment-response"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value: &HeaderValue| value.to_str().ok())
        .and_then(|text| STANDARD.decode(text.trim()).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The `reference` of an MPP `Payment-Receipt`.
fn mpp_reference(headers: &HeaderMap) -> Option<String> {
    let text = headers.get("payment-receipt")?.to_str().ok()?;
    let receipt: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text.trim()).ok()?).ok()?;
    receipt["reference"].as_str().map(str::to_string)
}
