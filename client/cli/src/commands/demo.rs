//! `paytab demo`: the whole of paytab in one process — localnet, facilitator,
//! gateway and a paid API — and a payer walked through finding the API in the
//! catalog, escrow, allowance,
//! paid calls by escrow receipt, `exact` transfer and MPP charge, a policy
//! refusal, and the provider's claim.

use std::sync::Arc;

use paytab::instructions::GrantAllowanceArgs;
use paytab_client::catalog::{CatalogClient, SearchRequest};
use paytab_client::ledger::Ledger;
use paytab_client::offers::OfferKind;
use paytab_client::pay::{PaidRequest, PayError, Payer};
use paytab_client::policy::SpendingPolicy;
use paytab_client::program::PaytabProgram;
use paytab_client::EscrowAccounts;
use paytab_protocol::amount::format_units;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::chain::{account_balance, token_balance};
use crate::error::CliError;
use crate::world::{confirm, World, QUOTE_PRICE, REPORT_PRICE};

const STEPS: usize = 9;
/// Raw units of test USDC the payer starts with (10 USDC).
const START_USDC: u64 = 10_000_000;
/// Deposited into the escrow (5 USDC).
const DEPOSIT: u64 = 5_000_000;
/// The provider's allowance (1 USDC).
const CAP: u64 = 1_000_000;

fn step(number: usize, text: &str) {
    println!("\n[{number}/{STEPS}] {text}");
}

fn usdc(raw: u64) -> String {
    format!("{} USDC", format_units(raw, paytab_localnet::USDC_DECIMALS))
}

/// Runs the demo.
pub async fn run() -> Result<(), CliError> {
    println!("paytab demo: an API paid per call, on an embedded Solana localnet");
    step(
        1,
        "Starting the localnet, the facilitator, a sample API and the gateway in front of it",
    );
    let world = World::start().await?;
    let mint = world.localnet.info().usdc_mint;
    println!(
        "  localnet     {}  (network {})",
        world.localnet.rpc_url(),
        world.localnet.info().network
    );
    println!(
        "  facilitator  {}  (key {})",
        world.facilitator.url(),
        world.facilitator_key.pubkey()
    );
    println!(
        "  gateway      {}  in front of the sample API at {}",
        world.gateway.url(),
        world.upstream
    );
    println!(
        "  prices       GET /v1/quotes/:symbol {}, GET /v1/report {}",
        usdc(QUOTE_PRICE),
        usdc(REPORT_PRICE)
    );
    println!("  provider     {} is paid", world.provider.pubkey());
    let result = walk(&world, &mint).await;
    world.shutdown().await;
    result
}

async fn walk(world: &World, mint: &Pubkey) -> Result<(), CliError> {
    let token_program = spl_token_interface::ID;
    step(
        2,
        "The provider lists the API in the catalog (signed by its key, every endpoint probed); the payer finds it by search",
    );
    let service_url = list_and_find(world).await?;
    let url = |path: &str| format!("{service_url}{path}");

    step(
        3,
        "A new payer wallet gets 1 SOL and 10 USDC from the localnet faucet",
    );
    let payer = Keypair::new();
    let chain = &world.localnet.chain;
    let sol = chain
        .airdrop(&payer.pubkey(), 1_000_000_000)
        .map_err(|error| CliError::new(format!("faucet: {error:?}")))?;
    let tokens = chain
        .mint_usdc(&payer.pubkey(), START_USDC)
        .map_err(|error| CliError::new(format!("faucet: {error:?}")))?;
    confirm(&world.rpc, &sol).await?;
    confirm(&world.rpc, &tokens).await?;
    println!("  payer        {}", payer.pubkey());

    step(
        4,
        "The payer opens an escrow, deposits 5 USDC and allows the provider up to 1 USDC",
    );
    let escrow = EscrowAccounts::new(payer.pubkey(), *mint, token_program);
    let instructions = escrow.open_with_allowance(
        3_600,
        DEPOSIT,
        &world.provider.pubkey(),
        GrantAllowanceArgs {
            cap: CAP,
            period_secs: 0,
            period_limit: 0,
            expires_at: 0,
            delegate: Some(world.facilitator_key.pubkey()),
        },
    );
    let program = PaytabProgram::new(&world.localnet.rpc_url(), Arc::new(payer.insecure_clone()))
        .map_err(|error| CliError::new(error.to_string()))?;
    let signature = program
        .send(instructions)
        .await
        .map_err(|error| CliError::new(format!("the transaction failed: {error}")))?;
    println!(
        "  escrow       {}  (open + deposit + allow in one transaction {signature})",
        escrow.escrow()
    );
    println!(
        "  allowance    {}  delegate: the facilitator",
        escrow.allowance(&world.provider.pubkey())
    );

    let dir = tempfile::tempdir()?;
    let ledger = Ledger::open(&dir.path().join("ledger.db")).await?;
    let rpc = Arc::new(
        solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
            world.localnet.rpc_url(),
            solana_commitment_config::CommitmentConfig::confirmed(),
        ),
    );
    let wallet = Arc::new(payer.insecure_clone());
    let policy = SpendingPolicy::default();
    let refuse_to_ask = Arc::new(|_: &str| false);
    let paying = |kind: Option<OfferKind>| {
        let (rpc, wallet, ledger, policy, confirm) = (
            rpc.clone(),
            wallet.clone(),
            ledger.clone(),
            policy.clone(),
            refuse_to_ask.clone(),
        );
        async move {
            Ok::<Payer, CliError>(
                Payer::new(rpc, wallet, ledger, policy, confirm)
                    .await?
                    .prefer(kind),
            )
        }
    };

    step(
        5,
        "Three paid calls by escrow receipt: no transaction per call, a proof per call",
    );
    let cheapest = paying(None).await?;
    for symbol in ["SOL", "BTC", "ETH"] {
        paid_call(&cheapest, &url(&format!("/v1/quotes/{symbol}"))).await?;
    }

    step(
        6,
        "One call paid by an x402 `exact` transfer, one by an MPP charge",
    );
    paid_call(
        &paying(Some(OfferKind::Exact)).await?,
        &url("/v1/quotes/SOL"),
    )
    .await?;
    paid_call(
        &paying(Some(OfferKind::MppCharge)).await?,
        &url("/v1/quotes/BTC"),
    )
    .await?;

    step(
        7,
        "The spending policy refuses a call over its per-request maximum (1 USDC)",
    );
    match cheapest.fetch(&PaidRequest::get(url("/v1/report"))).await {
        Err(PayError::Policy(reason)) => {
            println!("  GET /v1/report  refused, nothing paid: {reason}")
        }
        Err(error) => return Err(error.into()),
        Ok(fetched) => {
            return Err(CliError::new(format!(
                "the policy should have refused the report, but the server answered {}",
                fetched.status
            )))
        }
    }

    step(
        8,
        "The provider is paid: the facilitator claims the escrow receipts in one transaction",
    );
    let provider_before =
        token_balance(&world.rpc, &world.provider.pubkey(), mint, &token_program).await;
    let round = world
        .facilitator
        .claim_now()
        .await
        .map_err(|error| CliError::new(format!("claim failed: {error}")))?;
    println!(
        "  claimed      {} in {} transaction(s) from the payer's allowance",
        usdc(round.paid),
        round.confirmed
    );
    let provider_after =
        token_balance(&world.rpc, &world.provider.pubkey(), mint, &token_program).await;
    println!(
        "  provider     {} → {}",
        usdc(provider_before),
        usdc(provider_after)
    );

    step(9, "Final balances");
    let wallet_balance = token_balance(&world.rpc, &payer.pubkey(), mint, &token_program).await;
    let vault = account_balance(&world.rpc, &escrow.vault()).await;
    println!(
        "  payer wallet   {}  (10 - 5 deposited - 0.02 by exact and MPP)",
        usdc(wallet_balance)
    );
    println!(
        "  payer escrow   {}  (5 deposited - 0.03 claimed by receipts)",
        usdc(vault)
    );
    println!(
        "  provider       {}  (0.05 earned, plus the 0.000001 its account was opened with)",
        usdc(provider_after)
    );
    let history = ledger.history(10).await?;
    println!(
        "  payer ledger   {} payments recorded, each with its proof or transaction",
        history.len()
    );
    let expected_provider = 1 + 5 * QUOTE_PRICE;
    if provider_after != expected_provider
        || wallet_balance != START_USDC - DEPOSIT - 2 * QUOTE_PRICE
    {
        return Err(CliError::new(format!(
            "balances do not add up: provider {provider_after} (expected {expected_provider}), wallet {wallet_balance}"
        )));
    }
    println!("\nDone. Every number above was read back from the chain.");
    Ok(())
}

/// The provider publishes the gateway's own description, signed; the payer
/// searches the catalog and takes the service URL it finds.
async fn list_and_find(world: &World) -> Result<String, CliError> {
    let manifest = world.publish_sample_api().await?;
    let catalog = CatalogClient::new(&world.facilitator.url());
    println!(
        "  published    {} ({} endpoints, each answered as listed) to {}",
        manifest.name,
        manifest.endpoints.len(),
        catalog.url()
    );
    let query = "crypto price quote";
    let found = catalog
        .search(&SearchRequest {
            text: query.into(),
            ..SearchRequest::default()
        })
        .await?;
    println!("  search       \"{query}\" → {} result(s)", found.len());
    for result in &found {
        println!(
            "               {}: {} — from {} ({})",
            result.name,
            result.title,
            result
                .lowest_price
                .as_deref()
                .and_then(|price| price.parse().ok())
                .map_or_else(|| "free".to_string(), usdc),
            result.status
        );
    }
    let service = found
        .into_iter()
        .find(|result| result.name == manifest.name)
        .ok_or_else(|| CliError::new("the search did not find the published API"))?;
    println!("  found        {}", service.service_url);
    Ok(service.service_url)
}

async fn paid_call(payer: &Payer, url: &str) -> Result<(), CliError> {
    let fetched = payer.fetch(&PaidRequest::get(url)).await?;
    let body = String::from_utf8_lossy(&fetched.body);
    let path = url.split_once("/v1").map_or(url, |(_, rest)| rest);
    match &fetched.payment {
        Some(payment) => println!(
            "  GET /v1{path}  {}  paid {} via {:<6}  {}",
            fetched.status.as_u16(),
            usdc(payment.amount),
            payment.scheme,
            short(&payment.reference)
        ),
        None => println!("  GET /v1{path}  {} (not paid)", fetched.status.as_u16()),
    }
    println!("      {body}");
    if !fetched.status.is_success() {
        return Err(CliError::new(format!("{url} answered {}", fetched.status)));
    }
    Ok(())
}

/// A settlement reference, shortened for the screen.
fn short(reference: &str) -> String {
    match reference.split_once(':') {
        Some((_, cumulative)) => match cumulative.parse::<u64>() {
            Ok(raw) => format!("receipt, cumulative {}", usdc(raw)),
            Err(_) => format!("receipt {reference}"),
        },
        None => format!("tx {}…", &reference[..16.min(reference.len())]),
    }
}
