//! Signing usage receipts (`docs/protocol.md` §1).

use paytab::receipt::Receipt;
use solana_keypair::Keypair;
use solana_signer::Signer;

/// `signer`'s Ed25519 signature over `receipt`'s 58-byte form.
pub fn sign_receipt(signer: &Keypair, receipt: &Receipt) -> [u8; 64] {
    signer.sign_message(&receipt.to_bytes()).into()
}
