//! Opens an escrow for (owner, mint) with its program-owned vault.

use anchor_lang::prelude::*;
use anchor_spl::token_2022::spl_token_2022::extension::{
    BaseStateWithExtensions, ExtensionType, StateWithExtensions,
};
use anchor_spl::token_2022::spl_token_2022::state::Mint as MintState;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{ESCROW_SEED, MAX_NOTICE_SECS, VAULT_AUTHORITY_SEED, VAULT_SEED};
use crate::errors::PaytabError;
use crate::events::EscrowOpened;
use crate::state::Escrow;

/// Accounts of `open_escrow`.
#[derive(Accounts)]
pub struct OpenEscrow<'info> {
    /// The escrow's owner; pays rent.
    #[account(mut)]
    pub owner: Signer<'info>,
    /// Token the escrow will hold.
    #[account(mint::token_program = token_program)]
    pub mint: InterfaceAccount<'info, Mint>,
    /// The new escrow.
    #[account(
        init,
        payer = owner,
        space = 8 + Escrow::INIT_SPACE,
        seeds = [ESCROW_SEED, owner.key().as_ref(), mint.key().as_ref()],
        bump,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The escrow's vault: a token account held by the vault authority PDA.
    #[account(
        init,
        payer = owner,
        seeds = [VAULT_SEED, escrow.key().as_ref()],
        bump,
        token::mint = mint,
        token::authority = vault_authority,
        token::token_program = token_program,
    )]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    /// The PDA that signs for every vault.
    /// CHECK: a data-less PDA; the seeds constraint pins its address.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Interface<'info, TokenInterface>,
    /// System program.
    pub system_program: Program<'info, System>,
}

/// Opens the escrow; `notice_secs` delays every later cap reduction.
pub fn open_escrow(ctx: Context<OpenEscrow>, notice_secs: u32) -> Result<()> {
    require!(
        notice_secs <= MAX_NOTICE_SECS,
        PaytabError::NoticePeriodTooLong
    );
    check_mint_extensions(&ctx.accounts.mint.to_account_info())?;

    let escrow = &mut ctx.accounts.escrow;
    escrow.set_inner(Escrow {
        owner: ctx.accounts.owner.key(),
        mint: ctx.accounts.mint.key(),
        vault: ctx.accounts.vault.key(),
        funded: 0,
        committed: 0,
        notice_secs,
        allowance_count: 0,
        last_generation: 0,
        session_key: None,
        session_expires_at: 0,
        bump: ctx.bumps.escrow,
        vault_bump: ctx.bumps.vault,
    });
    emit!(EscrowOpened {
        escrow: escrow.key(),
        owner: escrow.owner,
        mint: escrow.mint,
        vault: escrow.vault,
        notice_secs,
    });
    Ok(())
}

/// Token-2022 extensions that cannot move or withhold vault funds behind the
/// escrow's back; any other extension is refused.
const ALLOWED_MINT_EXTENSIONS: &[ExtensionType] = &[
    ExtensionType::MetadataPointer,
    ExtensionType::TokenMetadata,
    ExtensionType::GroupPointer,
    ExtensionType::TokenGroup,
    ExtensionType::GroupMemberPointer,
    ExtensionType::TokenGroupMember,
    ExtensionType::MintCloseAuthority,
];

/// Refuses mints whose extensions (permanent delegate, transfer fee, transfer
/// hook, ...) would break "vault balance >= reserved" or the exact payouts.
fn check_mint_extensions(mint: &AccountInfo) -> Result<()> {
    if mint.owner != &anchor_spl::token_2022::ID {
        return Ok(());
    }
    let data = mint.try_borrow_data()?;
    let state = StateWithExtensions::<MintState>::unpack(&data)?;
    let extensions = state.get_extension_types()?;
    require!(
        extensions
            .iter()
            .all(|extension| ALLOWED_MINT_EXTENSIONS.contains(extension)),
        PaytabError::UnsupportedMintExtension
    );
    Ok(())
}
