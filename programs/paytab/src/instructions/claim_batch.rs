//! Pays many allowances of one provider from one signed batch attestation.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{
    ALLOWANCE_SEED, BATCH_ACCOUNTS_PER_ENTRY, MAX_BATCH_ENTRIES, VAULT_AUTHORITY_SEED,
};
use crate::ed25519::verified_message_before_current;
use crate::errors::PaytabError;
use crate::instructions::settlement::{check_receipt_signer, settle_allowance, VaultTransfer};
use crate::receipt::{entries_hash, BatchAttestation};
use crate::state::Allowance;

/// Accounts of `claim_batch`, followed by one (allowance, vault) pair of writable
/// remaining accounts per attested entry, in the attestation's order.
#[derive(Accounts)]
pub struct ClaimBatch<'info> {
    /// The mint shared by every escrow in the batch.
    #[account(mint::token_program = token_program)]
    pub mint: InterfaceAccount<'info, Mint>,
    /// The provider's token account; its owner must be every allowance's provider.
    #[account(mut, token::mint = mint, token::token_program = token_program)]
    pub provider_token: InterfaceAccount<'info, TokenAccount>,
    /// The PDA that signs for every vault.
    /// CHECK: a data-less PDA; the seeds constraint pins its address.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
    /// The Instructions sysvar, to read the preceding Ed25519 instruction.
    /// CHECK: the address constraint pins it to the sysvar.
    #[account(address = solana_instructions_sysvar::ID)]
    pub instructions: UncheckedAccount<'info>,
}

/// One validated batch entry.
struct Entry<'info> {
    allowance: Account<'info, Allowance>,
    vault: AccountInfo<'info>,
}

/// Settles every attested entry, signed by the allowances' delegate. An entry
/// already settled up to its amount pays nothing, so a resent batch never pays
/// twice; any invalid entry fails the whole batch.
pub fn claim_batch<'info>(ctx: Context<'info, ClaimBatch<'info>>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let accounts = &*ctx.accounts;
    let verified = verified_message_before_current(&accounts.instructions)?;
    let attestation =
        BatchAttestation::parse(&verified.message).map_err(|_| PaytabError::MalformedReceipt)?;
    require!(!attestation.is_expired(now), PaytabError::ReceiptExpired);

    let pairs = ctx.remaining_accounts;
    let count = pairs.len() / BATCH_ACCOUNTS_PER_ENTRY;
    require!(
        count > 0
            && pairs.len().is_multiple_of(BATCH_ACCOUNTS_PER_ENTRY)
            && count <= MAX_BATCH_ENTRIES,
        PaytabError::MalformedBatchAccounts
    );
    require!(attestation.len() == count, PaytabError::BatchLengthMismatch);

    let mut entries: Vec<Entry> = Vec::with_capacity(count);
    for pair in pairs.chunks_exact(BATCH_ACCOUNTS_PER_ENTRY) {
        let entry = load_entry(ctx.program_id, pair, accounts)?;
        check_receipt_signer(None, &entry.allowance, &verified.signer, now)?;
        require!(
            entries
                .iter()
                .all(|seen| seen.allowance.key() != entry.allowance.key()),
            PaytabError::MalformedBatchAccounts
        );
        entries.push(entry);
    }
    let hash = entries_hash(
        entries
            .iter()
            .map(|entry| (entry.allowance.key(), entry.allowance.generation)),
    );
    require!(
        hash == attestation.entries_hash,
        PaytabError::BatchEntriesHashMismatch
    );

    for (index, entry) in entries.iter_mut().enumerate() {
        let cumulative = attestation
            .cumulative(index)
            .ok_or(PaytabError::BatchLengthMismatch)?;
        let allowance_key = entry.allowance.key();
        let paid = settle_allowance(&mut entry.allowance, allowance_key, cumulative, now)?;
        if paid > 0 {
            VaultTransfer {
                vault: entry.vault.clone(),
                mint: accounts.mint.to_account_info(),
                decimals: accounts.mint.decimals,
                destination: accounts.provider_token.to_account_info(),
                authority: accounts.vault_authority.to_account_info(),
                authority_bump: ctx.bumps.vault_authority,
                token_program: accounts.token_program.key(),
            }
            .send(paid)?;
        }
        entry.allowance.exit(ctx.program_id)?;
    }
    Ok(())
}

/// Loads one (allowance, vault) pair, checking the allowance's owner,
/// discriminator and seeds, and that it pays this batch's provider from its own
/// vault of this batch's mint.
fn load_entry<'info>(
    program_id: &Pubkey,
    pair: &'info [AccountInfo<'info>],
    accounts: &ClaimBatch<'info>,
) -> Result<Entry<'info>> {
    let [allowance_info, vault_info] = pair else {
        return err!(PaytabError::MalformedBatchAccounts);
    };
    let allowance = Account::<Allowance>::try_from(allowance_info)
        .map_err(|_| PaytabError::InvalidAllowanceAccount)?;
    let expected = Pubkey::create_program_address(
        &[
            ALLOWANCE_SEED,
            allowance.escrow.as_ref(),
            allowance.provider.as_ref(),
            &[allowance.bump],
        ],
        program_id,
    )
    .map_err(|_| PaytabError::InvalidAllowanceAccount)?;
    require_keys_eq!(
        expected,
        allowance_info.key(),
        PaytabError::InvalidAllowanceAccount
    );
    require_keys_eq!(
        allowance.provider,
        accounts.provider_token.owner,
        PaytabError::ProviderMismatch
    );
    require_keys_eq!(
        allowance.vault,
        vault_info.key(),
        PaytabError::VaultMismatch
    );
    let vault = InterfaceAccount::<TokenAccount>::try_from(vault_info)
        .map_err(|_| PaytabError::VaultMismatch)?;
    require_keys_eq!(vault.mint, accounts.mint.key(), PaytabError::MintMismatch);
    Ok(Entry {
        allowance,
        vault: vault_info.clone(),
    })
}
