//! Instruction builders from the program's generated account and argument types.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{InstructionData, ToAccountMetas};
use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use solana_keypair::Keypair;
use solana_signer::Signer;

use super::harness::{Harness, Payer};

fn instruction(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: paytab::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

/// `open_escrow` for `owner` and `mint`.
pub fn open_escrow(
    owner: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
    notice_secs: u32,
) -> Instruction {
    let escrow = paytab::pda::escrow(owner, mint);
    instruction(
        paytab::accounts::OpenEscrow {
            owner: *owner,
            mint: *mint,
            escrow,
            vault: paytab::pda::vault(&escrow),
            vault_authority: paytab::pda::vault_authority(),
            token_program: *token_program,
            system_program: anchor_lang::system_program::ID,
        },
        paytab::instruction::OpenEscrow { notice_secs },
    )
}

/// `deposit` of `amount` from the payer's own token account.
pub fn deposit(harness: &Harness, payer: &Payer, amount: u64) -> Instruction {
    deposit_from(
        harness,
        payer,
        &payer.wallet.keypair.pubkey(),
        payer.wallet.token,
        amount,
    )
}

/// `deposit` of `amount` from `source`, signed by `depositor`.
pub fn deposit_from(
    harness: &Harness,
    payer: &Payer,
    depositor: &Pubkey,
    source: Pubkey,
    amount: u64,
) -> Instruction {
    instruction(
        paytab::accounts::Deposit {
            depositor: *depositor,
            escrow: payer.escrow,
            mint: harness.mint,
            vault: payer.vault,
            source,
            token_program: harness.token_program,
        },
        paytab::instruction::Deposit { amount },
    )
}

/// `withdraw` of `amount` to `destination`.
pub fn withdraw(harness: &Harness, payer: &Payer, destination: Pubkey, amount: u64) -> Instruction {
    instruction(
        paytab::accounts::Withdraw {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
            mint: harness.mint,
            vault: payer.vault,
            vault_authority: paytab::pda::vault_authority(),
            destination,
            token_program: harness.token_program,
        },
        paytab::instruction::Withdraw { amount },
    )
}

/// `grant_allowance` of `args` to `provider`.
pub fn grant_allowance(payer: &Payer, provider: &Pubkey, args: GrantAllowanceArgs) -> Instruction {
    instruction(
        paytab::accounts::GrantAllowance {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
            provider: *provider,
            allowance: paytab::pda::allowance(&payer.escrow, provider),
            system_program: anchor_lang::system_program::ID,
        },
        paytab::instruction::GrantAllowance { args },
    )
}

/// `raise_allowance` to `new_cap` with expiry `expires_at`.
pub fn raise_allowance(
    payer: &Payer,
    allowance: Pubkey,
    new_cap: u64,
    expires_at: i64,
) -> Instruction {
    instruction(
        paytab::accounts::RaiseAllowance {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
            allowance,
        },
        paytab::instruction::RaiseAllowance {
            new_cap,
            expires_at,
        },
    )
}

fn manage(payer: &Payer, allowance: Pubkey) -> paytab::accounts::ManageAllowance {
    paytab::accounts::ManageAllowance {
        owner: payer.keypair().pubkey(),
        escrow: payer.escrow,
        allowance,
    }
}

/// `reduce_allowance` to `new_cap` (0 revokes).
pub fn reduce_allowance(payer: &Payer, allowance: Pubkey, new_cap: u64) -> Instruction {
    instruction(
        manage(payer, allowance),
        paytab::instruction::ReduceAllowance { new_cap },
    )
}

/// `finalize_reduction`.
pub fn finalize_reduction(payer: &Payer, allowance: Pubkey) -> Instruction {
    instruction(
        manage(payer, allowance),
        paytab::instruction::FinalizeReduction {},
    )
}

/// `close_allowance`.
pub fn close_allowance(payer: &Payer, allowance: Pubkey) -> Instruction {
    instruction(
        manage(payer, allowance),
        paytab::instruction::CloseAllowance {},
    )
}

/// `set_session_key` to `session_key` until `expires_at`.
pub fn set_session_key(payer: &Payer, session_key: Pubkey, expires_at: i64) -> Instruction {
    instruction(
        paytab::accounts::ManageSessionKey {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
        },
        paytab::instruction::SetSessionKey {
            session_key,
            expires_at,
        },
    )
}

/// `clear_session_key`.
pub fn clear_session_key(payer: &Payer) -> Instruction {
    instruction(
        paytab::accounts::ManageSessionKey {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
        },
        paytab::instruction::ClearSessionKey {},
    )
}

/// The accounts of a `claim`, overridable one by one for attack tests.
#[derive(Clone, Copy)]
pub struct ClaimAccounts {
    /// The paying escrow.
    pub escrow: Pubkey,
    /// The allowance drawn on.
    pub allowance: Pubkey,
    /// The escrow's vault.
    pub vault: Pubkey,
    /// The vault authority PDA.
    pub vault_authority: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The provider's token account.
    pub provider_token: Pubkey,
    /// The token program.
    pub token_program: Pubkey,
    /// The Instructions sysvar.
    pub instructions: Pubkey,
}

impl ClaimAccounts {
    /// The honest accounts for `payer`'s allowance paying into `provider_token`.
    pub fn new(
        harness: &Harness,
        payer: &Payer,
        allowance: Pubkey,
        provider_token: Pubkey,
    ) -> Self {
        Self {
            escrow: payer.escrow,
            allowance,
            vault: payer.vault,
            vault_authority: paytab::pda::vault_authority(),
            mint: harness.mint,
            provider_token,
            token_program: harness.token_program,
            instructions: solana_instructions_sysvar::ID,
        }
    }

    /// The `claim` instruction over these accounts.
    pub fn instruction(&self) -> Instruction {
        instruction(
            paytab::accounts::Claim {
                escrow: self.escrow,
                allowance: self.allowance,
                vault: self.vault,
                vault_authority: self.vault_authority,
                mint: self.mint,
                provider_token: self.provider_token,
                token_program: self.token_program,
                instructions: self.instructions,
            },
            paytab::instruction::Claim {},
        )
    }
}

/// The canonical Ed25519 precompile instruction for `signer`'s signature over `message`.
pub fn ed25519_verify(signer: &Keypair, message: &[u8]) -> Instruction {
    let signature = signer.sign_message(message);
    solana_ed25519_program::new_ed25519_instruction_with_signature(
        message,
        &signature.into(),
        &signer.pubkey().to_bytes(),
    )
}

/// The two instructions that claim `receipt` signed by `signer`.
pub fn signed_claim(
    signer: &Keypair,
    receipt: &Receipt,
    accounts: &ClaimAccounts,
) -> [Instruction; 2] {
    [
        ed25519_verify(signer, &receipt.to_bytes()),
        accounts.instruction(),
    ]
}

/// `claim_batch` over `entries` of (allowance, vault), paying into `provider_token`.
pub fn claim_batch(
    harness: &Harness,
    provider_token: Pubkey,
    entries: &[(Pubkey, Pubkey)],
) -> Instruction {
    let mut batch = instruction(
        paytab::accounts::ClaimBatch {
            mint: harness.mint,
            provider_token,
            vault_authority: paytab::pda::vault_authority(),
            token_program: harness.token_program,
            instructions: solana_instructions_sysvar::ID,
        },
        paytab::instruction::ClaimBatch {},
    );
    for (allowance, vault) in entries {
        batch
            .accounts
            .push(anchor_lang::solana_program::instruction::AccountMeta::new(
                *allowance, false,
            ));
        batch
            .accounts
            .push(anchor_lang::solana_program::instruction::AccountMeta::new(
                *vault, false,
            ));
    }
    batch
}

/// `close_escrow`, sweeping the vault into `destination`.
pub fn close_escrow(harness: &Harness, payer: &Payer, destination: Pubkey) -> Instruction {
    instruction(
        paytab::accounts::CloseEscrow {
            owner: payer.keypair().pubkey(),
            escrow: payer.escrow,
            mint: harness.mint,
            vault: payer.vault,
            vault_authority: paytab::pda::vault_authority(),
            destination,
            token_program: harness.token_program,
        },
        paytab::instruction::CloseEscrow {},
    )
}
