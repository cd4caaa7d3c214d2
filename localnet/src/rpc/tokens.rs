//! Token-wide reads: a mint's supply and its largest accounts.

use serde_json::{json, Value};
use solana_account::ReadableAccount;
use spl_token_2022_interface::extension::StateWithExtensions;
use spl_token_2022_interface::state::{Account as TokenAccount, Mint};

use super::accounts::{is_token_program, scan};
use super::error::RpcError;
use super::params::Params;
use super::{to_json, with_context};
use crate::balances::ui_amount;
use crate::chain::Chain;

/// How many accounts `getTokenLargestAccounts` lists, as a validator.
const LARGEST: usize = 20;

/// A mint's supply and decimals, or the validator's error for anything else.
fn read_mint(
    chain: &Chain,
    params: &Params,
) -> Result<(solana_pubkey::Pubkey, Mint, solana_pubkey::Pubkey), RpcError> {
    let address = params.pubkey(0, "mint")?;
    let not_a_mint = || RpcError::invalid_params("Invalid param: not a Token mint");
    let account = chain.bank().get_account(&address).ok_or_else(not_a_mint)?;
    if !is_token_program(account.owner()) {
        return Err(not_a_mint());
    }
    let mint = StateWithExtensions::<Mint>::unpack(account.data())
        .map_err(|_| not_a_mint())?
        .base;
    Ok((address, mint, *account.owner()))
}

pub fn get_token_supply(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let (_, mint, _) = read_mint(chain, params)?;
    with_context(chain, ui_amount(mint.supply, mint.decimals))
}

pub fn get_token_largest_accounts(chain: &Chain, params: &Params) -> Result<Value, RpcError> {
    let (address, mint, program) = read_mint(chain, params)?;
    let bank = chain.bank();
    let accounts = scan(&bank, &program, |account| {
        StateWithExtensions::<TokenAccount>::unpack(account.data())
            .is_ok_and(|state| state.base.mint == address)
    })?;
    let mut holdings: Vec<(solana_pubkey::Pubkey, u64)> = accounts
        .iter()
        .filter_map(|(key, account)| {
            let state = StateWithExtensions::<TokenAccount>::unpack(account.data()).ok()?;
            Some((*key, state.base.amount))
        })
        .collect();
    holdings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let largest: Vec<Value> = holdings
        .into_iter()
        .take(LARGEST)
        .map(|(key, amount)| {
            let mut entry = to_json(ui_amount(amount, mint.decimals)).unwrap_or(Value::Null);
            entry["address"] = json!(key.to_string());
            entry
        })
        .collect();
    with_context(chain, largest)
}
