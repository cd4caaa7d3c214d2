//! Signing usage receipts (`docs/protocol.md` §1).

use paytab::receipt::Receipt;
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_signer::Signer;

/// `signer`'s Ed25519 signature over `receipt`'s 58-byte form.
pub fn sign_receipt(signer: &Keypair, receipt: &Receipt) -> [u8; 64] {
    signer.sign_message(&receipt.to_bytes()).into()
}

/// The x402 `escrow` payload of a signed receipt (`docs/protocol.md` §5).
pub fn escrow_payload(receipt: &Receipt, signer: &Keypair) -> Value {
    json!({
        "allowance": receipt.allowance.to_string(),
        "generation": receipt.generation.to_string(),
        "cumulative": receipt.cumulative.to_string(),
        "expiresAt": receipt.expires_at,
        "signer": signer.pubkey().to_string(),
        "signature": bs58::encode(sign_receipt(signer, receipt)).into_string(),
    })
}
