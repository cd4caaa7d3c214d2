//! Creates a provider's allowance and reserves its cap out of free balance.

use anchor_lang::prelude::*;

use crate::constants::{ALLOWANCE_SEED, ESCROW_SEED, MAX_PERIOD_SECS};
use crate::errors::PaytabError;
use crate::events::AllowanceGranted;
use crate::state::{Allowance, Escrow};

/// Terms of a new allowance.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct GrantAllowanceArgs {
    /// Total the provider may ever claim (raw units); reserved at once.
    pub cap: u64,
    /// Window length in seconds for a period limit; 0 for none.
    pub period_secs: u32,
    /// Most the provider may claim per window; ignored when `period_secs == 0`.
    pub period_limit: u64,
    /// Unix time from which nothing is paid; 0 for never.
    pub expires_at: i64,
    /// A further key allowed to sign receipts (e.g. a facilitator's); fixed for the allowance's life.
    pub delegate: Option<Pubkey>,
}

/// Accounts of `grant_allowance`.
#[derive(Accounts)]
#[instruction(args: GrantAllowanceArgs)]
pub struct GrantAllowance<'info> {
    /// The escrow's owner; pays rent.
    #[account(mut)]
    pub owner: Signer<'info>,
    /// The escrow the allowance draws on.
    #[account(
        mut,
        seeds = [ESCROW_SEED, owner.key().as_ref(), escrow.mint.as_ref()],
        bump = escrow.bump,
        has_one = owner,
    )]
    pub escrow: Account<'info, Escrow>,
    /// The provider's wallet (owner of the token account claims go to).
    /// CHECK: any address may be a provider; it is only recorded and used as a seed.
    pub provider: UncheckedAccount<'info>,
    /// The new allowance.
    #[account(
        init,
        payer = owner,
        space = 8 + Allowance::INIT_SPACE,
        seeds = [ALLOWANCE_SEED, escrow.key().as_ref(), provider.key().as_ref()],
        bump,
    )]
    pub allowance: Account<'info, Allowance>,
    /// System program.
    pub system_program: Program<'info, System>,
}

/// Grants the allowance and reserves `cap` of the escrow's free balance.
pub fn grant_allowance(ctx: Context<GrantAllowance>, args: GrantAllowanceArgs) -> Result<()> {
    require!(args.cap > 0, PaytabError::ZeroAmount);
    let clock = Clock::get()?;
    if args.period_secs > 0 {
        require!(
            args.period_secs <= MAX_PERIOD_SECS && args.period_limit > 0,
            PaytabError::InvalidPeriod
        );
    }
    require!(
        args.expires_at == 0 || args.expires_at > clock.unix_timestamp,
        PaytabError::ExpiryInPast
    );

    let accounts = &mut *ctx.accounts;
    let escrow = &mut accounts.escrow;
    escrow.commit(args.cap)?;
    escrow.allowance_count = escrow
        .allowance_count
        .checked_add(1)
        .ok_or(PaytabError::MathOverflow)?;
    let generation = escrow.next_generation(clock.slot)?;

    let allowance = &mut accounts.allowance;
    allowance.set_inner(Allowance {
        escrow: escrow.key(),
        provider: accounts.provider.key(),
        vault: escrow.vault,
        cap: args.cap,
        claimed: 0,
        generation,
        period_secs: args.period_secs,
        period_limit: if args.period_secs > 0 {
            args.period_limit
        } else {
            0
        },
        window_start: clock.unix_timestamp,
        window_spent: 0,
        expires_at: args.expires_at,
        delegate: args.delegate,
        pending_cap: None,
        reduction_effective_at: 0,
        bump: ctx.bumps.allowance,
    });
    escrow.invariant()?;
    emit!(AllowanceGranted {
        escrow: escrow.key(),
        allowance: allowance.key(),
        provider: allowance.provider,
        cap: allowance.cap,
        generation,
        period_secs: allowance.period_secs,
        period_limit: allowance.period_limit,
        expires_at: allowance.expires_at,
        delegate: allowance.delegate,
    });
    Ok(())
}
