//! Returns free balance (never reserved funds) to the owner.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{ESCROW_SEED, VAULT_AUTHORITY_SEED};
use crate::errors::PaytabError;
use crate::events::Withdrawn;
use crate::instructions::settlement::VaultTransfer;
use crate::state::Escrow;

/// Accounts of `withdraw`.
#[derive(Accounts)]
pub struct Withdraw<'info> {
    /// The escrow's owner.
    pub owner: Signer<'info>,
    /// The escrow to withdraw from.
    #[account(
        mut,
        seeds = [ESCROW_SEED, owner.key().as_ref(), mint.key().as_ref()],
        bump = escrow.bump,
        has_one = owner,
        has_one = mint @ PaytabError::MintMismatch,
        has_one = vault @ PaytabError::VaultMismatch,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The escrow's mint.
    #[account(mint::token_program = token_program)]
    pub mint: InterfaceAccount<'info, Mint>,
    /// The escrow's vault.
    #[account(mut)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    /// The PDA that signs for every vault.
    /// CHECK: a data-less PDA; the seeds constraint pins its address.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// Receiving token account, any account of the mint.
    #[account(mut, token::mint = mint, token::token_program = token_program)]
    pub destination: InterfaceAccount<'info, TokenAccount>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
}

/// Withdraws `amount` raw units of free balance.
pub fn withdraw(ctx: Context<Withdraw>, amount: u64) -> Result<()> {
    require!(amount > 0, PaytabError::ZeroAmount);
    let accounts = &mut *ctx.accounts;
    accounts.escrow.defund(amount)?;
    VaultTransfer {
        vault: accounts.vault.to_account_info(),
        mint: accounts.mint.to_account_info(),
        decimals: accounts.mint.decimals,
        destination: accounts.destination.to_account_info(),
        authority: accounts.vault_authority.to_account_info(),
        authority_bump: ctx.bumps.vault_authority,
        token_program: accounts.token_program.key(),
    }
    .send(amount)?;
    accounts.vault.reload()?;
    accounts.escrow.invariant()?;
    emit!(Withdrawn {
        escrow: accounts.escrow.key(),
        amount,
        vault_balance: accounts.vault.amount,
    });
    Ok(())
}
