//! Account reads: balances, account data in every encoding, program and token scans.

use serde::Deserialize;
use serde_json::{json, Value};
use solana_account::{AccountSharedData, ReadableAccount};
use solana_account_decoder::parse_account_data::{
    AccountAdditionalDataV3, SplTokenAdditionalDataV2,
};
use solana_account_decoder::{encode_ui_account, UiAccountEncoding, UiDataSliceConfig};
use solana_pubkey::Pubkey;
use solana_rpc_client_types::filter::RpcFilterType;
use solana_runtime::bank::Bank;
use spl_token_2022_interface::extension::StateWithExtensions;
use spl_token_2022_interface::state::Account as TokenAccount;

use super::error::RpcError;
use super::params::{parse_pubkey, Params};
use super::{to_json, with_context};
use crate::balances::{mint_decimals, ui_amount};
use crate::chain::Chain;

/// Most addresses `getMultipleAccounts` takes, as a validator.
const MAX_MULTIPLE_ACCOUNTS: usize = 100;
/// Offset of the owner in a token account.
const TOKEN_OWNER_OFFSET: usize = 32;

/// Options shared by the account methods.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountConfig {
    encoding: Option<UiAccountEncoding>,
    data_slice: Option<UiDataSliceConfig>,
    filters: Option<Vec<RpcFilterType>>,
    with_context: Option<bool>,
}

pub fn get_balance(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let address = params.pubkey(0, "address")?;
    with_context(chain, chain.bank().get_balance(&address))
}

pub fn get_account_info(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let address = params.pubkey(0, "address")?;
    let config: AccountConfig = params.optional(1, "config")?;
    let bank = chain.bank();
    let account = bank
        .get_account(&address)
        .map(|account| encode(&bank, &address, &account, &config));
    with_context(chain, account)
}

pub fn get_multiple_accounts(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let addresses: Vec<String> = params.required(0, "addresses")?;
    if addresses.len() > MAX_MULTIPLE_ACCOUNTS {
        return Err(RpcError::invalid_params(format!(
            "Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}"
        )));
    }
    let config: AccountConfig = params.optional(1, "config")?;
    let bank = chain.bank();
    let mut accounts = Vec::with_capacity(addresses.len());
    for address in &addresses {
        let address = parse_pubkey(address)?;
        accounts.push(
            bank.get_account(&address)
                .map(|account| encode(&bank, &address, &account, &config)),
        );
    }
    with_context(chain, accounts)
}

pub fn get_program_accounts(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let program = params.pubkey(0, "program id")?;
    let config: AccountConfig = params.optional(1, "config")?;
    let filters = config.filters.clone().unwrap_or_default();
    for filter in &filters {
        filter
            .verify()
            .map_err(|error| RpcError::invalid_params(format!("Invalid param: {error}")))?;
    }
    let bank = chain.bank();
    let accounts = scan(&bank, &program, |account| {
        filters.iter().all(|filter| allows(filter, account))
    })?;
    let keyed: Vec<Value> = accounts
        .iter()
        .map(|(address, account)| keyed(&bank, address, account, &config))
        .collect();
    if config.with_context.unwrap_or(false) {
        with_context(chain, keyed)
    } else {
        Ok(Value::Array(keyed))
    }
}

pub fn get_token_account_balance(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let address = params.pubkey(0, "token account")?;
    let bank = chain.bank();
    let not_a_token_account = || RpcError::invalid_params("Invalid param: not a Token account");
    let account = bank.get_account(&address).ok_or_else(not_a_token_account)?;
    if !is_token_program(account.owner()) {
        return Err(not_a_token_account());
    }
    let state = StateWithExtensions::<TokenAccount>::unpack(account.data())
        .map_err(|_| not_a_token_account())?;
    let decimals = mint_decimals(&bank, &state.base.mint)
        .ok_or_else(|| RpcError::invalid_params("Invalid param: mint could not be unpacked"))?;
    with_context(chain, ui_amount(state.base.amount, decimals))
}

/// Which token accounts `getTokenAccountsByOwner` wants.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum TokenAccountsFilter {
    Mint(String),
    ProgramId(String),
}

pub fn get_token_accounts_by_owner(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let owner = params.pubkey(0, "owner")?;
    let filter: TokenAccountsFilter = params.required(1, "mint or programId filter")?;
    let config: AccountConfig = params.optional(2, "config")?;
    let bank = chain.bank();
    let (program, mint) = match filter {
        TokenAccountsFilter::Mint(mint) => {
            let mint = parse_pubkey(&mint)?;
            let program = bank
                .get_account(&mint)
                .map(|account| *account.owner())
                .filter(is_token_program)
                .ok_or_else(|| RpcError::invalid_params("Invalid param: could not find mint"))?;
            (program, Some(mint))
        }
        TokenAccountsFilter::ProgramId(program) => {
            let program = parse_pubkey(&program)?;
            if !is_token_program(&program) {
                return Err(RpcError::invalid_params(
                    "Invalid param: unrecognized Token program id",
                ));
            }
            (program, None)
        }
    };
    let accounts = scan(&bank, &program, |account| {
        let Ok(state) = StateWithExtensions::<TokenAccount>::unpack(account.data()) else {
            return false;
        };
        account
            .data()
            .get(TOKEN_OWNER_OFFSET..TOKEN_OWNER_OFFSET + 32)
            == Some(owner.as_ref())
            && mint.is_none_or(|mint| state.base.mint == mint)
    })?;
    let keyed: Vec<Value> = accounts
        .iter()
        .map(|(address, account)| keyed(&bank, address, account, &config))
        .collect();
    with_context(chain, keyed)
}

/// Whether `account` passes a `getProgramAccounts` filter.
fn allows(filter: &RpcFilterType, account: &AccountSharedData) -> bool {
    match filter {
        RpcFilterType::DataSize(size) => account.data().len() as u64 == *size,
        RpcFilterType::Memcmp(compare) => compare.bytes_match(account.data()),
        RpcFilterType::TokenAccountState => {
            is_token_program(account.owner())
                && StateWithExtensions::<TokenAccount>::unpack(account.data()).is_ok()
        }
    }
}

pub(super) fn is_token_program(program: &Pubkey) -> bool {
    *program == spl_token_interface::ID || *program == spl_token_2022_interface::ID
}

/// Accounts owned by `program` that pass `keep`.
pub(super) fn scan(
    bank: &Bank,
    program: &Pubkey,
    keep: impl Fn(&AccountSharedData) -> bool,
) -> Result<Vec<(Pubkey, AccountSharedData)>, RpcError> {
    bank.get_filtered_program_accounts(program, keep, &Default::default())
        .map_err(|error| RpcError::new(-32603, format!("Internal error: {error}")))
}

fn keyed(
    bank: &Bank,
    address: &Pubkey,
    account: &AccountSharedData,
    config: &AccountConfig,
) -> Value {
    json!({ "pubkey": address.to_string(), "account": encode(bank, address, account, config) })
}

/// Encodes an account as the RPC's `UiAccount` (base64 unless asked otherwise).
fn encode(
    bank: &Bank,
    address: &Pubkey,
    account: &AccountSharedData,
    config: &AccountConfig,
) -> Value {
    let encoding = config.encoding.unwrap_or(UiAccountEncoding::Base64);
    let additional = (encoding == UiAccountEncoding::JsonParsed)
        .then(|| token_additional_data(bank, account))
        .flatten();
    let ui = encode_ui_account(address, account, encoding, additional, config.data_slice);
    to_json(ui).unwrap_or(Value::Null)
}

/// The mint decimals jsonParsed needs for a token account.
fn token_additional_data(
    bank: &Bank,
    account: &AccountSharedData,
) -> Option<AccountAdditionalDataV3> {
    if !is_token_program(account.owner()) {
        return None;
    }
    let state = StateWithExtensions::<TokenAccount>::unpack(account.data()).ok()?;
    let decimals = mint_decimals(bank, &state.base.mint)?;
    Some(AccountAdditionalDataV3 {
        spl_token_additional_data: Some(SplTokenAdditionalDataV2::with_decimals(decimals)),
    })
}
