//! Tests of the charge allow-list: the draft's transaction in any order,
//! client-paid and facilitator-paid, and one test per refusal.

#![allow(clippy::unwrap_used)]

use super::*;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{v0, VersionedMessage};
use solana_signer::Signer;
use spl_associated_token_account_interface::address::get_associated_token_address;

const AMOUNT: u64 = 10_000;

struct Charge {
    fee_payer: Keypair,
    payer: Keypair,
    mint: Pubkey,
    pay_to: Pubkey,
}

impl Charge {
    fn new() -> Self {
        Self {
            fee_payer: Keypair::new(),
            payer: Keypair::new(),
            mint: Pubkey::new_unique(),
            pay_to: Pubkey::new_unique(),
        }
    }

    fn requirement(&self, facilitator_pays: bool, memo: Option<&str>) -> ChargeRequirement {
        ChargeRequirement {
            asset: self.mint,
            pay_to: self.pay_to,
            amount: AMOUNT,
            fee_payer: facilitator_pays.then(|| self.fee_payer.pubkey()),
            memo: memo.map(str::to_string),
        }
    }

    fn create_account(&self, funder: &Pubkey) -> Instruction {
        spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
            funder,
            &self.pay_to,
            &self.mint,
            &spl_token_interface::ID,
        )
    }

    fn transfer(&self, amount: u64) -> Instruction {
        spl_token_interface::instruction::transfer_checked(
            &spl_token_interface::ID,
            &get_associated_token_address(&self.payer.pubkey(), &self.mint),
            &self.mint,
            &get_associated_token_address(&self.pay_to, &self.mint),
            &self.payer.pubkey(),
            &[],
            amount,
            6,
        )
        .unwrap()
    }

    /// The draft's transaction: compute budget, account creation, transfer.
    fn draft_instructions(&self) -> Vec<Instruction> {
        vec![
            solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(1),
            solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(
                50_000,
            ),
            self.create_account(&self.payer.pubkey()),
            self.transfer(AMOUNT),
        ]
    }

    /// Signed by the payer only, the facilitator's slot left empty.
    fn facilitator_paid(&self, instructions: &[Instruction]) -> VersionedTransaction {
        let message = v0::Message::try_compile(
            &self.fee_payer.pubkey(),
            instructions,
            &[],
            Hash::new_unique(),
        )
        .unwrap();
        let message = VersionedMessage::V0(message);
        let mut tx = VersionedTransaction {
            signatures: vec![Signature::default(); 2],
            message,
        };
        tx.signatures[1] = self.payer.sign_message(&tx.message.serialize());
        tx
    }

    /// Paid and signed by the payer alone.
    fn client_paid(&self, instructions: &[Instruction]) -> VersionedTransaction {
        let message =
            v0::Message::try_compile(&self.payer.pubkey(), instructions, &[], Hash::new_unique())
                .unwrap();
        VersionedTransaction::try_new(VersionedMessage::V0(message), &[&self.payer]).unwrap()
    }
}

fn memo(text: &str) -> Instruction {
    Instruction::new_with_bytes(MEMO_PROGRAM_ID, text.as_bytes(), Vec::new())
}

#[test]
fn the_drafts_transaction_with_account_creation_is_accepted_when_the_facilitator_pays_fees() {
    let charge = Charge::new();
    let tx = charge.facilitator_paid(&charge.draft_instructions());
    let transfer = check_charge_transaction(
        &tx,
        &charge.requirement(true, None),
        &ExactLimits::default(),
    )
    .unwrap();
    assert_eq!(transfer.payer, charge.payer.pubkey());
    assert_eq!(transfer.amount, AMOUNT);
}

#[test]
fn a_bare_transfer_in_any_order_with_its_memo_is_accepted_when_the_client_pays_fees() {
    let charge = Charge::new();
    let mut instructions = vec![memo("order-7"), charge.transfer(AMOUNT)];
    instructions.extend(charge.draft_instructions().into_iter().take(2));
    let tx = charge.client_paid(&instructions);
    let transfer = check_charge_transaction(
        &tx,
        &charge.requirement(false, Some("order-7")),
        &ExactLimits::default(),
    )
    .unwrap();
    assert_eq!(transfer.memo.as_deref(), Some("order-7"));
}

#[test]
fn the_facilitator_never_funds_the_recipients_account() {
    let charge = Charge::new();
    let mut instructions = charge.draft_instructions();
    instructions[2] = charge.create_account(&charge.fee_payer.pubkey());
    let tx = charge.facilitator_paid(&instructions);
    let error = check_charge_transaction(
        &tx,
        &charge.requirement(true, None),
        &ExactLimits::default(),
    )
    .unwrap_err();
    assert_eq!(error, ExactRuleError::AccountCreation);
}

#[test]
fn only_the_recipients_account_may_be_created() {
    let charge = Charge::new();
    let mut instructions = charge.draft_instructions();
    let stranger = Charge::new();
    instructions[2] = spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
        &charge.payer.pubkey(),
        &stranger.pay_to,
        &charge.mint,
        &spl_token_interface::ID,
    );
    let tx = charge.facilitator_paid(&instructions);
    let error = check_charge_transaction(
        &tx,
        &charge.requirement(true, None),
        &ExactLimits::default(),
    )
    .unwrap_err();
    assert_eq!(error, ExactRuleError::AccountCreation);
}

#[test]
fn instructions_outside_the_allow_list_or_repeated_are_refused() {
    let charge = Charge::new();
    let drain = solana_system_interface::instruction::transfer(
        &charge.payer.pubkey(),
        &Pubkey::new_unique(),
        1,
    );
    let close = Instruction::new_with_bytes(
        spl_token_interface::ID,
        &[9],
        vec![AccountMeta::new(charge.payer.pubkey(), true)],
    );
    for extra in [drain, close, charge.transfer(AMOUNT), memo("a")] {
        let mut instructions = charge.draft_instructions();
        instructions.push(memo("first"));
        instructions.push(extra);
        let tx = charge.client_paid(&instructions);
        let error = check_charge_transaction(
            &tx,
            &charge.requirement(false, None),
            &ExactLimits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, ExactRuleError::ChargeInstruction(5)),
            "{error}"
        );
    }
}

#[test]
fn the_amount_recipient_memo_and_compute_price_are_checked() {
    let charge = Charge::new();
    let limits = ExactLimits::default();
    let tx = charge.client_paid(&[charge.transfer(AMOUNT - 1)]);
    assert!(matches!(
        check_charge_transaction(&tx, &charge.requirement(false, None), &limits),
        Err(ExactRuleError::AmountMismatch { .. })
    ));
    let tx = charge.client_paid(&[charge.transfer(AMOUNT), memo("other")]);
    assert_eq!(
        check_charge_transaction(&tx, &charge.requirement(false, Some("mine")), &limits),
        Err(ExactRuleError::MemoMismatch)
    );
    let tx = charge.client_paid(&[charge.transfer(AMOUNT)]);
    assert_eq!(
        check_charge_transaction(&tx, &charge.requirement(false, Some("mine")), &limits),
        Err(ExactRuleError::MemoMismatch),
        "a required memo is required"
    );
    let expensive =
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(
            limits.max_compute_unit_price_micro_lamports + 1,
        );
    let tx = charge.facilitator_paid(&[expensive, charge.transfer(AMOUNT)]);
    assert_eq!(
        check_charge_transaction(&tx, &charge.requirement(true, None), &limits),
        Err(ExactRuleError::ChargeInstruction(0))
    );
}

#[test]
fn a_client_paid_charge_must_be_fully_signed_and_a_facilitator_paid_one_must_name_its_fee_payer() {
    let charge = Charge::new();
    let limits = ExactLimits::default();
    let mut unsigned = charge.client_paid(&[charge.transfer(AMOUNT)]);
    unsigned.signatures[0] = Signature::default();
    assert_eq!(
        check_charge_transaction(&unsigned, &charge.requirement(false, None), &limits),
        Err(ExactRuleError::MissingSignatures)
    );
    let client_paid = charge.client_paid(&[charge.transfer(AMOUNT)]);
    assert!(matches!(
        check_charge_transaction(&client_paid, &charge.requirement(true, None), &limits),
        Err(ExactRuleError::FeePayerMismatch { .. })
    ));
}
