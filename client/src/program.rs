//! The paytab program over JSON-RPC through anchor-client: the owner's
//! transactions (instructions built from the program crate's generated types
//! by [`crate::instructions`]) and typed reads of its accounts.

use std::sync::Arc;

use anchor_client::{Client, ClientError, Cluster, Program};
use paytab::state::{Allowance, Escrow};
use solana_commitment_config::CommitmentConfig;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_rpc_client_types::filter::{Memcmp, RpcFilterType};
use solana_signature::Signature;

/// Where an allowance's `escrow` field starts (after the discriminator).
const ALLOWANCE_ESCROW_OFFSET: usize = 8;
/// Where an allowance's `provider` field starts.
const ALLOWANCE_PROVIDER_OFFSET: usize = 8 + 32;

/// Why a program call failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProgramCallError(String);

impl From<ClientError> for ProgramCallError {
    fn from(error: ClientError) -> Self {
        Self(error.to_string())
    }
}

/// The paytab program at one RPC URL, paid for and signed by one wallet.
pub struct PaytabProgram {
    program: Program<Arc<Keypair>>,
}

impl PaytabProgram {
    /// The program at `rpc_url`, with `wallet` as fee payer and signer.
    pub fn new(rpc_url: &str, wallet: Arc<Keypair>) -> Result<Self, ProgramCallError> {
        let cluster = Cluster::Custom(rpc_url.to_string(), websocket_url(rpc_url));
        let client = Client::new_with_options(cluster, wallet, CommitmentConfig::confirmed());
        Ok(Self {
            program: client.program(paytab::ID)?,
        })
    }

    /// Sends `instructions` in one transaction and waits for confirmation.
    pub async fn send(
        &self,
        instructions: impl IntoIterator<Item = Instruction>,
    ) -> Result<Signature, ProgramCallError> {
        let mut request = self.program.request();
        for instruction in instructions {
            request = request.instruction(instruction);
        }
        Ok(request.send().await?)
    }

    /// The escrow at `address`, if there is one.
    pub async fn escrow(&self, address: Pubkey) -> Result<Option<Escrow>, ProgramCallError> {
        optional(self.program.account::<Escrow>(address).await)
    }

    /// The allowance at `address`, if there is one.
    pub async fn allowance(&self, address: Pubkey) -> Result<Option<Allowance>, ProgramCallError> {
        optional(self.program.account::<Allowance>(address).await)
    }

    /// Every allowance of the escrow at `escrow`.
    pub async fn allowances_of_escrow(
        &self,
        escrow: &Pubkey,
    ) -> Result<Vec<(Pubkey, Allowance)>, ProgramCallError> {
        self.allowances_where(ALLOWANCE_ESCROW_OFFSET, escrow).await
    }

    /// Every allowance paying `provider`.
    pub async fn allowances_of_provider(
        &self,
        provider: &Pubkey,
    ) -> Result<Vec<(Pubkey, Allowance)>, ProgramCallError> {
        self.allowances_where(ALLOWANCE_PROVIDER_OFFSET, provider)
            .await
    }

    async fn allowances_where(
        &self,
        offset: usize,
        key: &Pubkey,
    ) -> Result<Vec<(Pubkey, Allowance)>, ProgramCallError> {
        let filter = RpcFilterType::Memcmp(Memcmp::new_base58_encoded(offset, key.as_ref()));
        Ok(self.program.accounts::<Allowance>(vec![filter]).await?)
    }
}

/// `Ok(None)` for an account that does not exist.
fn optional<T>(result: Result<T, ClientError>) -> Result<Option<T>, ProgramCallError> {
    match result {
        Ok(account) => Ok(Some(account)),
        Err(ClientError::AccountNotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The websocket URL beside an HTTP RPC URL (`http://h:8899` → `ws://h:8900`),
/// as the Solana CLI derives it (and the localnet serves it). paytab never subscribes; anchor-client asks for one.
fn websocket_url(rpc_url: &str) -> String {
    let ws = rpc_url
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    match ws.rsplit_once(':') {
        Some((head, port)) => match port.trim_end_matches('/').parse::<u16>() {
            Ok(port) => format!("{head}:{}", port.saturating_add(1)),
            Err(_) => ws,
        },
        None => ws,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_url_sits_beside_the_rpc_url() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8899"),
            "ws://127.0.0.1:8900"
        );
        assert_eq!(
            websocket_url("https://api.devnet.solana.com"),
            "wss://api.devnet.solana.com"
        );
    }
}
