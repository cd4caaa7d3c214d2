//! Instructions of the paytab program for one escrow (owner, mint).

use anchor_lang::{InstructionData, ToAccountMetas};
use paytab::instructions::GrantAllowanceArgs;
use solana_instruction::Instruction;
use solana_pubkey::Pubkey;

/// An escrow, named by its owner and mint, and the token program of the mint.
/// Every instruction the owner signs is built from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowAccounts {
    /// The escrow owner (the payer).
    pub owner: Pubkey,
    /// The escrow's mint.
    pub mint: Pubkey,
    /// SPL Token or Token-2022, whichever owns the mint.
    pub token_program: Pubkey,
}

fn instruction(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: paytab::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

impl EscrowAccounts {
    /// The escrow of `owner` for `mint`.
    pub fn new(owner: Pubkey, mint: Pubkey, token_program: Pubkey) -> Self {
        Self {
            owner,
            mint,
            token_program,
        }
    }

    /// The escrow PDA.
    pub fn escrow(&self) -> Pubkey {
        paytab::pda::escrow(&self.owner, &self.mint)
    }

    /// The escrow's vault.
    pub fn vault(&self) -> Pubkey {
        paytab::pda::vault(&self.escrow())
    }

    /// The allowance PDA of `provider`.
    pub fn allowance(&self, provider: &Pubkey) -> Pubkey {
        paytab::pda::allowance(&self.escrow(), provider)
    }

    /// `open_escrow` with a notice period of `notice_secs` for reductions.
    pub fn open(&self, notice_secs: u32) -> Instruction {
        let escrow = self.escrow();
        instruction(
            paytab::accounts::OpenEscrow {
                owner: self.owner,
                mint: self.mint,
                escrow,
                vault: paytab::pda::vault(&escrow),
                vault_authority: paytab::pda::vault_authority(),
                token_program: self.token_program,
                system_program: anchor_lang::system_program::ID,
            },
            paytab::instruction::OpenEscrow { notice_secs },
        )
    }

    /// The owner's associated token account for the mint.
    pub fn owner_token_account(&self) -> Pubkey {
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            &self.owner,
            &self.mint,
            &self.token_program,
        )
    }

    /// An escrow ready to pay `provider`, in one transaction: `open_escrow`,
    /// `deposit` of `amount` from the owner's token account, `grant_allowance`.
    pub fn open_with_allowance(
        &self,
        notice_secs: u32,
        amount: u64,
        provider: &Pubkey,
        args: GrantAllowanceArgs,
    ) -> [Instruction; 3] {
        [
            self.open(notice_secs),
            self.deposit(self.owner_token_account(), amount),
            self.grant(provider, args),
        ]
    }

    /// `deposit` of `amount` from the owner's token account `source`.
    pub fn deposit(&self, source: Pubkey, amount: u64) -> Instruction {
        instruction(
            paytab::accounts::Deposit {
                depositor: self.owner,
                escrow: self.escrow(),
                mint: self.mint,
                vault: self.vault(),
                source,
                token_program: self.token_program,
            },
            paytab::instruction::Deposit { amount },
        )
    }

    /// `withdraw` of `amount` of free balance to `destination`.
    pub fn withdraw(&self, destination: Pubkey, amount: u64) -> Instruction {
        instruction(
            paytab::accounts::Withdraw {
                owner: self.owner,
                escrow: self.escrow(),
                mint: self.mint,
                vault: self.vault(),
                vault_authority: paytab::pda::vault_authority(),
                destination,
                token_program: self.token_program,
            },
            paytab::instruction::Withdraw { amount },
        )
    }

    /// `grant_allowance` of `args` to `provider`.
    pub fn grant(&self, provider: &Pubkey, args: GrantAllowanceArgs) -> Instruction {
        instruction(
            paytab::accounts::GrantAllowance {
                owner: self.owner,
                escrow: self.escrow(),
                provider: *provider,
                allowance: self.allowance(provider),
                system_program: anchor_lang::system_program::ID,
            },
            paytab::instruction::GrantAllowance { args },
        )
    }

    /// `raise_allowance` of `provider` to `new_cap`, with expiry `expires_at`.
    pub fn raise(&self, provider: &Pubkey, new_cap: u64, expires_at: i64) -> Instruction {
        instruction(
            paytab::accounts::RaiseAllowance {
                owner: self.owner,
                escrow: self.escrow(),
                allowance: self.allowance(provider),
            },
            paytab::instruction::RaiseAllowance {
                new_cap,
                expires_at,
            },
        )
    }

    fn manage(&self, provider: &Pubkey) -> paytab::accounts::ManageAllowance {
        paytab::accounts::ManageAllowance {
            owner: self.owner,
            escrow: self.escrow(),
            allowance: self.allowance(provider),
        }
    }

    /// `reduce_allowance` of `provider` to `new_cap`; 0 revokes.
    pub fn reduce(&self, provider: &Pubkey, new_cap: u64) -> Instruction {
        instruction(
            self.manage(provider),
            paytab::instruction::ReduceAllowance { new_cap },
        )
    }

    /// `finalize_reduction` of `provider`'s allowance.
    pub fn finalize_reduction(&self, provider: &Pubkey) -> Instruction {
        instruction(
            self.manage(provider),
            paytab::instruction::FinalizeReduction {},
        )
    }

    /// `close_allowance` of `provider`'s allowance.
    pub fn close_allowance(&self, provider: &Pubkey) -> Instruction {
        instruction(
            self.manage(provider),
            paytab::instruction::CloseAllowance {},
        )
    }

    /// `set_session_key` to `session_key` until `expires_at`.
    pub fn set_session_key(&self, session_key: Pubkey, expires_at: i64) -> Instruction {
        instruction(
            paytab::accounts::ManageSessionKey {
                owner: self.owner,
                escrow: self.escrow(),
            },
            paytab::instruction::SetSessionKey {
                session_key,
                expires_at,
            },
        )
    }

    /// `clear_session_key`.
    pub fn clear_session_key(&self) -> Instruction {
        instruction(
            paytab::accounts::ManageSessionKey {
                owner: self.owner,
                escrow: self.escrow(),
            },
            paytab::instruction::ClearSessionKey {},
        )
    }

    /// `close_escrow`, sweeping the vault into `destination`.
    pub fn close(&self, destination: Pubkey) -> Instruction {
        instruction(
            paytab::accounts::CloseEscrow {
                owner: self.owner,
                escrow: self.escrow(),
                mint: self.mint,
                vault: self.vault(),
                vault_authority: paytab::pda::vault_authority(),
                destination,
                token_program: self.token_program,
            },
            paytab::instruction::CloseEscrow {},
        )
    }
}
