//! Paying for HTTP requests: send, read the 402, choose the cheapest usable
//! offer (an escrow receipt, then an `exact` transfer, then an MPP charge),
//! ask the spending policy, pay, retry with proof of payment, and record it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab::receipt::Receipt;
use paytab_protocol::amount::format_units;
use paytab_protocol::clock::unix_now;
use paytab_protocol::networks::{caip2_network, mpp_network_name};
use paytab_protocol::sign_in::SignInFields;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

use crate::exact::{ExactBuildError, ExactPayment};
use crate::instructions::EscrowAccounts;
use crate::ledger::{Ledger, LedgerError, PaymentRecord};
use crate::offers::{parse_payment_required, Offer, OfferKind, PaymentRequired};
use crate::policy::{PolicyError, Spend, SpendingPolicy, Verdict};
use crate::receipts::escrow_payload;

/// The facilitator's reason for a stale receipt count.
const STALE_RECEIPT: &str = "invalid_escrow_payload_stale_cumulative";

/// The gateway's reason for a payment that already bought an answer.
const ALREADY_USED: &str = "payment_already_used";

/// How long to wait before each resend of a payment whose outcome is unknown.
const RESEND_AFTER: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(750),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

/// A request to make (and pay for if asked).
#[derive(Debug, Clone)]
pub struct PaidRequest {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body, if any (kept to send again after paying).
    pub body: Option<Vec<u8>>,
}

impl PaidRequest {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// What was chosen to pay, and its price in people's terms.
#[derive(Debug, Clone)]
pub struct Quote {
    /// The offer.
    pub offer: Offer,
    /// The token's decimals.
    pub decimals: u8,
    /// The token program of the asset.
    pub token_program: Pubkey,
    /// For an escrow offer: the allowance and its generation.
    pub allowance: Option<(Pubkey, u64)>,
}

impl Quote {
    /// `0.01 of <mint> via escrow`.
    pub fn describe(&self) -> String {
        format!(
            "{} (mint {}) to {} via {}",
            format_units(self.offer.amount, self.decimals),
            self.offer.asset,
            self.offer.pay_to,
            self.offer.kind.name()
        )
    }
}

/// The answer to a request, and the payment made for it (if any).
#[derive(Debug)]
pub struct Fetched {
    /// Final status.
    pub status: StatusCode,
    /// Final headers.
    pub headers: HeaderMap,
    /// Final body.
    pub body: Vec<u8>,
    /// The payment, if one was made.
    pub payment: Option<PaymentRecord>,
    /// What the server asked to be paid, if it answered 402 first.
    pub asked: Option<PaymentRequired>,
    /// The wallet signed in with, on a sign-in route (nothing paid).
    pub signed_in: Option<Pubkey>,
}

/// Why a request could not be paid for.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The HTTP request failed.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The Solana RPC failed.
    #[error("Solana RPC: {0}")]
    Rpc(String),
    /// No offer could be paid with this wallet.
    #[error("no payment option can be used: {0}")]
    NoUsableOffer(String),
    /// The spending policy said no.
    #[error("refused by the spending policy: {0}")]
    Policy(String),
    /// The policy file is broken.
    #[error(transparent)]
    PolicyFile(#[from] PolicyError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The payment transaction could not be built.
    #[error(transparent)]
    Build(#[from] ExactBuildError),
    /// Signing in (x402 sign-in-with-x) failed; nothing was paid.
    #[error("sign-in failed (nothing was paid): {0}")]
    SignIn(String),
    /// The payment may have been charged, but no answer said so; it was
    /// resent (never signed again) as often as allowed.
    #[error(
        "the payment's outcome is unknown ({0}); nothing more was paid. Run the same \
         request again later: an escrow receipt is sent again, never signed twice"
    )]
    OutcomeUnknown(String),
    /// The server refused the payment.
    #[error("the server refused the payment ({status}): {message}")]
    Rejected {
        /// Status of the refusal.
        status: StatusCode,
        /// The server's reason.
        message: String,
    },
}

/// Asks the owner to confirm a payment (a TTY prompt, or a refusal when none).
pub type Confirm = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Pays for HTTP requests from one wallet.
pub struct Payer {
    http: reqwest::Client,
    rpc: Arc<RpcClient>,
    wallet: Arc<Keypair>,
    ledger: Ledger,
    policy: SpendingPolicy,
    network: String,
    confirm: Confirm,
    prefer: Option<OfferKind>,
    owner: Option<Pubkey>,
    /// Token program and decimals of the mints seen.
    mints: Mutex<HashMap<Pubkey, (Pubkey, u8)>>,
}

impl Payer {
    /// A payer on the chain behind `rpc` (its network is read from the genesis hash).
    pub async fn new(
        rpc: Arc<RpcClient>,
        wallet: Arc<Keypair>,
        ledger: Ledger,
        policy: SpendingPolicy,
        confirm: Confirm,
    ) -> Result<Self, PayError> {
        let genesis = rpc.get_genesis_hash().await.map_err(rpc_error)?;
        Ok(Self {
            http: reqwest::Client::new(),
            rpc,
            wallet,
            ledger,
            policy,
            network: caip2_network(&genesis.to_string()),
            confirm,
            prefer: None,
            owner: None,
            mints: Mutex::default(),
        })
    }

    /// Signs escrow receipts for `owner`'s escrow (the wallet being the
    /// escrow's session key) instead of the wallet's own.
    pub fn for_owner(mut self, owner: Option<Pubkey>) -> Self {
        self.owner = owner;
        self
    }

    /// The escrow owner receipts are signed for.
    fn escrow_owner(&self) -> Pubkey {
        self.owner.unwrap_or_else(|| self.wallet.pubkey())
    }

    /// Pays with `kind` only (else the cheapest usable offer).
    pub fn prefer(mut self, kind: Option<OfferKind>) -> Self {
        self.prefer = kind;
        self
    }

    /// The CAIP-2 network paid on.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Sends `request`; on 402, what would be paid (nothing is paid; `None`
    /// when nothing is asked, or only a sign-in).
    pub async fn quote(&self, request: &PaidRequest) -> Result<(Fetched, Option<Quote>), PayError> {
        let fetched = self.send(request, None).await?;
        if fetched.status != StatusCode::PAYMENT_REQUIRED {
            return Ok((fetched, None));
        }
        let required = parse_payment_required(&fetched.headers, &fetched.body);
        if required.offers.is_empty() && required.sign_in.is_some() {
            let asked = Fetched {
                asked: Some(required),
                ..fetched
            };
            return Ok((asked, None));
        }
        let quote = self.choose(&required).await?;
        Ok((
            Fetched {
                asked: Some(required),
                ..fetched
            },
            Some(quote),
        ))
    }

    /// Sends `request`, paying if the server asks and the policy allows.
    pub async fn fetch(&self, request: &PaidRequest) -> Result<Fetched, PayError> {
        let first = self.send(request, None).await?;
        if first.status != StatusCode::PAYMENT_REQUIRED {
            return Ok(first);
        }
        let required = parse_payment_required(&first.headers, &first.body);
        if required.offers.is_empty() {
            if let Some(extension) = &required.sign_in {
                let mut fetched = self.sign_in(request, extension).await?;
                fetched.asked = Some(required);
                return Ok(fetched);
            }
        }
        let quote = self.choose(&required).await?;
        self.check_policy(request, &quote).await?;
        let mut fetched = self.pay(request, &quote).await?;
        fetched.asked = Some(required);
        Ok(fetched)
    }

    /// Answers an x402 sign-in challenge with the wallet: authentication,
    /// nothing is paid and the policy is not involved.
    async fn sign_in(&self, request: &PaidRequest, extension: &Value) -> Result<Fetched, PayError> {
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

    async fn send(
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

    /// The first usable offer in order of preference, with what paying it needs.
    pub async fn choose(&self, required: &PaymentRequired) -> Result<Quote, PayError> {
        // Cheapest first; at one price, an escrow receipt (no transaction),
        // then an `exact` transfer, then an MPP charge.
        let mut order: Vec<&Offer> = required.offers.iter().collect();
        order.sort_by_key(|offer| (offer.amount, offer.kind));
        if let Some(kind) = self.prefer {
            order.retain(|offer| offer.kind == kind);
        }
        let mut reasons: Vec<String> = required.unreadable.clone();
        for offer in order {
            match self.usable(offer).await {
                Ok(quote) => return Ok(quote),
                Err(reason) => reasons.push(format!("{}: {reason}", offer.kind.name())),
            }
        }
        if reasons.is_empty() {
            reasons.push("the 402 offered nothing this client can pay".into());
        }
        Err(PayError::NoUsableOffer(reasons.join("; ")))
    }

    /// The decimals of `offer`'s token: as the offer states them, else read
    /// from its mint when the offer is on this payer's network.
    pub async fn offer_decimals(&self, offer: &Offer) -> Option<u8> {
        if offer.decimals.is_some() {
            return offer.decimals;
        }
        if !self.on_this_network(offer) {
            return None;
        }
        self.mint_info(&offer.asset)
            .await
            .ok()
            .map(|(_, decimals)| decimals)
    }

    fn on_this_network(&self, offer: &Offer) -> bool {
        match offer.kind {
            OfferKind::MppCharge => offer.network == mpp_network_name(&self.network),
            _ => offer.network == self.network,
        }
    }

    async fn usable(&self, offer: &Offer) -> Result<Quote, String> {
        if !self.on_this_network(offer) {
            return Err(format!(
                "network {} is not this wallet's {}",
                offer.network, self.network
            ));
        }
        let (token_program, decimals) = self.mint_info(&offer.asset).await?;
        let mut quote = Quote {
            offer: offer.clone(),
            decimals,
            token_program,
            allowance: None,
        };
        match offer.kind {
            OfferKind::Escrow => {
                let delegate = offer.delegate.ok_or("no delegate offered")?;
                let accounts = EscrowAccounts::new(self.escrow_owner(), offer.asset, token_program);
                let address = accounts.allowance(&offer.pay_to);
                let account = self.rpc.get_account(&address).await.map_err(|_| {
                    format!(
                        "no allowance for {} (paytab allow {})",
                        offer.pay_to, offer.pay_to
                    )
                })?;
                let allowance = crate::accounts::allowance(&account.data)
                    .ok_or("the allowance account is not a paytab allowance")?;
                if allowance.delegate != Some(delegate) {
                    return Err(format!(
                        "the allowance's delegate is not the facilitator's {delegate}"
                    ));
                }
                if allowance.pending_cap == Some(0) {
                    return Err("the allowance is being revoked".into());
                }
                quote.allowance = Some((address, allowance.generation));
            }
            OfferKind::Exact | OfferKind::MppCharge => {
                if offer.fee_payer.is_none() {
                    return Err("no fee payer offered".into());
                }
            }
        }
        Ok(quote)
    }

    /// A mint's token program and decimals, read once per payer.
    async fn mint_info(&self, mint: &Pubkey) -> Result<(Pubkey, u8), String> {
        if let Some(known) = self
            .mints
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(mint)
        {
            return Ok(*known);
        }
        let facts = read_mint(&self.rpc, mint).await?;
        self.mints
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(*mint, facts);
        Ok(facts)
    }

    async fn check_policy(&self, request: &PaidRequest, quote: &Quote) -> Result<(), PayError> {
        let host = host_of(&request.url);
        let now = unix_now();
        let spent_today = self
            .ledger
            .spent_since(&host, now - now.rem_euclid(86_400))
            .await?;
        let network = match quote.offer.kind {
            OfferKind::MppCharge => self.network.as_str(),
            _ => quote.offer.network.as_str(),
        };
        let verdict = self.policy.judge(&Spend {
            host: &host,
            network,
            amount: quote.offer.amount,
            decimals: quote.decimals,
            spent_today,
        })?;
        match verdict {
            Verdict::Pay => Ok(()),
            Verdict::Confirm(question) if (self.confirm)(&question) => Ok(()),
            Verdict::Confirm(question) => {
                Err(PayError::Policy(format!("not confirmed: {question}")))
            }
            Verdict::Refuse(reason) => Err(PayError::Policy(reason)),
        }
    }

    async fn pay(&self, request: &PaidRequest, quote: &Quote) -> Result<Fetched, PayError> {
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

    async fn exact_wire(&self, quote: &Quote) -> Result<String, PayError> {
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

/// A mint's token program (its account's owner) and decimals, read over RPC.
pub async fn read_mint(rpc: &RpcClient, mint: &Pubkey) -> Result<(Pubkey, u8), String> {
    let account = rpc
        .get_account(mint)
        .await
        .map_err(|error| format!("cannot read mint {mint}: {error}"))?;
    let decimals =
        mint_decimals(&account.data).ok_or_else(|| format!("{mint} is not a token mint"))?;
    Ok((account.owner, decimals))
}

/// The decimals of a mint account's data (SPL Token or Token-2022).
pub fn mint_decimals(data: &[u8]) -> Option<u8> {
    let base = data.get(..spl_token_interface::state::Mint::LEN)?;
    spl_token_interface::state::Mint::unpack_from_slice(base)
        .ok()
        .map(|mint| mint.decimals)
}

/// The host (and port) of a URL, lower-cased; the whole text if it has none.
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|parsed| {
            parsed.host_str().map(|host| match parsed.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            })
        })
        .unwrap_or_else(|| url.to_string())
        .to_ascii_lowercase()
}

fn rpc_error(error: impl std::fmt::Display) -> PayError {
    PayError::Rpc(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_keep_their_port_and_lose_their_case() {
        assert_eq!(host_of("http://127.0.0.1:8080/v1/quote"), "127.0.0.1:8080");
        assert_eq!(host_of("https://API.example.com/x?y=1"), "api.example.com");
        assert_eq!(host_of("not a url"), "not a url");
    }
}
