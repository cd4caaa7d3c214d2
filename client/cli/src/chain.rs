//! Reading mints and token balances.

use paytab_protocol::amount::format_units;
use solana_pubkey::Pubkey;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use spl_associated_token_account_interface::address::get_associated_token_address_with_program_id;

use crate::error::CliError;

/// A mint's token program and decimals.
pub async fn mint_info(rpc: &RpcClient, mint: &Pubkey) -> Result<(Pubkey, u8), CliError> {
    paytab_client::pay::read_mint(rpc, mint)
        .await
        .map_err(CliError::new)
}

/// Raw units of `mint` in `owner`'s associated token account (0 if it has none).
pub async fn token_balance(
    rpc: &RpcClient,
    owner: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
) -> u64 {
    let account = get_associated_token_address_with_program_id(owner, mint, token_program);
    account_balance(rpc, &account).await
}

/// Raw units in the token account at `account` (0 if there is none).
pub async fn account_balance(rpc: &RpcClient, account: &Pubkey) -> u64 {
    rpc.get_token_account_balance(account)
        .await
        .ok()
        .and_then(|balance| balance.amount.parse().ok())
        .unwrap_or(0)
}

/// `raw` as tokens with a symbol: `0.01 USDC` (or `0.01 <mint>` for other mints).
pub fn tokens(raw: u64, decimals: u8, mint: &Pubkey) -> String {
    let usdc = [
        crate::context::Context::default_mint(paytab_protocol::networks::SOLANA_MAINNET),
        crate::context::Context::default_mint(paytab_protocol::networks::SOLANA_DEVNET),
        paytab_localnet::usdc_mint_address(),
    ];
    let symbol = if usdc.contains(mint) {
        "USDC".to_string()
    } else {
        format!("of {mint}")
    };
    format!("{} {symbol}", format_units(raw, decimals))
}
