//! Pays one allowance's receipt, verified by the Ed25519 instruction before it.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{ALLOWANCE_SEED, ESCROW_SEED, VAULT_AUTHORITY_SEED};
use crate::ed25519::verified_message_before_current;
use crate::errors::PaytabError;
use crate::instructions::settlement::{check_receipt_signer, settle_allowance, VaultTransfer};
use crate::receipt::Receipt;
use crate::state::{Allowance, Escrow};

/// Accounts of `claim`. Anyone may submit it: funds only ever go to the provider.
#[derive(Accounts)]
pub struct Claim<'info> {
    /// The escrow paying, read for its owner and session key.
    #[account(
        seeds = [ESCROW_SEED, escrow.owner.as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
        has_one = mint @ PaytabError::MintMismatch,
        has_one = vault @ PaytabError::VaultMismatch,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The allowance the receipt draws on.
    #[account(
        mut,
        seeds = [ALLOWANCE_SEED, escrow.key().as_ref(), allowance.provider.as_ref()],
        bump = allowance.bump,
        has_one = escrow @ PaytabError::EscrowMismatch,
        has_one = vault @ PaytabError::VaultMismatch,
    )]
    pub allowance: Account<'info, Allowance>,
    /// The escrow's vault.
    #[account(mut)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    /// The PDA that signs for every vault.
    /// CHECK: a data-less PDA; the seeds constraint pins its address.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// The escrow's mint.
    #[account(mint::token_program = token_program)]
    pub mint: InterfaceAccount<'info, Mint>,
    /// A token account of the mint owned by the allowance's provider.
    #[account(
        mut,
        token::mint = mint,
        token::token_program = token_program,
        constraint = provider_token.owner == allowance.provider @ PaytabError::TokenAccountOwnerMismatch,
    )]
    pub provider_token: InterfaceAccount<'info, TokenAccount>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
    /// The Instructions sysvar, to read the preceding Ed25519 instruction.
    /// CHECK: the address constraint pins it to the sysvar.
    #[account(address = solana_instructions_sysvar::ID)]
    pub instructions: UncheckedAccount<'info>,
}

/// Pays `cumulative - claimed` (within cap and period limit) for a receipt signed
/// by the owner, a live session key or the allowance's delegate.
pub fn claim(ctx: Context<Claim>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let accounts = &mut *ctx.accounts;
    let verified = verified_message_before_current(&accounts.instructions)?;
    let receipt = Receipt::parse(&verified.message).map_err(|_| PaytabError::MalformedReceipt)?;
    require_keys_eq!(
        receipt.allowance,
        accounts.allowance.key(),
        PaytabError::ReceiptForAnotherAllowance
    );
    require!(
        receipt.generation == accounts.allowance.generation,
        PaytabError::GenerationMismatch
    );
    require!(!receipt.is_expired(now), PaytabError::ReceiptExpired);
    check_receipt_signer(
        Some(&accounts.escrow),
        &accounts.allowance,
        &verified.signer,
        now,
    )?;

    let already_claimed = accounts.allowance.claimed;
    let allowance_key = accounts.allowance.key();
    let paid = settle_allowance(
        &mut accounts.allowance,
        allowance_key,
        receipt.cumulative,
        now,
    )?;
    if paid == 0 {
        return if receipt.cumulative <= already_claimed {
            err!(PaytabError::NothingToClaim)
        } else {
            err!(PaytabError::PeriodLimitReached)
        };
    }
    VaultTransfer {
        vault: accounts.vault.to_account_info(),
        mint: accounts.mint.to_account_info(),
        decimals: accounts.mint.decimals,
        destination: accounts.provider_token.to_account_info(),
        authority: accounts.vault_authority.to_account_info(),
        authority_bump: ctx.bumps.vault_authority,
        token_program: accounts.token_program.key(),
    }
    .send(paid)
}
