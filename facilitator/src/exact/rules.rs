//! The checks a facilitator makes on an x402 Solana `exact` payment before it
//! co-signs as fee payer.
//!
//! Everything here is pure: the transaction is judged on its bytes alone, with
//! no RPC and no clock. The instruction layout it accepts is
//! `[SetComputeUnitLimit, SetComputeUnitPrice, TransferChecked, (Memo | Lighthouse)*]`.

use base64::Engine as _;
use bincode::Options as _;
use solana_message::{compiled_instruction::CompiledInstruction, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use spl_associated_token_account_interface::address::get_associated_token_address_with_program_id;

/// The SPL Memo program.
pub const MEMO_PROGRAM_ID: Pubkey =
    solana_pubkey::pubkey!("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// The Lighthouse assertion program, which wallets may append to a payment.
pub const LIGHTHOUSE_PROGRAM_ID: Pubkey =
    solana_pubkey::pubkey!("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95");

/// The largest wire transaction Solana accepts, in bytes.
pub const MAX_TRANSACTION_BYTES: usize = 1232;

/// The longest base64 text accepted for a transaction, in characters.
pub const MAX_TRANSACTION_BASE64_CHARS: usize = 2048;

/// The fewest instructions a payment may have.
pub const MIN_INSTRUCTIONS: usize = 3;

/// The most instructions a payment may have.
pub const MAX_INSTRUCTIONS: usize = 7;

/// The highest compute unit limit the x402 `exact` scheme lets a facilitator accept.
pub const X402_MAX_COMPUTE_UNIT_LIMIT: u32 = 400_000;

/// The highest compute unit price the x402 `exact` scheme lets a facilitator
/// accept, in micro-lamports per unit (5 lamports per unit).
pub const X402_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS: u64 = 5_000_000;

/// The default ceiling on the compute unit limit a payment may request: a
/// token transfer with a memo needs a few tens of thousands.
pub const DEFAULT_MAX_COMPUTE_UNIT_LIMIT: u32 = 200_000;

/// The default ceiling on the compute unit price, in micro-lamports per unit
/// (0.05 lamports per unit): with the default limit, at most 10,000 lamports
/// of priority fee per settlement, paid by the facilitator.
pub const DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS: u64 = 50_000;

const COMPUTE_LIMIT_INDEX: usize = 0;
const COMPUTE_PRICE_INDEX: usize = 1;
const TRANSFER_INDEX: usize = 2;
const FEE_PAYER_KEY_INDEX: usize = 0;
const TRANSFER_AUTHORITY_KEY_INDEX: usize = 1;
const REQUIRED_SIGNATURES: u8 = 2;
pub(super) const SET_COMPUTE_UNIT_LIMIT_TAG: u8 = 2;
pub(super) const SET_COMPUTE_UNIT_PRICE_TAG: u8 = 3;
const TRANSFER_CHECKED_DATA_LEN: usize = 10;

/// What the resource server asks to be paid, and by whose fee payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactRequirement {
    /// The mint of the token to pay in.
    pub asset: Pubkey,
    /// The wallet to be paid; the transfer goes to its associated token account.
    pub pay_to: Pubkey,
    /// The exact amount, in the token's base units.
    pub amount: u64,
    /// The facilitator's fee payer, which must be account key 0.
    pub fee_payer: Pubkey,
    /// A memo the transaction must carry, if any.
    pub memo: Option<String>,
}

/// The facilitator's ceilings on the compute budget it will pay for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactLimits {
    /// The highest compute unit limit accepted.
    pub max_compute_unit_limit: u32,
    /// The highest compute unit price accepted, in micro-lamports per unit.
    pub max_compute_unit_price_micro_lamports: u64,
}

impl ExactLimits {
    /// The most a payment within these limits costs its fee payer, lamports:
    /// two signatures and the priority fee.
    pub fn max_fee_lamports(&self) -> u64 {
        let priority = u128::from(self.max_compute_unit_limit)
            * u128::from(self.max_compute_unit_price_micro_lamports);
        let priority = u64::try_from(priority.div_ceil(1_000_000)).unwrap_or(u64::MAX);
        priority.saturating_add(2 * 5_000)
    }
}

impl Default for ExactLimits {
    fn default() -> Self {
        Self {
            max_compute_unit_limit: DEFAULT_MAX_COMPUTE_UNIT_LIMIT,
            max_compute_unit_price_micro_lamports: DEFAULT_MAX_COMPUTE_UNIT_PRICE_MICRO_LAMPORTS,
        }
    }
}

/// The transfer an accepted payment makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactTransfer {
    /// The transfer authority: the wallet that pays.
    pub payer: Pubkey,
    /// The token account the funds leave.
    pub source: Pubkey,
    /// The token account the funds reach: the recipient's associated token account.
    pub destination: Pubkey,
    /// The token's mint.
    pub mint: Pubkey,
    /// The token program (SPL Token or Token-2022) that runs the transfer.
    pub token_program: Pubkey,
    /// The amount transferred, in base units.
    pub amount: u64,
    /// The decimals the transfer asserts for the mint.
    pub decimals: u8,
    /// The transaction's memo, if it has one.
    pub memo: Option<String>,
}

/// Why a payment transaction breaks the `exact` scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExactRuleError {
    /// The payload is not base64 of a bincode transaction, or is malformed.
    #[error("the transaction could not be decoded: {0}")]
    TransactionCouldNotBeDecoded(String),
    /// The transaction has too few or too many instructions.
    #[error(
        "the transaction has {0} instructions; between {MIN_INSTRUCTIONS} and {MAX_INSTRUCTIONS} are required"
    )]
    InstructionCount(usize),
    /// Account key 0 is not the facilitator's fee payer.
    #[error("the fee payer is {found}, but the facilitator's fee payer is {expected}")]
    FeePayerMismatch {
        /// The facilitator's fee payer.
        expected: Pubkey,
        /// The transaction's account key 0.
        found: Pubkey,
    },
    /// Instruction 0 is not an acceptable SetComputeUnitLimit.
    #[error("instruction 0 must be SetComputeUnitLimit with a limit of at most {max} units")]
    ComputeLimit {
        /// The highest limit accepted.
        max: u32,
    },
    /// Instruction 1 is not an acceptable SetComputeUnitPrice.
    #[error(
        "instruction 1 must be SetComputeUnitPrice with a price of at most {max} micro-lamports per unit"
    )]
    ComputePrice {
        /// The highest price accepted.
        max: u64,
    },
    /// Instruction 2 is not a single-authority TransferChecked of SPL Token or Token-2022.
    #[error(
        "instruction 2 must be a TransferChecked of SPL Token or Token-2022 with four accounts"
    )]
    NoTransferInstruction,
    /// The fee payer is the transfer's authority or source.
    #[error("the fee payer must not be the transfer's authority or source")]
    FeePayerTransferringFunds,
    /// The fee payer is an account of some instruction.
    #[error("the fee payer must not appear in any instruction's accounts")]
    FeePayerInInstructionAccounts,
    /// The transfer moves another token than the one required.
    #[error("the transfer's mint is {found}, but {expected} is required")]
    MintMismatch {
        /// The required mint.
        expected: Pubkey,
        /// The transfer's mint.
        found: Pubkey,
    },
    /// The transfer does not go to the recipient's associated token account.
    #[error("the transfer goes to {found}, but must go to {expected}")]
    RecipientMismatch {
        /// The recipient's associated token account.
        expected: Pubkey,
        /// The transfer's destination.
        found: Pubkey,
    },
    /// The transfer moves another amount than the one required.
    #[error("the transfer moves {found}, but exactly {expected} is required")]
    AmountMismatch {
        /// The required amount.
        expected: u64,
        /// The transfer's amount.
        found: u64,
    },
    /// The memo is missing, repeated, not UTF-8 or not the required one.
    #[error(
        "the transaction must carry at most one UTF-8 memo, equal to the required memo if any"
    )]
    MemoMismatch,
    /// An instruction after the transfer is neither Memo nor Lighthouse.
    #[error("instruction {0} must be a Memo or Lighthouse instruction")]
    UnexpectedInstruction(usize),
    /// The signers are not exactly the fee payer and the transfer authority.
    #[error(
        "the transaction must require exactly two signatures: the fee payer, then the transfer authority"
    )]
    UnexpectedSigner,
    /// The transfer authority has not signed.
    #[error("the transfer authority's signature is missing")]
    MissingPayerSignature,
    /// The transfer authority's signature does not verify over the message.
    #[error("the transfer authority's signature does not verify")]
    InvalidPayerSignature,
    /// The message loads accounts from address lookup tables.
    #[error("address lookup tables are not supported")]
    AddressLookupTablesUnsupported,
    /// A charge instruction outside the allow-list, or one allowed once seen twice.
    #[error("instruction {0} is not allowed in a Solana charge (at most one each of: compute unit limit, compute unit price, idempotent associated token account creation, TransferChecked, memo)")]
    ChargeInstruction(usize),
    /// The associated token account creation is not the recipient's, funded by the payer.
    #[error("the associated token account creation must create the recipient's account for the asset, funded by the transfer authority")]
    AccountCreation,
    /// A client-paid charge whose signatures are missing or do not verify.
    #[error("every signature of a client-paid charge must be present and verify")]
    MissingSignatures,
}

impl ExactRuleError {
    /// The x402 `invalidReason` code for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TransactionCouldNotBeDecoded(_) => {
                "invalid_exact_svm_payload_transaction_could_not_be_decoded"
            }
            Self::InstructionCount(_) => {
                "invalid_exact_svm_payload_transaction_instructions_length"
            }
            Self::FeePayerMismatch { .. } => "invalid_exact_svm_payload_fee_payer_mismatch",
            Self::ComputeLimit { .. } => {
                "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction"
            }
            Self::ComputePrice { .. } => {
                "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction"
            }
            Self::NoTransferInstruction => "invalid_exact_svm_payload_no_transfer_instruction",
            Self::FeePayerTransferringFunds => {
                "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds"
            }
            Self::FeePayerInInstructionAccounts => {
                "invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts"
            }
            Self::MintMismatch { .. } => "invalid_exact_svm_payload_mint_mismatch",
            Self::RecipientMismatch { .. } => "invalid_exact_svm_payload_recipient_mismatch",
            Self::AmountMismatch { .. } => "invalid_exact_svm_payload_amount_mismatch",
            Self::MemoMismatch => "invalid_exact_svm_payload_memo_mismatch",
            Self::UnexpectedInstruction(_) => "invalid_exact_svm_payload_unexpected_instruction",
            Self::UnexpectedSigner => "invalid_exact_svm_payload_unexpected_signer",
            Self::MissingPayerSignature | Self::InvalidPayerSignature => {
                "invalid_exact_svm_payload_missing_signature"
            }
            Self::AddressLookupTablesUnsupported => {
                "invalid_exact_svm_payload_address_lookup_tables_unsupported"
            }
            Self::ChargeInstruction(_) => "invalid_charge_payload_unexpected_instruction",
            Self::AccountCreation => "invalid_charge_payload_account_creation",
            Self::MissingSignatures => "invalid_exact_svm_payload_missing_signature",
        }
    }
}

/// Decodes a base64 wire transaction, refusing anything longer than Solana accepts.
pub fn decode_transaction(base64_wire: &str) -> Result<VersionedTransaction, ExactRuleError> {
    if base64_wire.len() > MAX_TRANSACTION_BASE64_CHARS {
        return Err(undecodable("the base64 text is too long"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_wire)
        .map_err(|error| undecodable(format!("invalid base64: {error}")))?;
    if bytes.len() > MAX_TRANSACTION_BYTES {
        return Err(undecodable("the transaction is larger than a packet"));
    }
    bincode::options()
        .with_limit(MAX_TRANSACTION_BYTES as u64)
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(&bytes)
        .map_err(|error| undecodable(format!("invalid transaction: {error}")))
}

/// Checks a payment transaction against the requirement and limits, returning
/// the transfer it makes.
pub fn check_transaction(
    tx: &VersionedTransaction,
    requirement: &ExactRequirement,
    limits: &ExactLimits,
) -> Result<ExactTransfer, ExactRuleError> {
    let message = checked_message(tx)?;
    let keys = message.static_account_keys();
    let instructions = message.instructions();
    check_instruction_count(instructions)?;
    check_fee_payer(keys, &requirement.fee_payer)?;
    check_compute_unit_limit(keys, instructions.get(COMPUTE_LIMIT_INDEX), limits)?;
    check_compute_unit_price(keys, instructions.get(COMPUTE_PRICE_INDEX), limits)?;
    let transfer = parse_transfer_checked(keys, instructions.get(TRANSFER_INDEX))?;
    check_fee_payer_moves_no_funds(&transfer, &requirement.fee_payer)?;
    check_fee_payer_in_no_accounts(keys, instructions, &requirement.fee_payer)?;
    check_signers(tx, &transfer.authority)?;
    check_mint(&transfer, &requirement.asset)?;
    check_recipient(&transfer, &requirement.pay_to, &requirement.asset)?;
    check_amount(&transfer, requirement.amount)?;
    let memo = check_instructions_after_transfer(keys, instructions, requirement.memo.as_deref())?;
    check_transfer_authority_signature(tx, &transfer.authority)?;
    Ok(transfer.into_transfer(memo))
}

/// A decoded `TransferChecked` instruction.
pub(super) struct TransferChecked {
    pub(super) token_program: Pubkey,
    pub(super) source: Pubkey,
    pub(super) mint: Pubkey,
    pub(super) destination: Pubkey,
    pub(super) authority: Pubkey,
    pub(super) amount: u64,
    pub(super) decimals: u8,
}

impl TransferChecked {
    /// The transfer, as the checks' result.
    pub(super) fn into_transfer(self, memo: Option<String>) -> ExactTransfer {
        ExactTransfer {
            payer: self.authority,
            source: self.source,
            destination: self.destination,
            mint: self.mint,
            token_program: self.token_program,
            amount: self.amount,
            decimals: self.decimals,
            memo,
        }
    }
}

pub(super) fn undecodable(detail: impl Into<String>) -> ExactRuleError {
    ExactRuleError::TransactionCouldNotBeDecoded(detail.into())
}

/// The transaction's message, once it uses no address lookup tables and is
/// well formed (the start of every payment check).
pub(super) fn checked_message(
    tx: &VersionedTransaction,
) -> Result<&VersionedMessage, ExactRuleError> {
    let message = &tx.message;
    if message
        .address_table_lookups()
        .is_some_and(|lookups| !lookups.is_empty())
    {
        return Err(ExactRuleError::AddressLookupTablesUnsupported);
    }
    message
        .sanitize()
        .map_err(|error| undecodable(format!("malformed message: {error}")))?;
    Ok(message)
}

fn check_instruction_count(instructions: &[CompiledInstruction]) -> Result<(), ExactRuleError> {
    if (MIN_INSTRUCTIONS..=MAX_INSTRUCTIONS).contains(&instructions.len()) {
        Ok(())
    } else {
        Err(ExactRuleError::InstructionCount(instructions.len()))
    }
}

pub(super) fn check_fee_payer(keys: &[Pubkey], expected: &Pubkey) -> Result<(), ExactRuleError> {
    let found = keys
        .get(FEE_PAYER_KEY_INDEX)
        .ok_or_else(|| undecodable("the message has no account keys"))?;
    if found == expected {
        Ok(())
    } else {
        Err(ExactRuleError::FeePayerMismatch {
            expected: *expected,
            found: *found,
        })
    }
}

pub(super) fn program_id<'a>(
    keys: &'a [Pubkey],
    instruction: &CompiledInstruction,
) -> Option<&'a Pubkey> {
    keys.get(usize::from(instruction.program_id_index))
}

pub(super) fn account_key(keys: &[Pubkey], account_index: u8) -> Option<Pubkey> {
    keys.get(usize::from(account_index)).copied()
}

pub(super) fn compute_budget_argument<const N: usize>(
    keys: &[Pubkey],
    instruction: Option<&CompiledInstruction>,
    tag: u8,
) -> Option<[u8; N]> {
    let instruction = instruction?;
    if program_id(keys, instruction)? != &solana_sdk_ids::compute_budget::ID {
        return None;
    }
    let (&found_tag, argument) = instruction.data.split_first()?;
    if found_tag != tag {
        return None;
    }
    argument.try_into().ok()
}

fn check_compute_unit_limit(
    keys: &[Pubkey],
    instruction: Option<&CompiledInstruction>,
    limits: &ExactLimits,
) -> Result<(), ExactRuleError> {
    let max = limits.max_compute_unit_limit;
    compute_budget_argument(keys, instruction, SET_COMPUTE_UNIT_LIMIT_TAG)
        .map(u32::from_le_bytes)
        .filter(|limit| *limit <= max)
        .map(|_| ())
        .ok_or(ExactRuleError::ComputeLimit { max })
}

fn check_compute_unit_price(
    keys: &[Pubkey],
    instruction: Option<&CompiledInstruction>,
    limits: &ExactLimits,
) -> Result<(), ExactRuleError> {
    let max = limits.max_compute_unit_price_micro_lamports;
    compute_budget_argument(keys, instruction, SET_COMPUTE_UNIT_PRICE_TAG)
        .map(u64::from_le_bytes)
        .filter(|price| *price <= max)
        .map(|_| ())
        .ok_or(ExactRuleError::ComputePrice { max })
}

fn transfer_checked_amount(token_program: &Pubkey, data: &[u8]) -> Option<(u64, u8)> {
    if data.len() != TRANSFER_CHECKED_DATA_LEN {
        return None;
    }
    if *token_program == spl_token_interface::ID {
        use spl_token_interface::instruction::TokenInstruction;
        match TokenInstruction::unpack(data).ok()? {
            TokenInstruction::TransferChecked { amount, decimals } => Some((amount, decimals)),
            _ => None,
        }
    } else if *token_program == spl_token_2022_interface::ID {
        use spl_token_2022_interface::instruction::TokenInstruction;
        match TokenInstruction::unpack(data).ok()? {
            TokenInstruction::TransferChecked { amount, decimals } => Some((amount, decimals)),
            _ => None,
        }
    } else {
        None
    }
}

pub(super) fn parse_transfer_checked(
    keys: &[Pubkey],
    instruction: Option<&CompiledInstruction>,
) -> Result<TransferChecked, ExactRuleError> {
    let no_transfer = || ExactRuleError::NoTransferInstruction;
    let instruction = instruction.ok_or_else(no_transfer)?;
    let token_program = *program_id(keys, instruction).ok_or_else(no_transfer)?;
    let (amount, decimals) =
        transfer_checked_amount(&token_program, &instruction.data).ok_or_else(no_transfer)?;
    let [source, mint, destination, authority] = instruction.accounts.as_slice() else {
        return Err(no_transfer());
    };
    let key = |index: &u8| account_key(keys, *index).ok_or_else(no_transfer);
    Ok(TransferChecked {
        token_program,
        source: key(source)?,
        mint: key(mint)?,
        destination: key(destination)?,
        authority: key(authority)?,
        amount,
        decimals,
    })
}

pub(super) fn check_fee_payer_moves_no_funds(
    transfer: &TransferChecked,
    fee_payer: &Pubkey,
) -> Result<(), ExactRuleError> {
    if transfer.authority == *fee_payer || transfer.source == *fee_payer {
        Err(ExactRuleError::FeePayerTransferringFunds)
    } else {
        Ok(())
    }
}

pub(super) fn check_fee_payer_in_no_accounts(
    keys: &[Pubkey],
    instructions: &[CompiledInstruction],
    fee_payer: &Pubkey,
) -> Result<(), ExactRuleError> {
    let names_fee_payer = |index: &u8| keys.get(usize::from(*index)) == Some(fee_payer);
    let fee_payer_is_listed = instructions
        .iter()
        .any(|instruction| instruction.accounts.iter().any(names_fee_payer));
    if fee_payer_is_listed {
        Err(ExactRuleError::FeePayerInInstructionAccounts)
    } else {
        Ok(())
    }
}

pub(super) fn check_signers(
    tx: &VersionedTransaction,
    authority: &Pubkey,
) -> Result<(), ExactRuleError> {
    let keys = tx.message.static_account_keys();
    let two_signers = tx.message.header().num_required_signatures == REQUIRED_SIGNATURES;
    let no_extra_signatures = tx.signatures.len() <= usize::from(REQUIRED_SIGNATURES);
    let authority_signs = keys.get(TRANSFER_AUTHORITY_KEY_INDEX) == Some(authority);
    if two_signers && no_extra_signatures && authority_signs {
        Ok(())
    } else {
        Err(ExactRuleError::UnexpectedSigner)
    }
}

pub(super) fn check_mint(transfer: &TransferChecked, asset: &Pubkey) -> Result<(), ExactRuleError> {
    if transfer.mint == *asset {
        Ok(())
    } else {
        Err(ExactRuleError::MintMismatch {
            expected: *asset,
            found: transfer.mint,
        })
    }
}

pub(super) fn check_recipient(
    transfer: &TransferChecked,
    pay_to: &Pubkey,
    asset: &Pubkey,
) -> Result<(), ExactRuleError> {
    let expected =
        get_associated_token_address_with_program_id(pay_to, asset, &transfer.token_program);
    if transfer.destination == expected {
        Ok(())
    } else {
        Err(ExactRuleError::RecipientMismatch {
            expected,
            found: transfer.destination,
        })
    }
}

pub(super) fn check_amount(
    transfer: &TransferChecked,
    expected: u64,
) -> Result<(), ExactRuleError> {
    if transfer.amount == expected {
        Ok(())
    } else {
        Err(ExactRuleError::AmountMismatch {
            expected,
            found: transfer.amount,
        })
    }
}

fn check_instructions_after_transfer(
    keys: &[Pubkey],
    instructions: &[CompiledInstruction],
    required_memo: Option<&str>,
) -> Result<Option<String>, ExactRuleError> {
    let mut memos = Vec::new();
    for (index, instruction) in instructions.iter().enumerate().skip(TRANSFER_INDEX + 1) {
        match program_id(keys, instruction) {
            Some(program) if *program == MEMO_PROGRAM_ID => memos.push(instruction.data.as_slice()),
            Some(program) if *program == LIGHTHOUSE_PROGRAM_ID => {}
            _ => return Err(ExactRuleError::UnexpectedInstruction(index)),
        }
    }
    check_memo(&memos, required_memo)
}

pub(super) fn check_memo(
    memos: &[&[u8]],
    required_memo: Option<&str>,
) -> Result<Option<String>, ExactRuleError> {
    match (memos, required_memo) {
        ([], None) => Ok(None),
        ([memo], required) => {
            let memo = std::str::from_utf8(memo).map_err(|_| ExactRuleError::MemoMismatch)?;
            match required {
                Some(required) if required != memo => Err(ExactRuleError::MemoMismatch),
                _ => Ok(Some(memo.to_owned())),
            }
        }
        _ => Err(ExactRuleError::MemoMismatch),
    }
}

pub(super) fn check_transfer_authority_signature(
    tx: &VersionedTransaction,
    authority: &Pubkey,
) -> Result<(), ExactRuleError> {
    let signature = tx
        .signatures
        .get(TRANSFER_AUTHORITY_KEY_INDEX)
        .filter(|signature| **signature != Signature::default())
        .ok_or(ExactRuleError::MissingPayerSignature)?;
    if signature.verify(authority.as_ref(), &tx.message.serialize()) {
        Ok(())
    } else {
        Err(ExactRuleError::InvalidPayerSignature)
    }
}

#[cfg(test)]
mod tests;
