//! Claim transactions: the delegate's attestation checked by the Ed25519
//! program, then `claim_batch`; sent as a legacy transaction of up to
//! [`MAX_LEGACY_BATCH`] allowances, or as a v0 transaction of up to
//! [`MAX_LOOKUP_BATCH`] whose allowance and vault addresses come from address
//! lookup tables. Either must fit [`PACKET_DATA_SIZE`] bytes and
//! [`ACCOUNT_LOCK_LIMIT`] accounts.

use anchor_lang::{InstructionData, ToAccountMetas};
use paytab::receipt::BatchAttestation;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_message::{v0, AddressLookupTableAccount, Message, VersionedMessage};
use solana_pubkey::Pubkey;
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;

use crate::store::Unclaimed;

/// Most allowances per claim transaction without an address lookup table: a
/// legacy transaction of 8 entries is 1,124 bytes of the 1,232 allowed (9
/// would be 1,198; 10 do not fit).
pub const MAX_LEGACY_BATCH: usize = 8;

/// Most allowances per v0 claim transaction with lookup tables: 27 entries
/// lock 63 accounts (54 looked up, 9 static) of the 64 allowed.
pub const MAX_LOOKUP_BATCH: usize = 27;

/// Largest transaction the network carries, bytes.
pub const PACKET_DATA_SIZE: usize = 1_232;

/// Most accounts one transaction may lock.
pub const ACCOUNT_LOCK_LIMIT: usize = 64;

/// Compute units a v0 claim asks for: a base for the attestation check and
/// the batch, and one token transfer and its checks per allowance.
const CLAIM_BASE_UNITS: u32 = 60_000;
const CLAIM_UNITS_PER_ENTRY: u32 = 25_000;

/// Whom a batch pays, in which token.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTarget {
    /// The provider.
    pub provider: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The mint's token program.
    pub token_program: Pubkey,
}

pub(super) fn provider_token(provider: Pubkey, mint: Pubkey, token_program: Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
        &provider,
        &mint,
        &token_program,
    )
}

/// The instructions of one batch claim: the Ed25519 check of the attestation,
/// then `claim_batch` (the check must come immediately before the claim).
pub fn claim_instructions(
    delegate: &Keypair,
    target: &ClaimTarget,
    entries: &[Unclaimed],
    expires_at: i64,
) -> Vec<Instruction> {
    let ClaimTarget {
        provider,
        mint,
        token_program,
    } = *target;
    let provider_token = provider_token(provider, mint, token_program);
    let mut instructions = Vec::with_capacity(2);
    let attested: Vec<(Pubkey, u64, u64)> = entries
        .iter()
        .map(|entry| (entry.allowance, entry.generation, entry.accepted))
        .collect();
    let message = BatchAttestation::encode(expires_at, &attested);
    let signature = delegate.sign_message(&message);
    let verify = solana_ed25519_program::new_ed25519_instruction_with_signature(
        &message,
        &signature.into(),
        &delegate.pubkey().to_bytes(),
    );
    let mut accounts = paytab::accounts::ClaimBatch {
        mint,
        provider_token,
        vault_authority: paytab::pda::vault_authority(),
        token_program,
        instructions: solana_sdk_ids::sysvar::instructions::ID,
    }
    .to_account_metas(None);
    for entry in entries {
        accounts.push(AccountMeta::new(entry.allowance, false));
        accounts.push(AccountMeta::new(entry.vault, false));
    }
    instructions.push(verify);
    instructions.push(Instruction {
        program_id: paytab::ID,
        accounts,
        data: paytab::instruction::ClaimBatch {}.data(),
    });
    instructions
}

/// A legacy claim transaction signed by the delegate (fee payer).
pub fn legacy_claim(
    delegate: &Keypair,
    instructions: &[Instruction],
    blockhash: Hash,
) -> VersionedTransaction {
    let message = Message::new_with_blockhash(instructions, Some(&delegate.pubkey()), &blockhash);
    Transaction::new(&[delegate], message, blockhash).into()
}

/// A v0 claim transaction whose non-signer addresses found in `tables` are
/// looked up, with a compute limit sized to its `entries`; `None` if it does
/// not compile or does not fit the network's limits.
pub fn lookup_claim(
    delegate: &Keypair,
    claim: &[Instruction],
    entries: usize,
    tables: &[AddressLookupTableAccount],
    blockhash: Hash,
) -> Option<VersionedTransaction> {
    let units = CLAIM_BASE_UNITS
        .saturating_add(CLAIM_UNITS_PER_ENTRY.saturating_mul(u32::try_from(entries).ok()?));
    let mut instructions = Vec::with_capacity(claim.len() + 1);
    instructions.push(ComputeBudgetInstruction::set_compute_unit_limit(units));
    instructions.extend_from_slice(claim);
    let message =
        v0::Message::try_compile(&delegate.pubkey(), &instructions, tables, blockhash).ok()?;
    let transaction =
        VersionedTransaction::try_new(VersionedMessage::V0(message), &[delegate]).ok()?;
    fits(&transaction).then_some(transaction)
}

/// Whether `transaction` is within the packet size and the account lock limit.
pub fn fits(transaction: &VersionedTransaction) -> bool {
    let size = bincode::serialized_size(transaction).unwrap_or(u64::MAX);
    size <= PACKET_DATA_SIZE as u64 && account_locks(transaction) <= ACCOUNT_LOCK_LIMIT
}

/// Accounts `transaction` locks: its static keys and every looked-up address.
pub fn account_locks(transaction: &VersionedTransaction) -> usize {
    let looked_up: usize = transaction
        .message
        .address_table_lookups()
        .unwrap_or_default()
        .iter()
        .map(|lookup| lookup.writable_indexes.len() + lookup.readonly_indexes.len())
        .sum();
    transaction.message.static_account_keys().len() + looked_up
}

/// The addresses of `entries` a lookup table holds: each allowance and its vault.
pub fn entry_addresses(entries: &[Unclaimed]) -> impl Iterator<Item = Pubkey> + '_ {
    entries
        .iter()
        .flat_map(|entry| [entry.allowance, entry.vault])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entries(count: usize) -> Vec<Unclaimed> {
        (0..count)
            .map(|index| Unclaimed {
                allowance: Pubkey::new_unique(),
                generation: 1,
                accepted: 1_000 + index as u64,
                claimed: 0,
                escrow: Pubkey::new_unique(),
                provider: Pubkey::new_unique(),
                mint: Pubkey::new_unique(),
                vault: Pubkey::new_unique(),
            })
            .collect()
    }

    fn target() -> ClaimTarget {
        ClaimTarget {
            provider: Pubkey::new_unique(),
            mint: Pubkey::new_unique(),
            token_program: spl_token_interface::ID,
        }
    }

    #[test]
    fn twenty_seven_allowances_fit_one_v0_transaction_with_a_lookup_table() {
        let delegate = Keypair::new();
        let entries = entries(MAX_LOOKUP_BATCH);
        let table = AddressLookupTableAccount {
            key: Pubkey::new_unique(),
            addresses: entry_addresses(&entries).collect(),
        };
        let claim = claim_instructions(&delegate, &target(), &entries, 1);
        let transaction =
            lookup_claim(&delegate, &claim, entries.len(), &[table], Hash::default()).unwrap();
        let size = bincode::serialized_size(&transaction).unwrap();
        assert!(size <= PACKET_DATA_SIZE as u64, "{size} bytes");
        assert_eq!(account_locks(&transaction), 63);
    }

    #[test]
    fn twenty_eight_allowances_do_not_fit_and_are_refused_not_sent() {
        let delegate = Keypair::new();
        let entries = entries(MAX_LOOKUP_BATCH + 1);
        let table = AddressLookupTableAccount {
            key: Pubkey::new_unique(),
            addresses: entry_addresses(&entries).collect(),
        };
        let claim = claim_instructions(&delegate, &target(), &entries, 1);
        assert!(
            lookup_claim(&delegate, &claim, entries.len(), &[table], Hash::default()).is_none()
        );
    }

    #[test]
    fn eight_allowances_fit_a_legacy_transaction_and_ten_do_not() {
        let delegate = Keypair::new();
        let target = target();
        for (count, fits_legacy) in [(MAX_LEGACY_BATCH, true), (10, false)] {
            let claim = claim_instructions(&delegate, &target, &entries(count), 1);
            let transaction = legacy_claim(&delegate, &claim, Hash::default());
            let size = bincode::serialized_size(&transaction).unwrap();
            assert_eq!(
                fits(&transaction),
                fits_legacy,
                "{count} entries: {size} bytes"
            );
        }
    }
}
