//! Tests of the `exact` rules: one per rule, valid payments, and garbage.

#![allow(clippy::unwrap_used)]

use super::*;
use solana_hash::Hash;
use solana_keypair::Keypair;
use solana_message::{v0, AccountMeta, AddressLookupTableAccount, Instruction, Message};
use solana_signer::Signer;

const DECIMALS: u8 = 6;
const AMOUNT: u64 = 1_250_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    Legacy,
    V0,
}

/// A valid payment, whose parts tests change to break one rule at a time.
struct Payment {
    fee_payer: Keypair,
    payer: Keypair,
    mint: Pubkey,
    pay_to: Pubkey,
    amount: u64,
    memo: Option<String>,
    token_program: Pubkey,
    version: Version,
}

impl Payment {
    fn new() -> Self {
        Self {
            fee_payer: Keypair::new(),
            payer: Keypair::new(),
            mint: Pubkey::new_unique(),
            pay_to: Pubkey::new_unique(),
            amount: AMOUNT,
            memo: None,
            token_program: spl_token_interface::ID,
            version: Version::V0,
        }
    }

    fn with_memo(mut self, memo: &str) -> Self {
        self.memo = Some(memo.to_owned());
        self
    }

    fn requirement(&self) -> ExactRequirement {
        ExactRequirement {
            asset: self.mint,
            pay_to: self.pay_to,
            amount: self.amount,
            fee_payer: self.fee_payer.pubkey(),
            memo: self.memo.clone(),
        }
    }

    fn source(&self) -> Pubkey {
        get_associated_token_address_with_program_id(
            &self.payer.pubkey(),
            &self.mint,
            &self.token_program,
        )
    }

    fn destination(&self) -> Pubkey {
        get_associated_token_address_with_program_id(&self.pay_to, &self.mint, &self.token_program)
    }

    fn transfer_to(&self, destination: &Pubkey) -> Instruction {
        transfer_checked(
            &self.token_program,
            &self.source(),
            &self.mint,
            destination,
            &self.payer.pubkey(),
            self.amount,
        )
    }

    fn transfer(&self) -> Instruction {
        self.transfer_to(&self.destination())
    }

    fn instructions(&self) -> Vec<Instruction> {
        let mut instructions = vec![
            compute_unit_limit(200_000),
            compute_unit_price(10_000),
            self.transfer(),
        ];
        instructions.extend(self.memo.as_deref().map(memo));
        instructions
    }

    fn transaction(&self) -> VersionedTransaction {
        self.transaction_from(&self.instructions())
    }

    fn transaction_from(&self, instructions: &[Instruction]) -> VersionedTransaction {
        self.transaction_signed_by(instructions, &[&self.payer])
    }

    fn transaction_signed_by(
        &self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> VersionedTransaction {
        let message = compile(self.version, &self.fee_payer.pubkey(), instructions, &[]);
        sign(message, signers)
    }

    fn check(&self, tx: &VersionedTransaction) -> Result<ExactTransfer, ExactRuleError> {
        check_transaction(tx, &self.requirement(), &ExactLimits::default())
    }

    fn check_instructions(
        &self,
        instructions: &[Instruction],
    ) -> Result<ExactTransfer, ExactRuleError> {
        self.check(&self.transaction_from(instructions))
    }
}

fn transfer_checked(
    token_program: &Pubkey,
    source: &Pubkey,
    mint: &Pubkey,
    destination: &Pubkey,
    authority: &Pubkey,
    amount: u64,
) -> Instruction {
    if *token_program == spl_token_2022_interface::ID {
        spl_token_2022_interface::instruction::transfer_checked(
            token_program,
            source,
            mint,
            destination,
            authority,
            &[],
            amount,
            DECIMALS,
        )
        .unwrap()
    } else {
        spl_token_interface::instruction::transfer_checked(
            token_program,
            source,
            mint,
            destination,
            authority,
            &[],
            amount,
            DECIMALS,
        )
        .unwrap()
    }
}

fn compute_unit_limit(units: u32) -> Instruction {
    solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(units)
}

fn compute_unit_price(micro_lamports: u64) -> Instruction {
    solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(
        micro_lamports,
    )
}

fn memo(text: &str) -> Instruction {
    Instruction {
        program_id: MEMO_PROGRAM_ID,
        accounts: vec![],
        data: text.as_bytes().to_vec(),
    }
}

fn lighthouse(accounts: Vec<AccountMeta>) -> Instruction {
    Instruction {
        program_id: LIGHTHOUSE_PROGRAM_ID,
        accounts,
        data: vec![4, 0, 1, 2],
    }
}

fn compile(
    version: Version,
    fee_payer: &Pubkey,
    instructions: &[Instruction],
    lookup_tables: &[AddressLookupTableAccount],
) -> VersionedMessage {
    let blockhash = Hash::new_from_array([7; 32]);
    match version {
        Version::Legacy => VersionedMessage::Legacy(Message::new_with_blockhash(
            instructions,
            Some(fee_payer),
            &blockhash,
        )),
        Version::V0 => VersionedMessage::V0(
            v0::Message::try_compile(fee_payer, instructions, lookup_tables, blockhash).unwrap(),
        ),
    }
}

/// Signs as each given signer; every other signature slot, the fee payer's
/// included, is left as the default signature.
fn sign(message: VersionedMessage, signers: &[&Keypair]) -> VersionedTransaction {
    let bytes = message.serialize();
    let required = usize::from(message.header().num_required_signatures);
    let signatures = message.static_account_keys()[..required]
        .iter()
        .map(|key| {
            signers
                .iter()
                .find(|signer| signer.pubkey() == *key)
                .map(|signer| signer.sign_message(&bytes))
                .unwrap_or_default()
        })
        .collect();
    VersionedTransaction {
        signatures,
        message,
    }
}

fn wire(tx: &VersionedTransaction) -> String {
    base64::engine::general_purpose::STANDARD.encode(bincode::serialize(tx).unwrap())
}

fn assert_refused(
    result: Result<ExactTransfer, ExactRuleError>,
    expected: ExactRuleError,
    reason: &str,
) {
    let error = result.unwrap_err();
    assert_eq!(error, expected);
    assert_eq!(error.reason(), reason);
    assert!(!error.to_string().is_empty());
}

/// A small deterministic generator, enough to make varied garbage.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn a_valid_payment_is_accepted_for_both_token_programs_and_message_versions() {
    for token_program in [spl_token_interface::ID, spl_token_2022_interface::ID] {
        for version in [Version::Legacy, Version::V0] {
            let payment = Payment {
                token_program,
                version,
                ..Payment::new()
            };
            let tx = decode_transaction(&wire(&payment.transaction())).unwrap();

            let transfer = payment.check(&tx).unwrap();

            assert_eq!(
                transfer,
                ExactTransfer {
                    payer: payment.payer.pubkey(),
                    source: payment.source(),
                    destination: payment.destination(),
                    mint: payment.mint,
                    token_program,
                    amount: AMOUNT,
                    decimals: DECIMALS,
                    memo: None,
                },
                "{token_program} {version:?}"
            );
        }
    }
}

#[test]
fn a_valid_payment_with_the_required_memo_and_a_lighthouse_assertion_is_accepted() {
    let payment = Payment::new().with_memo("order-42");
    let mut instructions = payment.instructions();
    instructions.push(lighthouse(vec![AccountMeta::new_readonly(
        payment.source(),
        false,
    )]));

    let transfer = payment.check_instructions(&instructions).unwrap();

    assert_eq!(transfer.memo.as_deref(), Some("order-42"));
}

#[test]
fn a_memo_is_returned_even_when_none_is_required() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.push(memo("hello"));

    let transfer = payment.check_instructions(&instructions).unwrap();

    assert_eq!(transfer.memo.as_deref(), Some("hello"));
}

#[test]
fn the_fee_payer_signature_slot_is_left_empty_in_an_accepted_payment() {
    let payment = Payment::new();
    let tx = payment.transaction();

    assert_eq!(tx.signatures[0], Signature::default());
    assert!(payment.check(&tx).is_ok());
}

#[test]
fn garbage_base64_is_refused_as_undecodable() {
    let error = decode_transaction("this is not base64!").unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
    assert_eq!(
        error.reason(),
        "invalid_exact_svm_payload_transaction_could_not_be_decoded"
    );
}

#[test]
fn valid_base64_of_garbage_bytes_is_refused_as_undecodable() {
    let wire = base64::engine::general_purpose::STANDARD.encode([1, 2, 3, 4, 5]);

    let error = decode_transaction(&wire).unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
}

#[test]
fn a_transaction_with_trailing_bytes_is_refused_as_undecodable() {
    let mut bytes = bincode::serialize(&Payment::new().transaction()).unwrap();
    bytes.push(0);
    let wire = base64::engine::general_purpose::STANDARD.encode(bytes);

    let error = decode_transaction(&wire).unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
}

#[test]
fn base64_longer_than_the_limit_is_refused_as_undecodable() {
    let wire = "A".repeat(MAX_TRANSACTION_BASE64_CHARS + 4);

    let error = decode_transaction(&wire).unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
}

#[test]
fn a_transaction_larger_than_a_packet_is_refused_as_undecodable() {
    let wire = base64::engine::general_purpose::STANDARD.encode([0; MAX_TRANSACTION_BYTES + 1]);
    assert!(wire.len() <= MAX_TRANSACTION_BASE64_CHARS);

    let error = decode_transaction(&wire).unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
}

#[test]
fn arbitrary_bytes_and_corrupted_transactions_never_panic() {
    let payment = Payment::new().with_memo("m");
    let requirement = payment.requirement();
    let limits = ExactLimits::default();
    let valid = bincode::serialize(&payment.transaction()).unwrap();
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for round in 0..600 {
        let bytes = if round % 3 == 0 {
            let len = random.below(MAX_TRANSACTION_BYTES + 8);
            random.bytes(len)
        } else {
            corrupt(&valid, &mut random)
        };
        let wire = base64::engine::general_purpose::STANDARD.encode(&bytes);
        if let Ok(tx) = decode_transaction(&wire) {
            let _ = check_transaction(&tx, &requirement, &limits);
            checked += 1;
        }
        let _ = decode_transaction(&String::from_utf8_lossy(&bytes));
    }
    assert!(
        checked > 100,
        "only {checked} corrupted transactions decoded"
    );
}

fn corrupt(valid: &[u8], random: &mut XorShift) -> Vec<u8> {
    let mut corrupted = valid.to_vec();
    for _ in 0..=random.below(4) {
        let at = random.below(corrupted.len());
        corrupted[at] = random.next() as u8;
    }
    if random.below(8) == 0 {
        corrupted.truncate(random.below(valid.len()));
    }
    corrupted
}

#[test]
fn a_transaction_with_too_few_instructions_is_refused() {
    let payment = Payment::new();
    let instructions = [compute_unit_limit(200_000), payment.transfer()];

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::InstructionCount(2),
        "invalid_exact_svm_payload_transaction_instructions_length",
    );
}

#[test]
fn a_transaction_with_too_many_instructions_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.extend((0..5).map(|_| lighthouse(vec![])));

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::InstructionCount(8),
        "invalid_exact_svm_payload_transaction_instructions_length",
    );
}

#[test]
fn a_transaction_paid_by_another_fee_payer_is_refused() {
    let payment = Payment::new();
    let other_fee_payer = Pubkey::new_unique();
    let requirement = ExactRequirement {
        fee_payer: other_fee_payer,
        ..payment.requirement()
    };

    assert_refused(
        check_transaction(
            &payment.transaction(),
            &requirement,
            &ExactLimits::default(),
        ),
        ExactRuleError::FeePayerMismatch {
            expected: other_fee_payer,
            found: payment.fee_payer.pubkey(),
        },
        "invalid_exact_svm_payload_fee_payer_mismatch",
    );
}

#[test]
fn a_compute_unit_limit_above_the_maximum_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[0] = compute_unit_limit(DEFAULT_MAX_COMPUTE_UNIT_LIMIT + 1);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::ComputeLimit {
            max: DEFAULT_MAX_COMPUTE_UNIT_LIMIT,
        },
        "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
    );
}

#[test]
fn a_compute_unit_limit_at_the_maximum_is_accepted() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[0] = compute_unit_limit(DEFAULT_MAX_COMPUTE_UNIT_LIMIT);
    instructions[1] = compute_unit_price(DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS);

    assert!(payment.check_instructions(&instructions).is_ok());
}

#[test]
fn a_transaction_not_starting_with_a_compute_unit_limit_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.swap(0, 1);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::ComputeLimit {
            max: DEFAULT_MAX_COMPUTE_UNIT_LIMIT,
        },
        "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
    );
}

#[test]
fn a_compute_unit_limit_with_extra_data_bytes_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[0].data.push(0);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::ComputeLimit {
            max: DEFAULT_MAX_COMPUTE_UNIT_LIMIT,
        },
        "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
    );
}

#[test]
fn a_compute_unit_price_above_the_maximum_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[1] = compute_unit_price(DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS + 1);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::ComputePrice {
            max: DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
        },
        "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction",
    );
}

#[test]
fn a_missing_compute_unit_price_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[1] = compute_unit_limit(1_000);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::ComputePrice {
            max: DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
        },
        "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction",
    );
}

#[test]
fn stricter_limits_are_applied() {
    let payment = Payment::new();
    let limits = ExactLimits {
        max_compute_unit_limit: 100_000,
        ..ExactLimits::default()
    };

    assert_eq!(
        check_transaction(&payment.transaction(), &payment.requirement(), &limits),
        Err(ExactRuleError::ComputeLimit { max: 100_000 })
    );
}

#[test]
fn a_plain_transfer_instead_of_transfer_checked_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2] = spl_token_interface::instruction::transfer(
        &spl_token_interface::ID,
        &payment.source(),
        &payment.destination(),
        &payment.payer.pubkey(),
        &[],
        AMOUNT,
    )
    .unwrap();

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::NoTransferInstruction,
        "invalid_exact_svm_payload_no_transfer_instruction",
    );
}

#[test]
fn a_transfer_checked_of_an_unknown_token_program_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2].program_id = Pubkey::new_unique();

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::NoTransferInstruction,
        "invalid_exact_svm_payload_no_transfer_instruction",
    );
}

#[test]
fn a_transfer_checked_with_trailing_data_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2].data.push(0);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::NoTransferInstruction,
        "invalid_exact_svm_payload_no_transfer_instruction",
    );
}

#[test]
fn a_multisignature_transfer_checked_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2]
        .accounts
        .push(AccountMeta::new_readonly(Pubkey::new_unique(), false));

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::NoTransferInstruction,
        "invalid_exact_svm_payload_no_transfer_instruction",
    );
}

#[test]
fn the_fee_payer_as_transfer_authority_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2] = transfer_checked(
        &payment.token_program,
        &payment.source(),
        &payment.mint,
        &payment.destination(),
        &payment.fee_payer.pubkey(),
        AMOUNT,
    );

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::FeePayerTransferringFunds,
        "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    );
}

#[test]
fn the_fee_payer_as_transfer_source_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2] = transfer_checked(
        &payment.token_program,
        &payment.fee_payer.pubkey(),
        &payment.mint,
        &payment.destination(),
        &payment.payer.pubkey(),
        AMOUNT,
    );

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::FeePayerTransferringFunds,
        "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    );
}

#[test]
fn the_fee_payer_in_another_instruction_accounts_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.push(lighthouse(vec![AccountMeta::new_readonly(
        payment.fee_payer.pubkey(),
        false,
    )]));

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::FeePayerInInstructionAccounts,
        "invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts",
    );
}

#[test]
fn the_fee_payer_in_a_compute_budget_instruction_accounts_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[0]
        .accounts
        .push(AccountMeta::new(payment.fee_payer.pubkey(), true));

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::FeePayerInInstructionAccounts,
        "invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts",
    );
}

#[test]
fn a_v0_transaction_with_address_lookup_tables_is_refused() {
    let payment = Payment::new();
    let lookup_table = AddressLookupTableAccount {
        key: Pubkey::new_unique(),
        addresses: vec![payment.destination()],
    };
    let message = compile(
        Version::V0,
        &payment.fee_payer.pubkey(),
        &payment.instructions(),
        &[lookup_table],
    );
    assert!(!message.address_table_lookups().unwrap().is_empty());
    let tx = sign(message, &[&payment.payer]);

    assert_refused(
        payment.check(&tx),
        ExactRuleError::AddressLookupTablesUnsupported,
        "invalid_exact_svm_payload_address_lookup_tables_unsupported",
    );
}

#[test]
fn a_transfer_of_the_wrong_mint_is_refused() {
    let payment = Payment::new();
    let other_mint = Pubkey::new_unique();
    let mut instructions = payment.instructions();
    instructions[2] = transfer_checked(
        &payment.token_program,
        &payment.source(),
        &other_mint,
        &payment.destination(),
        &payment.payer.pubkey(),
        AMOUNT,
    );

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::MintMismatch {
            expected: payment.mint,
            found: other_mint,
        },
        "invalid_exact_svm_payload_mint_mismatch",
    );
}

#[test]
fn a_transfer_to_the_wrong_recipient_is_refused() {
    let payment = Payment::new();
    let elsewhere = get_associated_token_address_with_program_id(
        &Pubkey::new_unique(),
        &payment.mint,
        &payment.token_program,
    );
    let mut instructions = payment.instructions();
    instructions[2] = payment.transfer_to(&elsewhere);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::RecipientMismatch {
            expected: payment.destination(),
            found: elsewhere,
        },
        "invalid_exact_svm_payload_recipient_mismatch",
    );
}

#[test]
fn a_transfer_to_the_recipient_wallet_itself_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions[2] = payment.transfer_to(&payment.pay_to);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::RecipientMismatch {
            expected: payment.destination(),
            found: payment.pay_to,
        },
        "invalid_exact_svm_payload_recipient_mismatch",
    );
}

#[test]
fn a_token_2022_transfer_to_the_recipient_spl_token_account_is_refused() {
    let payment = Payment {
        token_program: spl_token_2022_interface::ID,
        ..Payment::new()
    };
    let spl_token_account = get_associated_token_address_with_program_id(
        &payment.pay_to,
        &payment.mint,
        &spl_token_interface::ID,
    );
    let mut instructions = payment.instructions();
    instructions[2] = payment.transfer_to(&spl_token_account);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::RecipientMismatch {
            expected: payment.destination(),
            found: spl_token_account,
        },
        "invalid_exact_svm_payload_recipient_mismatch",
    );
}

#[test]
fn a_transfer_of_less_than_the_required_amount_is_refused() {
    let payment = Payment::new();
    let short = Payment {
        amount: AMOUNT - 1,
        ..payment_like(&payment)
    };

    assert_refused(
        payment.check(&short.transaction()),
        ExactRuleError::AmountMismatch {
            expected: AMOUNT,
            found: AMOUNT - 1,
        },
        "invalid_exact_svm_payload_amount_mismatch",
    );
}

#[test]
fn a_transfer_of_more_than_the_required_amount_is_refused() {
    let payment = Payment::new();
    let over = Payment {
        amount: AMOUNT + 1,
        ..payment_like(&payment)
    };

    assert_refused(
        payment.check(&over.transaction()),
        ExactRuleError::AmountMismatch {
            expected: AMOUNT,
            found: AMOUNT + 1,
        },
        "invalid_exact_svm_payload_amount_mismatch",
    );
}

fn payment_like(payment: &Payment) -> Payment {
    Payment {
        fee_payer: payment.fee_payer.insecure_clone(),
        payer: payment.payer.insecure_clone(),
        mint: payment.mint,
        pay_to: payment.pay_to,
        amount: payment.amount,
        memo: payment.memo.clone(),
        token_program: payment.token_program,
        version: payment.version,
    }
}

#[test]
fn an_unexpected_instruction_after_the_transfer_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.push(payment.transfer());

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::UnexpectedInstruction(3),
        "invalid_exact_svm_payload_unexpected_instruction",
    );
}

#[test]
fn a_missing_required_memo_is_refused() {
    let payment = Payment::new().with_memo("order-42");
    let mut instructions = payment.instructions();
    instructions.truncate(3);

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::MemoMismatch,
        "invalid_exact_svm_payload_memo_mismatch",
    );
}

#[test]
fn a_different_memo_is_refused() {
    let payment = Payment::new().with_memo("order-42");
    let mut instructions = payment.instructions();
    instructions[3] = memo("order-43");

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::MemoMismatch,
        "invalid_exact_svm_payload_memo_mismatch",
    );
}

#[test]
fn a_repeated_memo_is_refused() {
    let payment = Payment::new().with_memo("order-42");
    let mut instructions = payment.instructions();
    instructions.push(memo("order-42"));

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::MemoMismatch,
        "invalid_exact_svm_payload_memo_mismatch",
    );
}

#[test]
fn a_memo_that_is_not_utf8_is_refused() {
    let payment = Payment::new();
    let mut instructions = payment.instructions();
    instructions.push(Instruction {
        program_id: MEMO_PROGRAM_ID,
        accounts: vec![],
        data: vec![0xff, 0xfe],
    });

    assert_refused(
        payment.check_instructions(&instructions),
        ExactRuleError::MemoMismatch,
        "invalid_exact_svm_payload_memo_mismatch",
    );
}

#[test]
fn a_third_signer_is_refused() {
    let payment = Payment::new();
    let stranger = Keypair::new();
    let mut instructions = payment.instructions();
    instructions.push(lighthouse(vec![AccountMeta::new_readonly(
        stranger.pubkey(),
        true,
    )]));
    let tx = payment.transaction_signed_by(&instructions, &[&payment.payer, &stranger]);
    assert_eq!(tx.message.header().num_required_signatures, 3);

    assert_refused(
        payment.check(&tx),
        ExactRuleError::UnexpectedSigner,
        "invalid_exact_svm_payload_unexpected_signer",
    );
}

#[test]
fn a_transfer_authority_that_does_not_sign_is_refused() {
    let payment = Payment::new();
    let stranger = Keypair::new();
    let mut instructions = payment.instructions();
    instructions[2].accounts[3].is_signer = false;
    instructions.push(lighthouse(vec![AccountMeta::new_readonly(
        stranger.pubkey(),
        true,
    )]));
    let tx = payment.transaction_signed_by(&instructions, &[&stranger]);
    assert_eq!(tx.message.header().num_required_signatures, 2);

    assert_refused(
        payment.check(&tx),
        ExactRuleError::UnexpectedSigner,
        "invalid_exact_svm_payload_unexpected_signer",
    );
}

#[test]
fn extra_signatures_beyond_the_required_two_are_refused() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    tx.signatures.push(Signature::default());

    assert_refused(
        payment.check(&tx),
        ExactRuleError::UnexpectedSigner,
        "invalid_exact_svm_payload_unexpected_signer",
    );
}

#[test]
fn a_transaction_without_the_payer_signature_is_refused() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    tx.signatures[1] = Signature::default();

    assert_refused(
        payment.check(&tx),
        ExactRuleError::MissingPayerSignature,
        "invalid_exact_svm_payload_missing_signature",
    );
}

#[test]
fn a_transaction_with_only_one_signature_slot_is_refused() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    tx.signatures.truncate(1);

    assert_refused(
        payment.check(&tx),
        ExactRuleError::MissingPayerSignature,
        "invalid_exact_svm_payload_missing_signature",
    );
}

#[test]
fn a_payer_signature_over_another_message_is_refused() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    tx.message
        .set_recent_blockhash(Hash::new_from_array([9; 32]));

    assert_refused(
        payment.check(&tx),
        ExactRuleError::InvalidPayerSignature,
        "invalid_exact_svm_payload_missing_signature",
    );
}

#[test]
fn a_payer_signature_made_by_another_key_is_refused() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    tx.signatures[1] = Keypair::new().sign_message(&tx.message.serialize());

    assert_refused(
        payment.check(&tx),
        ExactRuleError::InvalidPayerSignature,
        "invalid_exact_svm_payload_missing_signature",
    );
}

#[test]
fn a_message_with_out_of_range_account_indexes_is_refused_as_undecodable() {
    let payment = Payment::new();
    let mut tx = payment.transaction();
    let VersionedMessage::V0(message) = &mut tx.message else {
        panic!("the default payment is a v0 message");
    };
    message.instructions[2].accounts[1] = u8::MAX;

    let error = payment.check(&tx).unwrap_err();

    assert!(matches!(
        error,
        ExactRuleError::TransactionCouldNotBeDecoded(_)
    ));
}

#[test]
fn every_error_has_a_reason_code() {
    let key = Pubkey::new_unique();
    let errors = [
        ExactRuleError::TransactionCouldNotBeDecoded(String::new()),
        ExactRuleError::InstructionCount(0),
        ExactRuleError::FeePayerMismatch {
            expected: key,
            found: key,
        },
        ExactRuleError::ComputeLimit { max: 0 },
        ExactRuleError::ComputePrice { max: 0 },
        ExactRuleError::NoTransferInstruction,
        ExactRuleError::FeePayerTransferringFunds,
        ExactRuleError::FeePayerInInstructionAccounts,
        ExactRuleError::MintMismatch {
            expected: key,
            found: key,
        },
        ExactRuleError::RecipientMismatch {
            expected: key,
            found: key,
        },
        ExactRuleError::AmountMismatch {
            expected: 0,
            found: 0,
        },
        ExactRuleError::MemoMismatch,
        ExactRuleError::UnexpectedInstruction(3),
        ExactRuleError::UnexpectedSigner,
        ExactRuleError::MissingPayerSignature,
        ExactRuleError::InvalidPayerSignature,
        ExactRuleError::AddressLookupTablesUnsupported,
    ];
    let mut reasons: Vec<&str> = errors.iter().map(ExactRuleError::reason).collect();
    assert!(reasons
        .iter()
        .all(|reason| reason.starts_with("invalid_exact_svm_payload_")));
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(
        reasons.len(),
        errors.len() - 1,
        "only the two signature errors share a code"
    );
}
