//! Reads a message verified by the Ed25519 precompile in the same transaction.
//!
//! Only one layout is accepted: a single signature whose public key, signature and
//! message all lie inside the precompile instruction itself, at the offsets
//! `solana-ed25519-program` produces. Offsets pointing anywhere else would let a
//! claim read bytes the precompile never verified.

use anchor_lang::prelude::*;
use solana_instructions_sysvar::{load_current_index_checked, load_instruction_at_checked};

use crate::errors::PaytabError;

/// Offset of the public key in a canonical Ed25519 instruction.
pub const PUBKEY_OFFSET: usize = 16;
/// Offset of the signature in a canonical Ed25519 instruction.
pub const SIGNATURE_OFFSET: usize = PUBKEY_OFFSET + 32;
/// Offset of the message in a canonical Ed25519 instruction.
pub const MESSAGE_OFFSET: usize = SIGNATURE_OFFSET + 64;
/// Instruction index meaning "this same instruction".
const THIS_INSTRUCTION: u16 = u16::MAX;

/// A message and the key whose signature over it the precompile verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMessage {
    /// The verified signer.
    pub signer: Pubkey,
    /// The signed bytes.
    pub message: Vec<u8>,
}

/// Returns the message verified by the Ed25519 instruction placed immediately
/// before the currently executing instruction.
pub fn verified_message_before_current(instructions: &AccountInfo) -> Result<VerifiedMessage> {
    let current = load_current_index_checked(instructions)?;
    let previous = current
        .checked_sub(1)
        .ok_or(PaytabError::MissingEd25519Instruction)?;
    let instruction = load_instruction_at_checked(usize::from(previous), instructions)?;
    require_keys_eq!(
        instruction.program_id,
        ed25519_program::ID,
        PaytabError::MissingEd25519Instruction
    );
    let (signer, message) =
        parse_canonical(&instruction.data).ok_or(PaytabError::NonCanonicalEd25519Instruction)?;
    Ok(VerifiedMessage {
        signer,
        message: message.to_vec(),
    })
}

/// Splits canonical Ed25519 instruction data into (public key, message).
pub fn parse_canonical(data: &[u8]) -> Option<(Pubkey, &[u8])> {
    let message_len = u16::try_from(data.len().checked_sub(MESSAGE_OFFSET)?).ok()?;
    let expected_head = canonical_head(message_len);
    if data.get(..PUBKEY_OFFSET)? != expected_head.as_slice() {
        return None;
    }
    let signer = Pubkey::try_from(data.get(PUBKEY_OFFSET..SIGNATURE_OFFSET)?).ok()?;
    Some((signer, data.get(MESSAGE_OFFSET..)?))
}

/// The 16-byte head (count, padding, offsets) of a canonical instruction.
pub fn canonical_head(message_len: u16) -> [u8; PUBKEY_OFFSET] {
    let fields: [u16; 7] = [
        SIGNATURE_OFFSET as u16,
        THIS_INSTRUCTION,
        PUBKEY_OFFSET as u16,
        THIS_INSTRUCTION,
        MESSAGE_OFFSET as u16,
        message_len,
        THIS_INSTRUCTION,
    ];
    let mut head = [0u8; PUBKEY_OFFSET];
    head[0] = 1; // one signature
    for (slot, field) in head[2..].chunks_exact_mut(2).zip(fields) {
        slot.copy_from_slice(&field.to_le_bytes());
    }
    head
}

/// The Ed25519 signature-verification precompile's id.
pub mod ed25519_program {
    pub use solana_sdk_ids::ed25519_program::ID;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canonical(message: &[u8]) -> Vec<u8> {
        let mut data = canonical_head(message.len() as u16).to_vec();
        data.extend_from_slice(&[3; 32]);
        data.extend_from_slice(&[4; 64]);
        data.extend_from_slice(message);
        data
    }

    #[test]
    fn the_canonical_layout_yields_its_key_and_message() {
        let data = canonical(b"receipt");
        let (key, message) = parse_canonical(&data).unwrap();
        assert_eq!(key, Pubkey::new_from_array([3; 32]));
        assert_eq!(message, b"receipt");
    }

    #[test]
    fn any_change_to_the_head_is_refused() {
        let data = canonical(b"receipt");
        for index in 0..PUBKEY_OFFSET {
            let mut changed = data.clone();
            changed[index] ^= 0x01;
            assert_eq!(parse_canonical(&changed), None, "byte {index}");
        }
    }

    #[test]
    fn trailing_bytes_the_size_field_does_not_cover_are_refused() {
        let mut data = canonical(b"receipt");
        data.push(0);
        assert_eq!(parse_canonical(&data), None);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_instruction_data_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_canonical(&data);
        }
    }
}
