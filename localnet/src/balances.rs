//! Lamport and token balances of a transaction's accounts, before and after.

use solana_account::ReadableAccount;
use solana_account_decoder::parse_token::token_amount_to_ui_amount_v3;
use solana_account_decoder_client_types::token::UiTokenAmount;
use solana_pubkey::Pubkey;
use solana_runtime::bank::Bank;
use solana_transaction_status_client_types::TransactionTokenBalance;
use spl_token_2022_interface::extension::StateWithExtensions;
use spl_token_2022_interface::state::{Account as TokenAccount, Mint};

/// Balances of the accounts of one transaction at one moment.
pub struct Balances {
    /// Lamports per account key, in key order.
    pub lamports: Vec<u64>,
    /// Token balances of the keys that are token accounts.
    pub tokens: Vec<TransactionTokenBalance>,
}

/// Reads the balances of `keys` from `bank`.
pub fn collect(bank: &Bank, keys: &[Pubkey]) -> Balances {
    let mut lamports = Vec::with_capacity(keys.len());
    let mut tokens = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let account = bank.get_account(key);
        lamports.push(account.as_ref().map_or(0, |account| account.lamports()));
        let Some(account) = account else { continue };
        if let Some(balance) = token_balance(bank, index, account.owner(), account.data()) {
            tokens.push(balance);
        }
    }
    Balances { lamports, tokens }
}

/// The token balance of a token account, if `data` is one.
fn token_balance(
    bank: &Bank,
    index: usize,
    program: &Pubkey,
    data: &[u8],
) -> Option<TransactionTokenBalance> {
    if *program != spl_token_interface::ID && *program != spl_token_2022_interface::ID {
        return None;
    }
    let account = StateWithExtensions::<TokenAccount>::unpack(data).ok()?;
    let decimals = mint_decimals(bank, &account.base.mint)?;
    Some(TransactionTokenBalance {
        account_index: u8::try_from(index).ok()?,
        mint: account.base.mint.to_string(),
        ui_token_amount: ui_amount(account.base.amount, decimals),
        owner: account.base.owner.to_string(),
        program_id: program.to_string(),
    })
}

/// Decimals of `mint`, if it is a mint account.
pub fn mint_decimals(bank: &Bank, mint: &Pubkey) -> Option<u8> {
    let account = bank.get_account(mint)?;
    let mint = StateWithExtensions::<Mint>::unpack(account.data()).ok()?;
    Some(mint.base.decimals)
}

/// A raw amount as the RPC's `UiTokenAmount`.
pub fn ui_amount(amount: u64, decimals: u8) -> UiTokenAmount {
    token_amount_to_ui_amount_v3(
        amount,
        &solana_account_decoder::parse_account_data::SplTokenAdditionalDataV2::with_decimals(
            decimals,
        ),
    )
}
