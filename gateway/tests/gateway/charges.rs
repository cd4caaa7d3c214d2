//! MPP Solana charges as the draft specifies them, settled through a paytab
//! facilitator: the draft's transaction (compute budget in any order,
//! idempotent creation of the recipient's token account, `TransferChecked`),
//! a client-paid transaction the facilitator sends, and push mode (the
//! client sent it; the credential names its signature, bound to the
//! challenge by its memo) — each buying one answer, however often presented.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use paytab_gateway::challenge::MppChallenge;
use paytab_protocol::mpp::ChallengeParams;
use serde_json::{json, Value};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::Transaction;
use spl_associated_token_account_interface::address::get_associated_token_address;

use crate::one_answer::{assert_one_answer, send_copies};
use crate::paying::mpp_parameters;
use crate::support::{wait, World, PRICE};

const MEMO_PROGRAM: Pubkey = Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// The challenges of a 402 from `url`: (server-paid, client-paid).
async fn challenges(world: &World, url: &str) -> (MppChallenge, MppChallenge) {
    let response = world.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 402);
    let all: Vec<MppChallenge> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|value| mpp_parameters(value.to_str().unwrap()))
        .collect();
    let server_paid = all
        .iter()
        .find(|challenge| request_of(challenge)["methodDetails"]["feePayer"] == true);
    let client_paid = all
        .iter()
        .find(|challenge| request_of(challenge).get("externalId").is_some());
    (server_paid.unwrap().clone(), client_paid.unwrap().clone())
}

fn request_of(challenge: &MppChallenge) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&challenge.request).unwrap()).unwrap()
}

/// A payer with test USDC and SOL (for fees and account rent).
async fn payer(world: &World) -> Keypair {
    let payer = Keypair::new();
    world.mint_usdc(&payer.pubkey(), 1_000_000).await;
    let funded = world
        .localnet
        .chain
        .airdrop(&payer.pubkey(), 1_000_000_000)
        .unwrap();
    wait(&world.rpc, &funded).await;
    payer
}

fn key(value: &Value) -> Pubkey {
    value.as_str().unwrap().parse().unwrap()
}

/// The transfer `challenge` asks `payer` for.
fn transfer(challenge: &MppChallenge, payer: &Pubkey) -> Instruction {
    let request = request_of(challenge);
    let mint = key(&request["currency"]);
    assert_eq!(
        key(&request["methodDetails"]["tokenProgram"]),
        spl_token_interface::ID
    );
    spl_token_interface::instruction::transfer_checked(
        &spl_token_interface::ID,
        &get_associated_token_address(payer, &mint),
        &mint,
        &get_associated_token_address(&key(&request["recipient"]), &mint),
        payer,
        &[],
        request["amount"].as_str().unwrap().parse().unwrap(),
        6,
    )
    .unwrap()
}

/// The challenge's `externalId` as a memo.
fn memo(challenge: &MppChallenge) -> Instruction {
    let external_id = request_of(challenge)["externalId"]
        .as_str()
        .unwrap()
        .to_string();
    Instruction::new_with_bytes(MEMO_PROGRAM, external_id.as_bytes(), Vec::new())
}

fn wire(transaction: &Transaction) -> String {
    STANDARD.encode(bincode::serialize(transaction).unwrap())
}

fn credential(challenge: &MppChallenge, payer: &Pubkey, payload: Value) -> String {
    ChallengeParams::from(challenge).authorization(&payer.to_string(), &payload)
}

/// The decoded `Payment-Receipt` of a paid answer.
fn receipt_of(response: &reqwest::Response) -> Value {
    let value = response.headers()["payment-receipt"].to_str().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).unwrap()).unwrap()
}

#[tokio::test]
async fn the_drafts_transaction_creating_the_recipients_account_in_any_order_buys_an_answer_and_a_receipt_naming_the_challenge(
) {
    let world = World::start().await;
    let url = world.url("/v1/quotes/SOL");
    let payer = payer(&world).await;
    let (challenge, _) = challenges(&world, &url).await;
    let request = request_of(&challenge);
    assert_eq!(request["methodDetails"]["network"], "localnet");
    let fee_payer = key(&request["methodDetails"]["feePayerKey"]);
    let mint = key(&request["currency"]);
    // Price first, then limit, as @solana/mpp builds it; the recipient has no token account yet.
    let instructions = [
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(1),
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(100_000),
        spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
            &payer.pubkey(),
            &world.provider,
            &mint,
            &spl_token_interface::ID,
        ),
        transfer(&challenge, &payer.pubkey()),
    ];
    let mut transaction = Transaction::new_with_payer(&instructions, Some(&fee_payer));
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    transaction.partial_sign(&[&payer], blockhash);
    let authorization = credential(
        &challenge,
        &payer.pubkey(),
        json!({"type": "transaction", "transaction": wire(&transaction)}),
    );
    let response = world
        .http
        .get(&url)
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let receipt = receipt_of(&response);
    assert_eq!(receipt["challengeId"], challenge.id.as_str());
    assert_eq!(receipt["status"], "success");
    assert_eq!(world.usdc_balance(&world.provider).await, PRICE);
}

#[tokio::test]
async fn a_client_paid_transaction_is_sent_by_the_facilitator_and_200_copies_buy_one_answer() {
    let world = World::start().await;
    world.mint_usdc(&world.provider, 1).await;
    let url = world.url("/v1/slow/client-paid");
    let payer = payer(&world).await;
    let (_, challenge) = challenges(&world, &url).await;
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let transaction = Transaction::new_signed_with_payer(
        &[transfer(&challenge, &payer.pubkey()), memo(&challenge)],
        Some(&payer.pubkey()),
        &[&payer],
        blockhash,
    );
    let authorization = credential(
        &challenge,
        &payer.pubkey(),
        json!({"type": "transaction", "transaction": wire(&transaction)}),
    );
    let statuses = send_copies(&url, ("authorization", &authorization)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/client-paid"), 1);
    assert_eq!(world.usdc_balance(&world.provider).await, 1 + PRICE);
}

#[tokio::test]
async fn a_pushed_charge_is_named_by_its_signature_and_200_copies_buy_one_answer() {
    let world = World::start().await;
    world.mint_usdc(&world.provider, 1).await;
    let url = world.url("/v1/slow/pushed");
    let payer = payer(&world).await;
    let (_, challenge) = challenges(&world, &url).await;
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let transaction = Transaction::new_signed_with_payer(
        &[memo(&challenge), transfer(&challenge, &payer.pubkey())],
        Some(&payer.pubkey()),
        &[&payer],
        blockhash,
    );
    let signature = world
        .rpc
        .send_and_confirm_transaction(&transaction)
        .await
        .unwrap();
    let authorization = credential(
        &challenge,
        &payer.pubkey(),
        json!({"type": "signature", "signature": signature.to_string()}),
    );
    let statuses = send_copies(&url, ("authorization", &authorization)).await;
    assert_one_answer(&statuses);
    assert_eq!(world.served("/v1/slow/pushed"), 1);
    assert_eq!(
        world.usdc_balance(&world.provider).await,
        1 + PRICE,
        "paid once, by the client"
    );
}

#[tokio::test]
async fn a_pushed_transfer_answers_only_its_own_challenge_so_no_one_can_claim_anothers_payment() {
    let world = World::start().await;
    world.mint_usdc(&world.provider, 1).await;
    let url = world.url("/v1/quotes/SOL");
    let payer = payer(&world).await;
    let (server_paid, mine) = challenges(&world, &url).await;
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let transaction = Transaction::new_signed_with_payer(
        &[transfer(&mine, &payer.pubkey()), memo(&mine)],
        Some(&payer.pubkey()),
        &[&payer],
        blockhash,
    );
    let signature = world
        .rpc
        .send_and_confirm_transaction(&transaction)
        .await
        .unwrap();
    let pushed = json!({"type": "signature", "signature": signature.to_string()});

    // Someone watching the chain presents the transfer with a challenge of their own.
    let (_, theirs) = challenges(&world, &url).await;
    let thief = Keypair::new().pubkey();
    let stolen = world
        .http
        .get(&url)
        .header("authorization", credential(&theirs, &thief, pushed.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 402);
    assert!(stolen.headers().contains_key("www-authenticate"));
    let problem: Value = stolen.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://paymentauth.org/problems/verification-failed"
    );

    // Nor may a signature answer a challenge whose fees the server pays.
    let pushed_to_pull = world
        .http
        .get(&url)
        .header(
            "authorization",
            credential(&server_paid, &thief, pushed.clone()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pushed_to_pull.status(), 402);

    let own = world
        .http
        .get(&url)
        .header("authorization", credential(&mine, &payer.pubkey(), pushed))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200, "the payer still gets its answer");
    assert_eq!(receipt_of(&own)["reference"], signature.to_string());
}
