//! Paying for HTTP requests: send, read the 402, choose the cheapest usable
//! offer (an escrow receipt, then an `exact` transfer, then an MPP charge),
//! ask the spending policy, pay, retry with proof of payment, and record it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use paytab_protocol::amount::format_units;
use paytab_protocol::clock::unix_now;
use paytab_protocol::networks::{caip2_network, check_network_label, mpp_names_network};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;

mod payment;
mod tool_payment;

use crate::exact::ExactBuildError;
use crate::instructions::EscrowAccounts;
use crate::ledger::{Ledger, LedgerError, PaymentRecord};
use crate::offers::{parse_payment_required, Offer, OfferKind, PaymentRequired};
use crate::policy::{PolicyError, Spend, SpendingPolicy, Verdict};

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
    /// The network label cannot name this chain.
    #[error(transparent)]
    Label(#[from] paytab_protocol::networks::LabelError),
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
    /// The chain's own CAIP-2 id, when `network` is a label for it.
    chain: Option<String>,
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
            chain: None,
            confirm,
            prefer: None,
            owner: None,
            mints: Mutex::default(),
        })
    }

    /// Pays offers naming `label` (a CAIP-2 id) as if they named this chain:
    /// for a chain served under another name, e.g. a localnet labelled
    /// devnet. A chain that is not mainnet is never taken for mainnet.
    pub fn labelled(mut self, label: Option<String>) -> Result<Self, PayError> {
        let Some(label) = label else {
            return Ok(self);
        };
        check_network_label(&label, &self.network)?;
        if label != self.network {
            self.chain = Some(std::mem::replace(&mut self.network, label));
        }
        Ok(self)
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
        let confirm = self.confirm.clone();
        self.fetch_confirming(request, &*confirm).await
    }

    /// [`Payer::fetch`], asking `confirm` (not the payer's own) when the
    /// policy wants a payment confirmed: e.g. an answer already given by the
    /// owner for exactly this question.
    pub async fn fetch_confirming(
        &self,
        request: &PaidRequest,
        confirm: &(dyn Fn(&str) -> bool + Send + Sync),
    ) -> Result<Fetched, PayError> {
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
        match self.judge(request, &quote).await? {
            Verdict::Pay => {}
            Verdict::Confirm(question) if confirm(&question) => {}
            Verdict::Confirm(question) => {
                return Err(PayError::Policy(format!("not confirmed: {question}")))
            }
            Verdict::Refuse(reason) => return Err(PayError::Policy(reason)),
        }
        let mut fetched = self.pay(request, &quote).await?;
        fetched.asked = Some(required);
        Ok(fetched)
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
            OfferKind::MppCharge => mpp_names_network(Some(&offer.network), &self.network),
            _ => offer.network == self.network,
        }
    }

    async fn usable(&self, offer: &Offer) -> Result<Quote, String> {
        if !self.on_this_network(offer) {
            let ours = match &self.chain {
                Some(chain) => format!("{chain}, labelled {}", self.network),
                None => self.network.clone(),
            };
            return Err(format!(
                "the offer is on network {}, but this wallet's RPC is on {ours}: use an RPC of \
                 that network (--url), or, if this chain is served under that name (e.g. a \
                 localnet labelled devnet), say so with --network",
                offer.network
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

    /// What the spending policy says of paying `quote` for `request` now
    /// (today's spending at its host read from the ledger).
    pub async fn judge(&self, request: &PaidRequest, quote: &Quote) -> Result<Verdict, PayError> {
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
        Ok(self.policy.judge(&Spend {
            host: &host,
            network,
            amount: quote.offer.amount,
            decimals: quote.decimals,
            spent_today,
        })?)
    }

    /// The spending policy it pays under.
    pub fn policy(&self) -> &SpendingPolicy {
        &self.policy
    }
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
