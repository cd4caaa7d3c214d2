//! Builds the first bank: genesis, SPL programs as shipped, the paytab program
//! loaded natively, and a USDC-like test mint.

use std::sync::Arc;

use agave_feature_set::FeatureSet;
use solana_account::{Account, AccountSharedData};
use solana_cluster_type::ClusterType;
use solana_fee_calculator::FeeRateGovernor;
use solana_keypair::Keypair;
use solana_native_token::LAMPORTS_PER_SOL;
use solana_poh_config::PohConfig;
use solana_program_pack::Pack;
use solana_program_runtime::invoke_context::BuiltinFunctionWithContext;
use solana_program_runtime::loaded_programs::ProgramCacheEntry;
use solana_program_test::processor;
use solana_rent::Rent;
use solana_runtime::bank::Bank;
use solana_runtime::genesis_utils::create_genesis_config_with_leader_ex;
use solana_runtime::runtime_config::RuntimeConfig;
use solana_signer::Signer;
use std::time::Duration;

use solana_pubkey::Pubkey;

/// Decimals of the test mint, as USDC.
pub const USDC_DECIMALS: u8 = 6;
/// SOL held by the faucet at genesis.
const FAUCET_LAMPORTS: u64 = 1_000_000 * LAMPORTS_PER_SOL;
/// Ticks per slot, as on a real cluster.
const TICKS_PER_SLOT: u64 = 64;
/// The slot length the genesis states (a real cluster's); the localnet's own
/// timer sets the pace.
const NOMINAL_SLOT: Duration = Duration::from_millis(400);
/// When the genesis says it was created (2026-01-01T00:00:00Z).
const GENESIS_TIME: i64 = 1_767_225_600;

/// The first bank and the keys the localnet holds.
pub struct Genesis {
    /// The bank at slot 1.
    pub bank: Bank,
    /// Pays airdrops and is the test mint's authority.
    pub faucet: Keypair,
    /// The USDC-like mint (SPL Token, 6 decimals).
    pub usdc_mint: Pubkey,
    /// Hash of the genesis configuration.
    pub genesis_hash: solana_hash::Hash,
    /// The validator's identity.
    pub identity: Pubkey,
}

/// The test mint's address: fixed, so configurations survive restarts.
pub fn usdc_mint_address() -> Pubkey {
    let seed = solana_sha256_hasher::hashv(&[b"paytab localnet usdc"]).to_bytes();
    Keypair::new_from_array(seed).pubkey()
}

/// A key derived from the genesis seed and its role: the same on every start.
fn seeded_key(seed: &str, role: &str) -> Keypair {
    let bytes =
        solana_sha256_hasher::hashv(&[b"paytab localnet key", seed.as_bytes(), role.as_bytes()])
            .to_bytes();
    Keypair::new_from_array(bytes)
}

/// Creates the genesis bank from `seed`: every key, the creation time and
/// the proof-of-history settings are fixed, so the genesis hash (and the
/// CAIP-2 network id) depends on the seed alone. The slot clock's pace does
/// not enter it: it is the localnet's timer, not the genesis.
pub fn build(seed: &str) -> Genesis {
    install_native_syscall_stubs();
    let faucet = seeded_key(seed, "faucet");
    let usdc_mint = usdc_mint_address();
    let rent = Rent::default();
    let feature_set = FeatureSet::all_enabled();
    let validator = seeded_key(seed, "validator identity").pubkey();
    let validator_stake = rent.minimum_balance(4_000) + 1_000_000 * LAMPORTS_PER_SOL;

    let mut genesis_config = create_genesis_config_with_leader_ex(
        FAUCET_LAMPORTS,
        &faucet.pubkey(),
        &validator,
        &seeded_key(seed, "validator vote").pubkey(),
        &seeded_key(seed, "validator stake").pubkey(),
        None,
        validator_stake,
        42,
        FeeRateGovernor {
            lamports_per_signature: 5_000,
            ..FeeRateGovernor::default()
        },
        rent.clone(),
        ClusterType::Development,
        &feature_set,
        vec![(usdc_mint, usdc_mint_account(&faucet.pubkey(), &rent))],
    );
    genesis_config.ticks_per_slot = TICKS_PER_SLOT;
    genesis_config.poh_config = PohConfig::new_sleep(NOMINAL_SLOT / TICKS_PER_SLOT as u32);
    genesis_config.creation_time = GENESIS_TIME;

    let bank = Bank::new_from_genesis(
        &genesis_config,
        Arc::new(RuntimeConfig::default()),
        Vec::default(),
        None,
        solana_accounts_db::accounts_db::ACCOUNTS_DB_CONFIG_FOR_TESTING,
        None,
        None,
        Arc::default(),
        None,
        None,
    );
    for (program_id, account) in solana_program_binaries::spl_programs(&rent) {
        bank.store_account(&program_id, &account);
    }
    for (program_id, account) in solana_program_binaries::core_bpf_programs(&rent, |feature| {
        genesis_config.accounts.contains_key(feature)
    }) {
        bank.store_account(&program_id, &account);
    }
    let paytab_entrypoint = builtin(processor!(paytab::native::process_instruction));
    bank.add_builtin(
        paytab::ID,
        "paytab",
        ProgramCacheEntry::new_builtin(0, "paytab".len(), paytab_entrypoint),
    );
    bank.set_capitalization_for_tests(bank.calculate_capitalization_for_tests());
    let bank = Arc::new(bank);
    bank.fill_bank_with_ticks_for_tests();
    let bank = Bank::new_from_parent(bank.clone(), bank.collector_id(), bank.slot() + 1);
    Genesis {
        bank,
        faucet,
        usdc_mint,
        genesis_hash: genesis_config.hash(),
        identity: validator,
    }
}

/// Unwraps what `processor!` yields (always `Some`), fixing its type.
fn builtin(entrypoint: Option<BuiltinFunctionWithContext>) -> BuiltinFunctionWithContext {
    entrypoint.unwrap_or_else(|| unreachable!("processor! always yields a builtin function"))
}

/// A mint account for the test USDC, with `authority` as mint authority.
fn usdc_mint_account(authority: &Pubkey, rent: &Rent) -> AccountSharedData {
    let mint = spl_token_interface::state::Mint {
        mint_authority: Some(*authority).into(),
        supply: 0,
        decimals: USDC_DECIMALS,
        is_initialized: true,
        freeze_authority: None.into(),
    };
    let mut data = vec![0; spl_token_interface::state::Mint::LEN];
    spl_token_interface::state::Mint::pack(mint, &mut data).expect("mint packs into its length");
    AccountSharedData::from(Account {
        lamports: rent.minimum_balance(data.len()),
        data,
        owner: spl_token_interface::ID,
        executable: false,
        rent_epoch: 0,
    })
}

/// Natively loaded programs make cross-program invocations through the syscall
/// stubs that solana-program-test installs the first time one of its banks
/// starts; starting (and dropping) a throwaway one installs them.
fn install_native_syscall_stubs() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // On its own thread: the caller may already be inside a tokio runtime.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime starts");
            let mut program_test = solana_program_test::ProgramTest::default();
            program_test.prefer_bpf(false);
            drop(runtime.block_on(program_test.start_with_context()));
        })
        .join()
        .expect("the syscall stubs install");
        // Starting it also turned the runtime's logging up to debug; turn it back
        // down unless RUST_LOG asks otherwise.
        agave_logger::setup_with_default("error");
    });
}
