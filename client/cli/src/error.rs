//! The CLI's errors: what went wrong, and what to do about it.

use std::fmt;

/// An error for people: a message and, when there is one, a hint.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CliError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what to do.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

macro_rules! from_error {
    ($($source:ty),* $(,)?) => {
        $(impl From<$source> for CliError {
            fn from(error: $source) -> Self {
                Self::new(error.to_string())
            }
        })*
    };
}

from_error!(
    paytab_client::wallet::WalletError,
    paytab_client::ledger::LedgerError,
    paytab_client::policy::PolicyError,
    paytab_protocol::amount::AmountError,
    std::io::Error,
    serde_json::Error,
    crate::world::WorldError,
);

impl From<paytab_client::pay::PayError> for CliError {
    fn from(error: paytab_client::pay::PayError) -> Self {
        use paytab_client::pay::PayError;
        let hint = match &error {
            PayError::Policy(_) => Some("see `paytab policy show`; change it with `paytab policy set`"),
            PayError::NoUsableOffer(_) => Some("open an escrow and allow the provider (`paytab escrow open`, `paytab allow`), or fund the wallet (`paytab faucet` on localnet)"),
            _ => None,
        };
        let mut cli = Self::new(error.to_string());
        if let Some(hint) = hint {
            cli = cli.hint(hint);
        }
        cli
    }
}

impl From<solana_rpc_client_api::client_error::Error> for CliError {
    fn from(error: solana_rpc_client_api::client_error::Error) -> Self {
        Self::new(format!("Solana RPC: {error}"))
    }
}
