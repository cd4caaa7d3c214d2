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

/// The MPP `methodDetails.network` of a CAIP-2 network: `mainnet`, `devnet`,
/// or `localnet` for any other cluster.
pub fn mpp_network_name(caip2: &str) -> &'static str {
    match caip2 {
        SOLANA_MAINNET => "mainnet",
        SOLANA_DEVNET => "devnet",
        _ => "localnet",
    }
}
