//! A solana-program-test bank with the paytab program loaded natively, SPL Token,
//! Token-2022 and ATA as shipped, and builders for wallets, escrows and allowances.
//!
//! Every successful transaction is followed by an invariant check over every
//! escrow and allowance the harness has seen.

use anchor_lang::prelude::{Clock, Pubkey};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::AccountDeserialize;
use paytab::instructions::GrantAllowanceArgs;
use paytab::state::{Allowance, Escrow};
use solana_keypair::Keypair;
use solana_message::{v0, AddressLookupTableAccount, VersionedMessage};
use solana_program_test::{processor, BanksClientError, ProgramTest, ProgramTestContext};
use solana_signer::Signer;
use solana_transaction::versioned::VersionedTransaction;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError;
use spl_token_2022_interface::extension::ExtensionType;

use super::ix;

/// Raw units of the test mint per token (6 decimals, like USDC).
pub const TOKEN: u64 = 1_000_000;
/// Decimals of every test mint.
pub const DECIMALS: u8 = 6;

/// A wallet with a token account of the harness mint.
pub struct Wallet {
    /// The wallet's keypair.
    pub keypair: Keypair,
    /// Its associated token account for the harness mint.
    pub token: Pubkey,
}

impl Wallet {
    /// The wallet's address.
    pub fn pubkey(&self) -> Pubkey {
        self.keypair.pubkey()
    }
}

/// A payer with an open escrow.
pub struct Payer {
    /// The payer's wallet.
    pub wallet: Wallet,
    /// The escrow address.
    pub escrow: Pubkey,
    /// The escrow's vault.
    pub vault: Pubkey,
}

impl Payer {
    /// The payer's keypair (the escrow owner).
    pub fn keypair(&self) -> &Keypair {
        &self.wallet.keypair
    }
}

/// The test bank and what lives in it.
pub struct Harness {
    /// The program-test context (bank, fee payer, blockhash).
    pub ctx: ProgramTestContext,
    /// The test mint.
    pub mint: Pubkey,
    /// The token program that owns the mint.
    pub token_program: Pubkey,
    mint_authority: Keypair,
    escrows: Vec<Pubkey>,
    allowances: Vec<Pubkey>,
}

impl Harness {
    /// A bank with an SPL Token mint.
    pub async fn new() -> Self {
        Self::with_token_program(spl_token_interface::ID).await
    }

    /// A bank with a mint owned by `token_program` (SPL Token or Token-2022).
    pub async fn with_token_program(token_program: Pubkey) -> Self {
        let mut program_test = ProgramTest::new(
            "paytab",
            paytab::ID,
            processor!(paytab::native::process_instruction),
        );
        program_test.prefer_bpf(false);
        // Runtime and program logs only when asked for with RUST_LOG.
        agave_logger::setup_with_default("error");
        let ctx = program_test.start_with_context().await;
        let mut harness = Self {
            ctx,
            mint: Pubkey::default(),
            token_program,
            mint_authority: Keypair::new(),
            escrows: Vec::new(),
            allowances: Vec::new(),
        };
        harness.mint = harness.create_mint(token_program).await;
        harness
    }

    /// Creates a plain 6-decimal mint owned by `token_program`.
    pub async fn create_mint(&mut self, token_program: Pubkey) -> Pubkey {
        self.create_mint_with(token_program, &[], |_| Vec::new())
            .await
    }

    /// Creates a 6-decimal mint owned by `token_program` with room for
    /// `extensions`, initialised by the instructions `init_extensions` returns for
    /// the mint's address before the mint itself is initialised.
    pub async fn create_mint_with(
        &mut self,
        token_program: Pubkey,
        extensions: &[ExtensionType],
        init_extensions: impl FnOnce(&Pubkey) -> Vec<Instruction>,
    ) -> Pubkey {
        let mint = Keypair::new();
        let len =
            ExtensionType::try_calculate_account_len::<spl_token_2022_interface::state::Mint>(
                extensions,
            )
            .expect("mint length");
        let rent = self.rent(len).await;
        let mut instructions = vec![solana_system_interface::instruction::create_account(
            &self.ctx.payer.pubkey(),
            &mint.pubkey(),
            rent,
            len as u64,
            &token_program,
        )];
        instructions.extend(init_extensions(&mint.pubkey()));
        instructions.push(
            spl_token_2022_interface::instruction::initialize_mint2(
                &token_program,
                &mint.pubkey(),
                &self.mint_authority.pubkey(),
                None,
                DECIMALS,
            )
            .expect("initialize_mint2"),
        );
        self.send(&instructions, &[&mint])
            .await
            .expect("mint created");
        mint.pubkey()
    }

    /// Lamports for rent exemption of `len` bytes.
    pub async fn rent(&mut self, len: usize) -> u64 {
        let rent = self.ctx.banks_client.get_rent().await.expect("rent");
        rent.minimum_balance(len)
    }

    /// A new wallet with SOL and an associated token account of the harness mint
    /// holding `tokens` raw units.
    pub async fn wallet(&mut self, tokens: u64) -> Wallet {
        let mint = self.mint;
        self.wallet_of(mint, tokens).await
    }

    /// A new wallet with SOL and `tokens` raw units of `mint`.
    pub async fn wallet_of(&mut self, mint: Pubkey, tokens: u64) -> Wallet {
        let keypair = Keypair::new();
        let token = self.token_account(&keypair.pubkey(), &mint).await;
        let transfer = solana_system_interface::instruction::transfer(
            &self.ctx.payer.pubkey(),
            &keypair.pubkey(),
            1_000_000_000,
        );
        self.send(&[transfer], &[]).await.expect("wallet funded");
        if tokens > 0 {
            self.mint_to(mint, token, tokens).await;
        }
        Wallet { keypair, token }
    }

    /// Creates the associated token account of (`owner`, `mint`).
    pub async fn token_account(&mut self, owner: &Pubkey, mint: &Pubkey) -> Pubkey {
        let token_program = self.owner_of(mint).await;
        let create =
            spl_associated_token_account_interface::instruction::create_associated_token_account(
                &self.ctx.payer.pubkey(),
                owner,
                mint,
                &token_program,
            );
        self.send(&[create], &[])
            .await
            .expect("token account created");
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            owner,
            mint,
            &token_program,
        )
    }

    /// Mints `amount` raw units of `mint` into `account`.
    pub async fn mint_to(&mut self, mint: Pubkey, account: Pubkey, amount: u64) {
        let token_program = self.owner_of(&mint).await;
        let mint_to = spl_token_2022_interface::instruction::mint_to_checked(
            &token_program,
            &mint,
            &account,
            &self.mint_authority.pubkey(),
            &[],
            amount,
            DECIMALS,
        )
        .expect("mint_to_checked");
        let authority = self.mint_authority.insecure_clone();
        self.send(&[mint_to], &[&authority]).await.expect("minted");
    }

    /// A payer wallet holding `tokens`, with an escrow (notice `notice_secs`)
    /// into which `deposit` raw units were deposited.
    pub async fn payer(&mut self, tokens: u64, deposit: u64, notice_secs: u32) -> Payer {
        let wallet = self.wallet(tokens).await;
        let open = ix::open_escrow(
            &wallet.pubkey(),
            &self.mint,
            &self.token_program,
            notice_secs,
        );
        self.send(&[open], &[&wallet.keypair])
            .await
            .expect("escrow opened");
        let escrow = paytab::pda::escrow(&wallet.pubkey(), &self.mint);
        self.track_escrow(escrow);
        let payer = Payer {
            escrow,
            vault: paytab::pda::vault(&escrow),
            wallet,
        };
        if deposit > 0 {
            let deposit = ix::deposit(self, &payer, deposit);
            self.send(&[deposit], &[payer.keypair()])
                .await
                .expect("deposited");
        }
        payer
    }

    /// Grants `provider` an allowance on `payer`'s escrow; returns its address.
    pub async fn grant(
        &mut self,
        payer: &Payer,
        provider: &Pubkey,
        args: GrantAllowanceArgs,
    ) -> Result<Pubkey, TransactionError> {
        let grant = ix::grant_allowance(payer, provider, args);
        self.send(&[grant], &[payer.keypair()]).await?;
        let allowance = paytab::pda::allowance(&payer.escrow, provider);
        self.track_allowance(allowance);
        Ok(allowance)
    }

    /// Sends a legacy transaction paid by the context payer and signed by `signers`,
    /// with a fresh blockhash so identical transactions are never deduplicated.
    pub async fn send(
        &mut self,
        instructions: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<(), TransactionError> {
        let blockhash = self.fresh_blockhash().await;
        let payer = self.ctx.payer.insecure_clone();
        let mut all_signers: Vec<&Keypair> = vec![&payer];
        all_signers.extend_from_slice(signers);
        let transaction = Transaction::new_signed_with_payer(
            instructions,
            Some(&payer.pubkey()),
            &all_signers,
            blockhash,
        );
        self.process(transaction.into()).await
    }

    /// Builds a v0 transaction using `tables`, signed by the context payer alone.
    pub async fn v0_transaction(
        &mut self,
        instructions: &[Instruction],
        tables: &[AddressLookupTableAccount],
    ) -> VersionedTransaction {
        let blockhash = self.fresh_blockhash().await;
        let message =
            v0::Message::try_compile(&self.ctx.payer.pubkey(), instructions, tables, blockhash)
                .expect("v0 message compiles");
        VersionedTransaction::try_new(VersionedMessage::V0(message), &[&self.ctx.payer])
            .expect("v0 transaction signs")
    }

    /// Processes a transaction, then checks every invariant if it succeeded.
    pub async fn process(
        &mut self,
        transaction: VersionedTransaction,
    ) -> Result<(), TransactionError> {
        let result = self
            .ctx
            .banks_client
            .process_transaction(transaction)
            .await
            .map_err(into_transaction_error);
        if result.is_ok() {
            self.assert_invariants().await;
        }
        result
    }

    async fn fresh_blockhash(&mut self) -> solana_hash::Hash {
        self.ctx
            .get_new_latest_blockhash()
            .await
            .expect("new blockhash")
    }

    /// Starts checking invariants of `escrow` after every transaction.
    pub fn track_escrow(&mut self, escrow: Pubkey) {
        if !self.escrows.contains(&escrow) {
            self.escrows.push(escrow);
        }
    }

    /// Starts checking invariants of `allowance` after every transaction.
    pub fn track_allowance(&mut self, allowance: Pubkey) {
        if !self.allowances.contains(&allowance) {
            self.allowances.push(allowance);
        }
    }

    /// For every tracked escrow: vault balance covers what its open allowances may
    /// still claim, commitments never exceed funding; every allowance: claimed <= cap.
    pub async fn assert_invariants(&mut self) {
        let mut outstanding: Vec<(Pubkey, u64)> = Vec::new();
        for allowance_address in self.allowances.clone() {
            let Some(allowance) = self.try_account::<Allowance>(allowance_address).await else {
                continue;
            };
            assert!(
                allowance.claimed <= allowance.cap,
                "claimed {} above cap {} on {allowance_address}",
                allowance.claimed,
                allowance.cap
            );
            outstanding.push((allowance.escrow, allowance.remaining()));
        }
        for escrow_address in self.escrows.clone() {
            let Some(escrow) = self.try_account::<Escrow>(escrow_address).await else {
                continue;
            };
            let reserved: u64 = outstanding
                .iter()
                .filter(|(of, _)| *of == escrow_address)
                .map(|(_, remaining)| remaining)
                .sum();
            let vault = self.balance(escrow.vault).await;
            assert!(
                vault >= reserved,
                "vault {vault} below reserved {reserved} on {escrow_address}"
            );
            assert!(
                escrow.committed <= escrow.funded,
                "committed {} above funded {} on {escrow_address}",
                escrow.committed,
                escrow.funded
            );
        }
    }

    /// The escrow account at `address`.
    pub async fn escrow(&mut self, address: Pubkey) -> Escrow {
        self.try_account(address).await.expect("escrow exists")
    }

    /// The allowance account at `address`.
    pub async fn allowance(&mut self, address: Pubkey) -> Allowance {
        self.try_account(address).await.expect("allowance exists")
    }

    /// The raw account at `address`, if it exists.
    pub async fn account(&mut self, address: Pubkey) -> Option<solana_account::Account> {
        self.ctx
            .banks_client
            .get_account(address)
            .await
            .expect("banks client")
    }

    /// Deserializes an Anchor account, or `None` if it does not exist.
    pub async fn try_account<T: AccountDeserialize>(&mut self, address: Pubkey) -> Option<T> {
        let account = self.account(address).await?;
        T::try_deserialize(&mut account.data.as_slice()).ok()
    }

    /// Whether an account exists at `address`.
    pub async fn exists(&mut self, address: Pubkey) -> bool {
        self.account(address).await.is_some()
    }

    /// The program owning the account at `address`.
    pub async fn owner_of(&mut self, address: &Pubkey) -> Pubkey {
        self.account(*address).await.expect("account exists").owner
    }

    /// Token balance of `account` (0 if it does not exist).
    pub async fn balance(&mut self, account: Pubkey) -> u64 {
        self.account(account).await.map_or(0, |account| {
            spl_token_2022_interface::state::Account::unpack_from_slice(&account.data[..165])
                .expect("token account")
                .amount
        })
    }

    /// The bank's current unix time.
    pub async fn now(&mut self) -> i64 {
        self.clock().await.unix_timestamp
    }

    /// Moves the bank's clock forward by `secs` seconds.
    pub async fn advance(&mut self, secs: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp += secs;
        self.ctx.set_sysvar(&clock);
    }

    /// Moves the bank forward `slots` slots (keeping the clock's unix time).
    pub async fn advance_slots(&mut self, slots: u64) {
        let clock = self.clock().await;
        self.ctx
            .warp_to_slot(clock.slot + slots)
            .expect("warp forward");
        let mut warped = self.clock().await;
        warped.unix_timestamp = warped.unix_timestamp.max(clock.unix_timestamp);
        self.ctx.set_sysvar(&warped);
    }

    async fn clock(&mut self) -> Clock {
        self.ctx
            .banks_client
            .get_sysvar::<Clock>()
            .await
            .expect("clock")
    }
}

fn into_transaction_error(error: BanksClientError) -> TransactionError {
    match error {
        BanksClientError::TransactionError(error)
        | BanksClientError::SimulationError { err: error, .. } => error,
        other => panic!("transport error: {other}"),
    }
}
