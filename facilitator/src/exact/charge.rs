//! The checks on an MPP Solana `charge` transaction: the draft's allow-list
//! instead of x402 `exact`'s fixed layout.
//!
//! Any order of: at most one SetComputeUnitLimit and one SetComputeUnitPrice
//! (within the facilitator's ceilings), at most one idempotent creation of
//! the recipient's associated token account (funded by the payer, never by
//! the facilitator), exactly one `TransferChecked` of the asset to that
//! account, and at most one memo (equal to the required one, if any).
//!
//! When the facilitator pays the fees, it is account key 0, appears in no
//! instruction, and the payer is the only other signer. When the client
//! pays them, the transaction must be fully signed by the payer (and its
//! fee payer, if another key).

use solana_message::compiled_instruction::CompiledInstruction;
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_transaction::versioned::VersionedTransaction;
use spl_associated_token_account_interface::address::get_associated_token_address_with_program_id;

use super::rules::{
    account_key, check_amount, check_fee_payer, check_fee_payer_in_no_accounts,
    check_fee_payer_moves_no_funds, check_memo, check_mint, check_recipient, check_signers,
    check_transfer_authority_signature, checked_message, compute_budget_argument,
    parse_transfer_checked, program_id, ExactLimits, ExactRuleError, ExactTransfer,
    TransferChecked, MEMO_PROGRAM_ID, SET_COMPUTE_UNIT_LIMIT_TAG, SET_COMPUTE_UNIT_PRICE_TAG,
};

/// The facilitator-side scheme name of an MPP Solana charge (a paytab extension).
pub const SCHEME: &str = "paytab-mpp-charge";

/// The associated token account program's `CreateIdempotent` instruction tag.
const CREATE_IDEMPOTENT_TAG: u8 = 1;

/// What a charge must pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequirement {
    /// The mint.
    pub asset: Pubkey,
    /// The recipient (owner of the destination token account).
    pub pay_to: Pubkey,
    /// The exact amount, raw units.
    pub amount: u64,
    /// The facilitator's fee payer when it pays the fees; `None` when the client does.
    pub fee_payer: Option<Pubkey>,
    /// The memo the transaction must carry (the request's `externalId`), if any.
    pub memo: Option<String>,
}

/// One allowed instruction, decoded.
enum Allowed {
    ComputeUnitLimit,
    ComputeUnitPrice,
    CreateAccount(AccountCreation),
    Transfer(TransferChecked),
    Memo(Vec<u8>),
}

/// An idempotent associated token account creation.
struct AccountCreation {
    funder: Pubkey,
    account: Pubkey,
    owner: Pubkey,
    mint: Pubkey,
    system_program: Pubkey,
    token_program: Pubkey,
}

/// Checks a charge transaction against `requirement` and `limits`,
/// returning the transfer it makes.
pub fn check_charge_transaction(
    tx: &VersionedTransaction,
    requirement: &ChargeRequirement,
    limits: &ExactLimits,
) -> Result<ExactTransfer, ExactRuleError> {
    let message = checked_message(tx)?;
    let keys = message.static_account_keys();
    let instructions = message.instructions();
    let mut seen = [false; 5];
    let mut transfer = None;
    let mut creation = None;
    let mut memos = Vec::new();
    for (index, instruction) in instructions.iter().enumerate() {
        let allowed =
            allowed(keys, instruction, limits).ok_or(ExactRuleError::ChargeInstruction(index))?;
        let slot = match &allowed {
            Allowed::ComputeUnitLimit => 0,
            Allowed::ComputeUnitPrice => 1,
            Allowed::CreateAccount(_) => 2,
            Allowed::Transfer(_) => 3,
            Allowed::Memo(_) => 4,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(ExactRuleError::ChargeInstruction(index));
        }
        match allowed {
            Allowed::CreateAccount(account) => creation = Some(account),
            Allowed::Transfer(found) => transfer = Some(found),
            Allowed::Memo(data) => memos.push(data),
            Allowed::ComputeUnitLimit | Allowed::ComputeUnitPrice => {}
        }
    }
    let transfer = transfer.ok_or(ExactRuleError::NoTransferInstruction)?;
    check_mint(&transfer, &requirement.asset)?;
    check_recipient(&transfer, &requirement.pay_to, &requirement.asset)?;
    check_amount(&transfer, requirement.amount)?;
    if let Some(creation) = &creation {
        check_account_creation(creation, &transfer, requirement)?;
    }
    let memos: Vec<&[u8]> = memos.iter().map(Vec::as_slice).collect();
    let memo = check_memo(&memos, requirement.memo.as_deref())?;
    match &requirement.fee_payer {
        Some(fee_payer) => {
            check_fee_payer(keys, fee_payer)?;
            check_fee_payer_moves_no_funds(&transfer, fee_payer)?;
            check_fee_payer_in_no_accounts(keys, instructions, fee_payer)?;
            check_signers(tx, &transfer.authority)?;
            check_transfer_authority_signature(tx, &transfer.authority)?;
        }
        None => check_client_signatures(tx, &transfer.authority)?,
    }
    Ok(transfer.into_transfer(memo))
}

/// Decodes `instruction` if the charge allow-list has it.
fn allowed(
    keys: &[Pubkey],
    instruction: &CompiledInstruction,
    limits: &ExactLimits,
) -> Option<Allowed> {
    let program = *program_id(keys, instruction)?;
    if program == solana_sdk_ids::compute_budget::ID {
        if let Some(limit) =
            compute_budget_argument::<4>(keys, Some(instruction), SET_COMPUTE_UNIT_LIMIT_TAG)
        {
            return (u32::from_le_bytes(limit) <= limits.max_compute_unit_limit)
                .then_some(Allowed::ComputeUnitLimit);
        }
        let price =
            compute_budget_argument::<8>(keys, Some(instruction), SET_COMPUTE_UNIT_PRICE_TAG)?;
        return (u64::from_le_bytes(price) <= limits.max_compute_unit_price_micro_lamports)
            .then_some(Allowed::ComputeUnitPrice);
    }
    if program == spl_token_interface::ID || program == spl_token_2022_interface::ID {
        return parse_transfer_checked(keys, Some(instruction))
            .ok()
            .map(Allowed::Transfer);
    }
    if program == spl_associated_token_account_interface::program::ID {
        if instruction.data != [CREATE_IDEMPOTENT_TAG] {
            return None;
        }
        let [funder, account, owner, mint, system_program, token_program] =
            instruction.accounts.as_slice()
        else {
            return None;
        };
        let key = |index: &u8| account_key(keys, *index);
        return Some(Allowed::CreateAccount(AccountCreation {
            funder: key(funder)?,
            account: key(account)?,
            owner: key(owner)?,
            mint: key(mint)?,
            system_program: key(system_program)?,
            token_program: key(token_program)?,
        }));
    }
    (program == MEMO_PROGRAM_ID).then(|| Allowed::Memo(instruction.data.clone()))
}

/// The creation must be of the transfer's destination, for the recipient
/// and the asset, paid for by the payer.
fn check_account_creation(
    creation: &AccountCreation,
    transfer: &TransferChecked,
    requirement: &ChargeRequirement,
) -> Result<(), ExactRuleError> {
    let expected = get_associated_token_address_with_program_id(
        &requirement.pay_to,
        &requirement.asset,
        &transfer.token_program,
    );
    let matches = creation.account == expected
        && creation.owner == requirement.pay_to
        && creation.mint == requirement.asset
        && creation.token_program == transfer.token_program
        && creation.system_program == solana_sdk_ids::system_program::ID
        && creation.funder == transfer.authority;
    if matches {
        Ok(())
    } else {
        Err(ExactRuleError::AccountCreation)
    }
}

/// A client-paid charge: the payer signs, no one but it and its fee payer
/// signs, and every signature is present and verifies.
fn check_client_signatures(
    tx: &VersionedTransaction,
    authority: &Pubkey,
) -> Result<(), ExactRuleError> {
    let keys = tx.message.static_account_keys();
    let signers = usize::from(tx.message.header().num_required_signatures);
    let signer_keys = keys
        .get(..signers)
        .ok_or(ExactRuleError::UnexpectedSigner)?;
    let only_payer_and_fee_payer = signer_keys
        .iter()
        .enumerate()
        .all(|(index, key)| index == 0 || key == authority);
    if !(1..=2).contains(&signers) || !only_payer_and_fee_payer || !signer_keys.contains(authority)
    {
        return Err(ExactRuleError::UnexpectedSigner);
    }
    let message = tx.message.serialize();
    let all_verify = tx.signatures.len() == signers
        && tx
            .signatures
            .iter()
            .zip(signer_keys)
            .all(|(signature, key)| {
                *signature != Signature::default() && signature.verify(key.as_ref(), &message)
            });
    if all_verify {
        Ok(())
    } else {
        Err(ExactRuleError::MissingSignatures)
    }
}

#[cfg(test)]
mod tests;
