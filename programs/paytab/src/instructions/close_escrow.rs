//! Closes an escrow with no allowances: sweeps the vault to the owner, closes both accounts.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{
    close_account, CloseAccount, Mint, TokenAccount, TokenInterface,
};

use crate::constants::{ESCROW_SEED, VAULT_AUTHORITY_SEED};
use crate::errors::PaytabError;
use crate::events::EscrowClosed;
use crate::instructions::settlement::VaultTransfer;
use crate::state::{with_vault_authority_seeds, Escrow};

/// Accounts of `close_escrow`.
#[derive(Accounts)]
pub struct CloseEscrow<'info> {
    /// The escrow's owner; receives the remaining tokens and both rents.
    #[account(mut)]
    pub owner: Signer<'info>,
    /// The escrow to close.
    #[account(
        mut,
        close = owner,
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
    /// The escrow's vault, closed here.
    #[account(mut)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    /// The PDA that signs for every vault.
    /// CHECK: a data-less PDA; the seeds constraint pins its address.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// Token account of the mint receiving what is left in the vault.
    #[account(mut, token::mint = mint, token::token_program = token_program)]
    pub destination: InterfaceAccount<'info, TokenAccount>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
}

/// Closes the escrow once it has no open allowances.
pub fn close_escrow(ctx: Context<CloseEscrow>) -> Result<()> {
    let accounts = &*ctx.accounts;
    let escrow = &accounts.escrow;
    require!(
        escrow.allowance_count == 0,
        PaytabError::EscrowHasAllowances
    );
    let swept = accounts.vault.amount;
    if swept > 0 {
        VaultTransfer {
            vault: accounts.vault.to_account_info(),
            mint: accounts.mint.to_account_info(),
            decimals: accounts.mint.decimals,
            destination: accounts.destination.to_account_info(),
            authority: accounts.vault_authority.to_account_info(),
            authority_bump: ctx.bumps.vault_authority,
            token_program: accounts.token_program.key(),
        }
        .send(swept)?;
    }
    let close_vault = CloseAccount {
        account: accounts.vault.to_account_info(),
        destination: accounts.owner.to_account_info(),
        authority: accounts.vault_authority.to_account_info(),
    };
    with_vault_authority_seeds(ctx.bumps.vault_authority, |seeds| {
        close_account(CpiContext::new_with_signer(
            accounts.token_program.key(),
            close_vault,
            seeds,
        ))
    })?;
    emit!(EscrowClosed {
        escrow: escrow.key(),
        swept,
    });
    Ok(())
}
