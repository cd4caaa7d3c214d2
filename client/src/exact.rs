//! The payment transaction of the x402 Solana `exact` scheme, which also pays
//! an MPP `charge` whose server pays the fees.
//!
//! Layout: `SetComputeUnitLimit, SetComputeUnitPrice, TransferChecked, Memo`,
//! fee payer = the facilitator's key (account 0, left unsigned), signed by the
//! payer as transfer authority only. The facilitator checks every rule of
//! `shared/design/PROTOCOLS.md` §1 before it co-signs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_hash::Hash;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_message::{v0, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use spl_associated_token_account_interface::address::get_associated_token_address_with_program_id;

/// The SPL Memo program.
pub const MEMO_PROGRAM_ID: Pubkey =
    Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// Compute units the payment asks for: a TransferChecked and a memo use far less.
pub const COMPUTE_UNIT_LIMIT: u32 = 40_000;

/// Priority fee, micro-lamports per compute unit (well under the 5 lamports cap).
pub const COMPUTE_UNIT_PRICE: u64 = 1;

/// What one `exact` payment pays.
#[derive(Debug, Clone)]
pub struct ExactPayment {
    /// The facilitator's fee payer (`extra.feePayer`, or MPP `feePayerKey`).
    pub fee_payer: Pubkey,
    /// The token mint (`asset`, or MPP `currency`).
    pub mint: Pubkey,
    /// The mint's token program (SPL Token or Token-2022).
    pub token_program: Pubkey,
    /// The mint's decimals.
    pub decimals: u8,
    /// The wallet paid (`payTo`, or MPP `recipient`); its associated token account receives.
    pub pay_to: Pubkey,
    /// Raw units.
    pub amount: u64,
    /// The memo to carry (`extra.memo`); `None` writes 16 random bytes as hex.
    pub memo: Option<String>,
}

/// Why a payment transaction could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExactBuildError {
    /// The transfer instruction could not be built.
    #[error("cannot build the transfer: {0}")]
    Transfer(String),
    /// The message could not be compiled.
    #[error("cannot compile the payment message: {0}")]
    Compile(String),
    /// The transaction could not be serialised.
    #[error("cannot encode the payment transaction: {0}")]
    Encode(String),
}

impl ExactPayment {
    /// The four instructions, paid from `payer`'s associated token account.
    pub fn instructions(&self, payer: &Pubkey) -> Result<Vec<Instruction>, ExactBuildError> {
        let source =
            get_associated_token_address_with_program_id(payer, &self.mint, &self.token_program);
        let destination = get_associated_token_address_with_program_id(
            &self.pay_to,
            &self.mint,
            &self.token_program,
        );
        let transfer = spl_token_2022_interface::instruction::transfer_checked(
            &self.token_program,
            &source,
            &self.mint,
            &destination,
            payer,
            &[],
            self.amount,
            self.decimals,
        )
        .map_err(|error| ExactBuildError::Transfer(error.to_string()))?;
        let memo = self.memo.clone().unwrap_or_else(random_memo);
        Ok(vec![
            ComputeBudgetInstruction::set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
            ComputeBudgetInstruction::set_compute_unit_price(COMPUTE_UNIT_PRICE),
            transfer,
            Instruction {
                program_id: MEMO_PROGRAM_ID,
                accounts: vec![],
                data: memo.into_bytes(),
            },
        ])
    }

    /// The transaction, signed by `payer` only (the fee payer's slot is empty).
    pub fn transaction(
        &self,
        payer: &Keypair,
        recent_blockhash: Hash,
    ) -> Result<VersionedTransaction, ExactBuildError> {
        let instructions = self.instructions(&payer.pubkey())?;
        let message =
            v0::Message::try_compile(&self.fee_payer, &instructions, &[], recent_blockhash)
                .map_err(|error| ExactBuildError::Compile(error.to_string()))?;
        let message = VersionedMessage::V0(message);
        let bytes = message.serialize();
        let required = usize::from(message.header().num_required_signatures);
        let signatures = message
            .static_account_keys()
            .iter()
            .take(required)
            .map(|key| {
                if *key == payer.pubkey() {
                    payer.sign_message(&bytes)
                } else {
                    Signature::default()
                }
            })
            .collect();
        Ok(VersionedTransaction {
            signatures,
            message,
        })
    }

    /// The transaction as `payload.transaction` carries it: base64 of its wire bytes.
    pub fn wire(&self, payer: &Keypair, recent_blockhash: Hash) -> Result<String, ExactBuildError> {
        let transaction = self.transaction(payer, recent_blockhash)?;
        let bytes = bincode::serialize(&transaction)
            .map_err(|error| ExactBuildError::Encode(error.to_string()))?;
        Ok(STANDARD.encode(bytes))
    }
}

/// 16 random bytes as 32 hex digits, so every payment transaction is unique.
fn random_memo() -> String {
    let random = Keypair::new().pubkey().to_bytes();
    random[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payment() -> ExactPayment {
        ExactPayment {
            fee_payer: Pubkey::new_unique(),
            mint: Pubkey::new_unique(),
            token_program: spl_token_interface::ID,
            decimals: 6,
            pay_to: Pubkey::new_unique(),
            amount: 10_000,
            memo: None,
        }
    }

    #[test]
    fn the_payer_signs_and_the_fee_payer_slot_is_left_for_the_facilitator() {
        let payment = payment();
        let payer = Keypair::new();
        let transaction = payment.transaction(&payer, Hash::new_unique()).unwrap();
        let keys = transaction.message.static_account_keys();
        assert_eq!(keys[0], payment.fee_payer);
        assert_eq!(transaction.signatures.len(), 2);
        assert_eq!(transaction.signatures[0], Signature::default());
        let bytes = transaction.message.serialize();
        assert!(transaction.signatures[1].verify(payer.pubkey().as_ref(), &bytes));
        assert_eq!(transaction.message.instructions().len(), 4);
    }

    #[test]
    fn two_payments_of_the_same_terms_differ_by_their_random_memo() {
        let payment = payment();
        let payer = Keypair::new();
        let blockhash = Hash::new_unique();
        assert_ne!(
            payment.wire(&payer, blockhash).unwrap(),
            payment.wire(&payer, blockhash).unwrap()
        );
    }
}
