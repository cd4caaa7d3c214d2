//! The x402 `exact` scheme over HTTP against the embedded localnet: a payment
//! settles on chain, a duplicate is refused, and each rule, when broken, is
//! refused with its reason.

use crate::support::{now, World, USDC};
use base64::Engine;
use paytab_protocol::keys::{KeySet, PublishedKey};
use paytab_protocol::proof::{Proof, Scheme, Settlement};
use serde_json::{json, Value};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{v0, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;

pub(crate) const PRICE: u64 = 25_000;
const MEMO_PROGRAM: Pubkey = Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// A payer with tokens and a provider with a token account.
pub(crate) struct Parties {
    pub(crate) payer: Keypair,
    pub(crate) provider: Keypair,
}

pub(crate) async fn parties(world: &World) -> Parties {
    Parties {
        payer: world.wallet(USDC).await,
        provider: world.wallet(1).await,
    }
}

pub(crate) fn requirement(world: &World, pay_to: &Pubkey, amount: u64) -> Value {
    json!({
        "scheme": "exact",
        "network": world.network(),
        "amount": amount.to_string(),
        "asset": world.mint().to_string(),
        "payTo": pay_to.to_string(),
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": world.facilitator_key.pubkey().to_string()},
    })
}

/// The instructions an honest client sends.
pub(crate) fn honest_instructions(
    world: &World,
    parties: &Parties,
    amount: u64,
) -> Vec<Instruction> {
    let transfer = spl_token_interface::instruction::transfer_checked(
        &spl_token_interface::ID,
        &world.ata(&parties.payer.pubkey()),
        &world.mint(),
        &world.ata(&parties.provider.pubkey()),
        &parties.payer.pubkey(),
        &[],
        amount,
        6,
    )
    .unwrap();
    vec![
        ComputeBudgetInstruction::set_compute_unit_limit(20_000),
        ComputeBudgetInstruction::set_compute_unit_price(1),
        transfer,
        Instruction {
            program_id: MEMO_PROGRAM,
            accounts: vec![],
            data: format!("{:032x}", rand_u128()).into_bytes(),
        },
    ]
}

fn rand_u128() -> u128 {
    u128::from_le_bytes(Keypair::new().pubkey().to_bytes()[..16].try_into().unwrap())
}

/// An honest payment of `PRICE`, signed by the payer, ready to send.
pub(crate) async fn honest_wire(world: &World, parties: &Parties) -> String {
    wire(
        world,
        &honest_instructions(world, parties, PRICE),
        &[&parties.payer],
    )
    .await
}

/// Base64 of a v0 transaction paid by the facilitator and signed by `signers` only.
pub(crate) async fn wire(
    world: &World,
    instructions: &[Instruction],
    signers: &[&Keypair],
) -> String {
    let blockhash = world.rpc.get_latest_blockhash().await.unwrap();
    let message = v0::Message::try_compile(
        &world.facilitator_key.pubkey(),
        instructions,
        &[],
        blockhash,
    )
    .unwrap();
    let message = VersionedMessage::V0(message);
    let bytes = message.serialize();
    let required = usize::from(message.header().num_required_signatures);
    let keys = message.static_account_keys();
    let signatures = (0..required)
        .map(|index| {
            signers
                .iter()
                .find(|signer| signer.pubkey() == keys[index])
                .map_or_else(Signature::default, |signer| signer.sign_message(&bytes))
        })
        .collect();
    let transaction = VersionedTransaction {
        signatures,
        message,
    };
    base64::engine::general_purpose::STANDARD.encode(bincode::serialize(&transaction).unwrap())
}

async fn post(world: &World, path: &str, requirement: &Value, transaction: String) -> Value {
    let body = world.body(requirement, json!({"transaction": transaction}));
    let (status, answer) = world.post(path, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn an_exact_payment_settles_on_chain_and_its_proof_names_the_transaction() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    let transaction = honest_wire(&world, &parties).await;

    let verified = post(&world, "/verify", &requirement, transaction.clone()).await;
    assert_eq!(verified["isValid"], true, "{verified}");
    assert_eq!(verified["payer"], parties.payer.pubkey().to_string());

    let settled = post(&world, "/settle", &requirement, transaction).await;
    assert_eq!(settled["success"], true, "{settled}");
    let signature: Signature = settled["transaction"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        world.token_balance(&parties.provider.pubkey()).await,
        1 + PRICE
    );
    assert_eq!(
        world.token_balance(&parties.payer.pubkey()).await,
        USDC - PRICE
    );

    let (_, keys) = world.get("/keys").await;
    let mut set = KeySet::default();
    for key in serde_json::from_value::<Vec<PublishedKey>>(keys["keys"].clone()).unwrap() {
        set.insert_published(&key).unwrap();
    }
    let proof = Proof::verify(
        settled["extensions"]["paytab"]["proof"].as_str().unwrap(),
        &set,
        now(),
    )
    .unwrap();
    assert_eq!(proof.scheme, Scheme::Exact);
    assert_eq!(proof.amount, PRICE);
    assert_eq!(proof.payer, parties.payer.pubkey());
    assert_eq!(proof.pay_to, parties.provider.pubkey());
    assert_eq!(proof.settlement, Settlement::Transaction(signature.into()));
    world.shutdown().await;
}

#[tokio::test]
async fn a_transaction_settled_once_is_a_duplicate_carrying_its_first_proof() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    let transaction = honest_wire(&world, &parties).await;
    let first = post(&world, "/settle", &requirement, transaction.clone()).await;
    assert_eq!(first["success"], true, "{first}");
    let proof = &first["extensions"]["paytab"]["proof"];
    let again = post(&world, "/settle", &requirement, transaction.clone()).await;
    assert_eq!(again["success"], false);
    assert_eq!(again["errorReason"], "duplicate_settlement", "{again}");
    assert_eq!(&again["extensions"]["paytab"]["proof"], proof);
    let verified = post(&world, "/verify", &requirement, transaction).await;
    assert_eq!(
        verified["invalidReason"], "duplicate_settlement",
        "{verified}"
    );
    assert_eq!(&verified["extensions"]["paytab"]["proof"], proof);
    assert_eq!(
        world.token_balance(&parties.provider.pubkey()).await,
        1 + PRICE
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_v1_request_settles_and_echoes_the_network() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = json!({
        "scheme": "exact",
        "network": world.network(),
        "maxAmountRequired": PRICE.to_string(),
        "resource": "https://api.example/v1/quote",
        "description": "a quote",
        "mimeType": "application/json",
        "payTo": parties.provider.pubkey().to_string(),
        "maxTimeoutSeconds": 60,
        "asset": world.mint().to_string(),
        "extra": {"feePayer": world.facilitator_key.pubkey().to_string()},
    });
    let transaction = honest_wire(&world, &parties).await;
    let body = json!({
        "x402Version": 1,
        "paymentPayload": {
            "x402Version": 1, "scheme": "exact", "network": world.network(),
            "payload": {"transaction": transaction},
        },
        "paymentRequirements": requirement,
    });
    let (_, answer) = world.post("/settle", &body).await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["network"], world.network());
    world.shutdown().await;
}

/// One way to break the rules, and the reason it must be refused with.
struct Violation {
    name: &'static str,
    reason: &'static str,
    /// Changes the honest instructions.
    instructions: fn(&mut Vec<Instruction>, &Parties, &World),
    /// Changes the requirement.
    requirement: fn(&mut Value, &World),
}

fn keep_instructions(_: &mut Vec<Instruction>, _: &Parties, _: &World) {}
fn keep_requirement(_: &mut Value, _: &World) {}

fn violations() -> Vec<Violation> {
    vec![
        Violation {
            name: "amount below the price",
            reason: "invalid_exact_svm_payload_amount_mismatch",
            instructions: |ixs, parties, world| {
                ixs[2] = spl_token_interface::instruction::transfer_checked(
                    &spl_token_interface::ID,
                    &world.ata(&parties.payer.pubkey()),
                    &world.mint(),
                    &world.ata(&parties.provider.pubkey()),
                    &parties.payer.pubkey(),
                    &[],
                    PRICE - 1,
                    6,
                )
                .unwrap();
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "paid to someone else",
            reason: "invalid_exact_svm_payload_recipient_mismatch",
            instructions: keep_instructions,
            requirement: |req, _| req["payTo"] = json!(Keypair::new().pubkey().to_string()),
        },
        Violation {
            name: "another mint",
            reason: "invalid_exact_svm_payload_mint_mismatch",
            instructions: keep_instructions,
            requirement: |req, _| req["asset"] = json!(Keypair::new().pubkey().to_string()),
        },
        Violation {
            name: "compute limit too high",
            reason: "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
            instructions: |ixs, _, _| {
                ixs[0] = ComputeBudgetInstruction::set_compute_unit_limit(1_000_000)
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "compute price too high",
            reason: "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction",
            instructions: |ixs, _, _| {
                ixs[1] = ComputeBudgetInstruction::set_compute_unit_price(50_000_000)
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "no transfer",
            reason: "invalid_exact_svm_payload_no_transfer_instruction",
            instructions: |ixs, parties, _| {
                ixs[2] = solana_system_interface::instruction::transfer(
                    &parties.payer.pubkey(),
                    &parties.provider.pubkey(),
                    1,
                )
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "too few instructions",
            reason: "invalid_exact_svm_payload_transaction_instructions_length",
            instructions: |ixs, _, _| ixs.truncate(2),
            requirement: keep_requirement,
        },
        Violation {
            name: "an extra instruction",
            reason: "invalid_exact_svm_payload_unexpected_instruction",
            instructions: |ixs, parties, _| {
                ixs.push(solana_system_interface::instruction::transfer(
                    &parties.payer.pubkey(),
                    &parties.provider.pubkey(),
                    1,
                ))
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "the wrong memo",
            reason: "invalid_exact_svm_payload_memo_mismatch",
            instructions: keep_instructions,
            requirement: |req, _| req["extra"]["memo"] = json!("order-42"),
        },
        Violation {
            name: "the fee payer in an instruction",
            reason:
                "invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts",
            instructions: |ixs, _, world| {
                ixs[3].accounts.push(AccountMeta::new_readonly(
                    world.facilitator_key.pubkey(),
                    false,
                ))
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "a third signer",
            reason: "invalid_exact_svm_payload_unexpected_signer",
            instructions: |ixs, _, _| {
                ixs[3]
                    .accounts
                    .push(AccountMeta::new_readonly(Keypair::new().pubkey(), true))
            },
            requirement: keep_requirement,
        },
        Violation {
            name: "another fee payer named",
            reason: "invalid_payment_requirements",
            instructions: keep_instructions,
            requirement: |req, _| {
                req["extra"]["feePayer"] = json!(Keypair::new().pubkey().to_string())
            },
        },
        Violation {
            name: "more than the payer holds",
            reason: "transaction_simulation_failed",
            instructions: |ixs, parties, world| {
                ixs[2] = spl_token_interface::instruction::transfer_checked(
                    &spl_token_interface::ID,
                    &world.ata(&parties.payer.pubkey()),
                    &world.mint(),
                    &world.ata(&parties.provider.pubkey()),
                    &parties.payer.pubkey(),
                    &[],
                    2 * USDC,
                    6,
                )
                .unwrap();
            },
            requirement: |req, _| req["amount"] = json!((2 * USDC).to_string()),
        },
    ]
}

#[tokio::test]
async fn each_broken_rule_is_refused_with_its_reason_and_nothing_moves() {
    let world = World::start().await;
    let parties = parties(&world).await;
    for violation in violations() {
        let mut instructions = honest_instructions(&world, &parties, PRICE);
        (violation.instructions)(&mut instructions, &parties, &world);
        let mut requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
        (violation.requirement)(&mut requirement, &world);
        // Only the payer signs: a third signer's slot stays empty, which the
        // rules must refuse before any signature matters.
        let transaction = wire(&world, &instructions, &[&parties.payer]).await;
        for path in ["/verify", "/settle"] {
            let answer = post(&world, path, &requirement, transaction.clone()).await;
            let reason = if path == "/verify" {
                &answer["invalidReason"]
            } else {
                &answer["errorReason"]
            };
            assert_eq!(reason, violation.reason, "{}: {answer}", violation.name);
        }
    }
    assert_eq!(world.token_balance(&parties.provider.pubkey()).await, 1);
    assert_eq!(world.token_balance(&parties.payer.pubkey()).await, USDC);
    world.shutdown().await;
}

#[tokio::test]
async fn an_undecodable_transaction_is_refused() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    for garbage in ["", "not base64!", "AAAA", &"A".repeat(4_000)] {
        let answer = post(&world, "/verify", &requirement, garbage.to_string()).await;
        assert_eq!(
            answer["invalidReason"], "invalid_exact_svm_payload_transaction_could_not_be_decoded",
            "{answer}"
        );
    }
    world.shutdown().await;
}

/// The payer-signed wire of `instructions`, and the same transaction with
/// the fee payer's signature too (what the facilitator would have sent).
async fn signed_both_ways(world: &World, parties: &Parties) -> (String, VersionedTransaction) {
    let wire = honest_wire(world, parties).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&wire)
        .unwrap();
    let mut transaction: VersionedTransaction = bincode::deserialize(&bytes).unwrap();
    transaction.signatures[0] = world
        .facilitator_key
        .sign_message(&transaction.message.serialize());
    (wire, transaction)
}

/// Records `transaction` as the facilitator does just before sending it.
async fn record_pending(world: &World, parties: &Parties, transaction: &VersionedTransaction) {
    world
        .facilitator()
        .store()
        .begin_transfer(&paytab_facilitator::store::TransferRecord {
            signature: transaction.signatures[0].to_string(),
            payer: parties.payer.pubkey(),
            pay_to: parties.provider.pubkey(),
            mint: world.mint(),
            amount: PRICE,
            status: paytab_facilitator::store::TransferStatus::Pending,
            created_at: now(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_transfer_left_pending_by_a_crash_is_finished_by_the_next_settle_of_the_same_payment() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    let (wire, sent) = signed_both_ways(&world, &parties).await;
    // The facilitator recorded it, sent it, and died before answering.
    record_pending(&world, &parties, &sent).await;
    let landed = world.rpc.send_transaction(&sent).await.unwrap();
    world.wait(&landed).await;

    let verified = post(&world, "/verify", &requirement, wire.clone()).await;
    assert_eq!(verified["isValid"], true, "{verified}");
    let settled = post(&world, "/settle", &requirement, wire.clone()).await;
    assert_eq!(settled["success"], true, "{settled}");
    assert_eq!(settled["transaction"], landed.to_string());
    assert!(settled["extensions"]["paytab"]["proof"].is_string());
    let again = post(&world, "/settle", &requirement, wire).await;
    assert_eq!(again["errorReason"], "duplicate_settlement", "{again}");
    assert_eq!(
        again["extensions"]["paytab"]["proof"], settled["extensions"]["paytab"]["proof"],
        "one transfer, one proof"
    );
    assert_eq!(
        world.token_balance(&parties.provider.pubkey()).await,
        1 + PRICE,
        "one transfer"
    );
    world.shutdown().await;
}

#[tokio::test]
async fn a_transfer_left_pending_that_never_landed_fails_once_its_blockhash_expires() {
    let world = World::start().await;
    let parties = parties(&world).await;
    let requirement = requirement(&world, &parties.provider.pubkey(), PRICE);
    let (wire, lost) = signed_both_ways(&world, &parties).await;
    record_pending(&world, &parties, &lost).await;
    let blockhash = *lost.message.recent_blockhash();
    for _ in 0..400 {
        let valid = world
            .rpc
            .is_blockhash_valid(
                &blockhash,
                solana_commitment_config::CommitmentConfig::processed(),
            )
            .await
            .unwrap();
        if !valid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let settled = post(&world, "/settle", &requirement, wire.clone()).await;
    assert_eq!(settled["errorReason"], "transaction_expired", "{settled}");
    let again = post(&world, "/settle", &requirement, wire).await;
    assert_eq!(again["errorReason"], "transaction_failed", "{again}");
    assert_eq!(world.token_balance(&parties.provider.pubkey()).await, 1);
    world.shutdown().await;
}
