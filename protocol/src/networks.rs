//! Solana network names: CAIP-2 ids (x402 v2), x402 v1 names and MPP names.

/// CAIP-2 id of Solana mainnet.
pub const SOLANA_MAINNET: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// CAIP-2 id of Solana devnet.
pub const SOLANA_DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
/// CAIP-2 id of Solana testnet.
pub const SOLANA_TESTNET: &str = "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z";

/// The CAIP-2 id of the Solana cluster with `genesis_hash` (base58).
pub fn caip2_network(genesis_hash: &str) -> String {
    let reference: String = genesis_hash.chars().take(32).collect();
    format!("solana:{reference}")
}

/// The x402 v1 name of a CAIP-2 network, where one exists.
pub fn v1_network_name(caip2: &str) -> Option<&'static str> {
    match caip2 {
        SOLANA_MAINNET => Some("solana"),
        SOLANA_DEVNET => Some("solana-devnet"),
        SOLANA_TESTNET => Some("solana-testnet"),
        _ => None,
    }
}

/// The CAIP-2 id for a network named in a v1 or v2 body.
pub fn normalise_network(name: &str) -> String {
    match name {
        "solana" | "solana-mainnet" => SOLANA_MAINNET.to_string(),
        "solana-devnet" => SOLANA_DEVNET.to_string(),
        "solana-testnet" => SOLANA_TESTNET.to_string(),
        other => other.to_string(),
    }
}

/// The MPP `methodDetails.network` of a CAIP-2 network: `mainnet-beta`,
/// `devnet`, or `localnet` for any other cluster (ADR 0018).
pub fn mpp_network_name(caip2: &str) -> &'static str {
    match caip2 {
        SOLANA_MAINNET => "mainnet-beta",
        SOLANA_DEVNET => "devnet",
        _ => "localnet",
    }
}

/// Whether an MPP `methodDetails.network` names the CAIP-2 network `caip2`.
/// Mainnet is read under both names the drafts have used (`mainnet-beta`,
/// `mainnet`); an absent name means mainnet, as the draft says.
pub fn mpp_names_network(name: Option<&str>, caip2: &str) -> bool {
    match name {
        None | Some("mainnet" | "mainnet-beta") => caip2 == SOLANA_MAINNET,
        Some(name) => name == mpp_network_name(caip2),
    }
}

/// A network label that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// Not a CAIP-2 Solana id nor an x402 v1 name.
    #[error("{0:?} is not a Solana network: use a CAIP-2 id (solana:<first 32 characters of the genesis hash>) or solana, solana-devnet, solana-testnet")]
    NotSolana(String),
    /// Mainnet's name for a chain that is not mainnet.
    #[error("{chain} is not Solana mainnet and cannot be called {SOLANA_MAINNET}: label a test chain as devnet ({SOLANA_DEVNET}) or testnet")]
    NotMainnet {
        /// The chain's own CAIP-2 id.
        chain: String,
    },
}

/// Reads a network label: a CAIP-2 Solana id or an x402 v1 name, returned
/// as the CAIP-2 id.
pub fn parse_network_label(text: &str) -> Result<String, LabelError> {
    let network = normalise_network(text.trim());
    let reference = network
        .strip_prefix("solana:")
        .ok_or_else(|| LabelError::NotSolana(text.to_string()))?;
    let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
    if reference.is_empty() || reference.len() > 32 || !reference.chars().all(base58) {
        return Err(LabelError::NotSolana(text.to_string()));
    }
    Ok(network)
}

/// Whether the chain whose own CAIP-2 id is `chain` may go by `label`. A
/// test chain may go by any name but mainnet's: payments labelled mainnet
/// must be payments on mainnet.
pub fn check_network_label(label: &str, chain: &str) -> Result<(), LabelError> {
    if label == SOLANA_MAINNET && chain != SOLANA_MAINNET {
        return Err(LabelError::NotMainnet {
            chain: chain.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALNET: &str = "solana:3Xo2BCzcKLHU7oGJwNWNiNiKR9eZ4PM9";

    #[test]
    fn a_label_is_a_caip2_solana_id_or_a_v1_name() {
        assert_eq!(
            parse_network_label("solana-devnet"),
            Ok(SOLANA_DEVNET.into())
        );
        assert_eq!(
            parse_network_label(SOLANA_TESTNET),
            Ok(SOLANA_TESTNET.into())
        );
        for bad in [
            "devnet",
            "eip155:1",
            "solana:",
            "solana:0OIl",
            &format!("solana:{}", "a".repeat(33)),
        ] {
            assert!(parse_network_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_test_chain_may_go_by_devnet_but_never_by_mainnet() {
        assert_eq!(check_network_label(SOLANA_DEVNET, LOCALNET), Ok(()));
        assert!(matches!(
            check_network_label(SOLANA_MAINNET, LOCALNET),
            Err(LabelError::NotMainnet { .. })
        ));
        assert_eq!(check_network_label(SOLANA_MAINNET, SOLANA_MAINNET), Ok(()));
    }

    #[test]
    fn mpp_names_mainnet_as_mainnet_beta_and_reads_both_names() {
        assert_eq!(mpp_network_name(SOLANA_MAINNET), "mainnet-beta");
        assert_eq!(mpp_network_name(LOCALNET), "localnet");
        assert!(mpp_names_network(Some("mainnet"), SOLANA_MAINNET));
        assert!(mpp_names_network(None, SOLANA_MAINNET));
        assert!(mpp_names_network(Some("devnet"), SOLANA_DEVNET));
        assert!(!mpp_names_network(Some("devnet"), LOCALNET));
    }
}
