//! Moves tokens from any token account into an escrow's vault.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{
    transfer_checked, Mint, TokenAccount, TokenInterface, TransferChecked,
};

use crate::constants::ESCROW_SEED;
use crate::errors::PaytabError;
use crate::events::Deposited;
use crate::state::Escrow;

/// Accounts of `deposit`.
#[derive(Accounts)]
pub struct Deposit<'info> {
    /// Authority of the source token account (anyone may top up an escrow).
    pub depositor: Signer<'info>,
    /// The escrow receiving the deposit.
    #[account(
        mut,
        seeds = [ESCROW_SEED, escrow.owner.as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
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
    /// The depositor's token account.
    #[account(mut, token::mint = mint, token::token_program = token_program)]
    pub source: InterfaceAccount<'info, TokenAccount>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
}

/// Deposits `amount` raw units into the vault with TransferChecked.
pub fn deposit(ctx: Context<Deposit>, amount: u64) -> Result<()> {
    require!(amount > 0, PaytabError::ZeroAmount);
    let accounts = &mut *ctx.accounts;
    transfer_checked(
        CpiContext::new(
            accounts.token_program.key(),
            TransferChecked {
                from: accounts.source.to_account_info(),
                mint: accounts.mint.to_account_info(),
                to: accounts.vault.to_account_info(),
                authority: accounts.depositor.to_account_info(),
            },
        ),
        amount,
        accounts.mint.decimals,
    )?;
    accounts.vault.reload()?;
    accounts.escrow.fund(amount)?;
    accounts.escrow.invariant()?;
    emit!(Deposited {
        escrow: accounts.escrow.key(),
        depositor: accounts.depositor.key(),
        amount,
        vault_balance: accounts.vault.amount,
    });
    Ok(())
}
