//! The signed messages claims are paid by: single receipts and batch attestations.
//!
//! Pure byte formats with no side effects, shared with off-chain code. Layouts are
//! fixed-length and little endian; `docs/protocol.md` specifies them with test vectors.

use anchor_lang::prelude::Pubkey;

/// First two bytes of a single receipt. `0x50` can never begin a Solana
/// transaction or off-chain message, so a receipt never parses as either.
pub const RECEIPT_MAGIC: [u8; 2] = [0x50, 0x01];
/// First two bytes of a batch attestation.
pub const BATCH_MAGIC: [u8; 2] = [0x50, 0x02];
/// Length of an encoded receipt.
pub const RECEIPT_LEN: usize = 2 + 32 + 8 + 8 + 8;
/// Length of a batch attestation's fixed head (magic, expiry, entries hash).
pub const BATCH_HEAD_LEN: usize = 2 + 8 + 32;
/// Length of one hashed batch entry (allowance address, generation).
pub const BATCH_ENTRY_LEN: usize = 32 + 8;

/// Why bytes are not a well-formed paytab message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// The message has the wrong length for its kind.
    WrongLength,
    /// The message does not start with the expected magic.
    WrongMagic,
}

impl core::fmt::Display for MessageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::WrongLength => f.write_str("message has the wrong length"),
            Self::WrongMagic => f.write_str("message does not start with the paytab magic"),
        }
    }
}

/// A payer's promise that an allowance may pay out up to `cumulative` in total.
///
/// Layout: `magic [0x50, 0x01] | allowance (32) | generation u64 | cumulative u64 | expires_at i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The allowance the receipt draws on.
    pub allowance: Pubkey,
    /// The allowance's generation; receipts for another incarnation never apply.
    pub generation: u64,
    /// Total owed to the provider under this allowance, including earlier receipts.
    pub cumulative: u64,
    /// Unix time after which the receipt is void; 0 means never.
    pub expires_at: i64,
}

impl Receipt {
    /// Encodes the receipt into its signed byte form.
    pub fn to_bytes(&self) -> [u8; RECEIPT_LEN] {
        let mut out = [0u8; RECEIPT_LEN];
        out[..2].copy_from_slice(&RECEIPT_MAGIC);
        out[2..34].copy_from_slice(self.allowance.as_ref());
        out[34..42].copy_from_slice(&self.generation.to_le_bytes());
        out[42..50].copy_from_slice(&self.cumulative.to_le_bytes());
        out[50..58].copy_from_slice(&self.expires_at.to_le_bytes());
        out
    }

    /// Decodes a receipt, accepting exactly the canonical layout.
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        let bytes: &[u8; RECEIPT_LEN] = bytes.try_into().map_err(|_| MessageError::WrongLength)?;
        if bytes[..2] != RECEIPT_MAGIC {
            return Err(MessageError::WrongMagic);
        }
        Ok(Self {
            allowance: Pubkey::new_from_array(array_at(bytes, 2)),
            generation: u64::from_le_bytes(array_at(bytes, 34)),
            cumulative: u64::from_le_bytes(array_at(bytes, 42)),
            expires_at: i64::from_le_bytes(array_at(bytes, 50)),
        })
    }

    /// Whether the receipt has expired at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        is_past(self.expires_at, now)
    }
}

/// A delegate's single signature over cumulative amounts for many allowances.
///
/// Layout: `magic [0x50, 0x02] | expires_at i64 | entries_hash (32) | cumulative u64 × n`,
/// where `entries_hash = sha256(allowance_1 | generation_1 | … | allowance_n | generation_n)`
/// over the same ordered list the claim passes as accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchAttestation<'a> {
    /// Unix time after which the attestation is void; 0 means never.
    pub expires_at: i64,
    /// Hash binding the ordered list of (allowance, generation) pairs.
    pub entries_hash: [u8; 32],
    cumulatives: &'a [u8],
}

impl<'a> BatchAttestation<'a> {
    /// Decodes an attestation (at least one entry), borrowing its cumulative amounts.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MessageError> {
        if bytes.len() < BATCH_HEAD_LEN + 8 || !(bytes.len() - BATCH_HEAD_LEN).is_multiple_of(8) {
            return Err(MessageError::WrongLength);
        }
        if bytes[..2] != BATCH_MAGIC {
            return Err(MessageError::WrongMagic);
        }
        Ok(Self {
            expires_at: i64::from_le_bytes(array_at(bytes, 2)),
            entries_hash: array_at(bytes, 10),
            cumulatives: &bytes[BATCH_HEAD_LEN..],
        })
    }

    /// Number of entries attested.
    pub fn len(&self) -> usize {
        self.cumulatives.len() / 8
    }

    /// Whether the attestation has no entries (never true for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.cumulatives.is_empty()
    }

    /// The cumulative amount of entry `index`, if it exists.
    pub fn cumulative(&self, index: usize) -> Option<u64> {
        let start = index.checked_mul(8)?;
        let chunk = self.cumulatives.get(start..start + 8)?;
        Some(u64::from_le_bytes(array_at(chunk, 0)))
    }

    /// Whether the attestation has expired at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        is_past(self.expires_at, now)
    }

    /// Encodes an attestation over `entries` of (allowance, generation, cumulative).
    pub fn encode(expires_at: i64, entries: &[(Pubkey, u64, u64)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(BATCH_HEAD_LEN + entries.len() * 8);
        out.extend_from_slice(&BATCH_MAGIC);
        out.extend_from_slice(&expires_at.to_le_bytes());
        out.extend_from_slice(&entries_hash(
            entries
                .iter()
                .map(|(allowance, generation, _)| (*allowance, *generation)),
        ));
        for (_, _, cumulative) in entries {
            out.extend_from_slice(&cumulative.to_le_bytes());
        }
        out
    }
}

/// `sha256` over the ordered (allowance, generation) pairs of a batch.
pub fn entries_hash(entries: impl Iterator<Item = (Pubkey, u64)>) -> [u8; 32] {
    let mut preimage = Vec::with_capacity(BATCH_ENTRY_LEN * 8);
    for (allowance, generation) in entries {
        preimage.extend_from_slice(allowance.as_ref());
        preimage.extend_from_slice(&generation.to_le_bytes());
    }
    solana_sha256_hasher::hashv(&[&preimage]).to_bytes()
}

/// `expires_at == 0` never expires; otherwise a message is void once `now` passes it.
fn is_past(expires_at: i64, now: i64) -> bool {
    expires_at != 0 && now > expires_at
}

/// Copies `N` bytes at `offset`; callers have checked the length.
fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn receipt() -> Receipt {
        Receipt {
            allowance: Pubkey::new_from_array([7; 32]),
            generation: 42,
            cumulative: 1_000,
            expires_at: 0,
        }
    }

    #[test]
    fn a_receipt_round_trips_through_its_bytes() {
        let receipt = receipt();
        assert_eq!(Receipt::parse(&receipt.to_bytes()), Ok(receipt));
    }

    #[test]
    fn a_receipt_with_another_magic_or_length_is_refused() {
        let mut bytes = receipt().to_bytes().to_vec();
        bytes[1] = 0x02;
        assert_eq!(Receipt::parse(&bytes), Err(MessageError::WrongMagic));
        bytes[1] = 0x01;
        bytes.push(0);
        assert_eq!(Receipt::parse(&bytes), Err(MessageError::WrongLength));
        assert_eq!(Receipt::parse(&bytes[..57]), Err(MessageError::WrongLength));
    }

    #[test]
    fn zero_expiry_never_expires_and_others_expire_after_their_second() {
        let mut receipt = receipt();
        assert!(!receipt.is_expired(i64::MAX));
        receipt.expires_at = 100;
        assert!(!receipt.is_expired(100));
        assert!(receipt.is_expired(101));
    }

    #[test]
    fn a_batch_attestation_exposes_its_entries_in_order() {
        let entries = [
            (Pubkey::new_from_array([1; 32]), 5, 10),
            (Pubkey::new_from_array([2; 32]), 6, 20),
        ];
        let bytes = BatchAttestation::encode(9, &entries);
        let parsed = BatchAttestation::parse(&bytes).unwrap();
        assert_eq!(parsed.expires_at, 9);
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            (parsed.cumulative(0), parsed.cumulative(1)),
            (Some(10), Some(20))
        );
        assert_eq!(parsed.cumulative(2), None);
        let hashed = entries
            .iter()
            .map(|(key, generation, _)| (*key, *generation));
        assert_eq!(parsed.entries_hash, entries_hash(hashed));
    }

    #[test]
    fn a_batch_attestation_without_entries_is_refused() {
        let bytes = BatchAttestation::encode(0, &[]);
        assert_eq!(
            BatchAttestation::parse(&bytes),
            Err(MessageError::WrongLength)
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Receipt::parse(&bytes);
            let _ = BatchAttestation::parse(&bytes);
        }

        #[test]
        fn every_receipt_round_trips(
            key in any::<[u8; 32]>(),
            generation in any::<u64>(),
            cumulative in any::<u64>(),
            expires_at in any::<i64>(),
        ) {
            let receipt = Receipt { allowance: Pubkey::new_from_array(key), generation, cumulative, expires_at };
            prop_assert_eq!(Receipt::parse(&receipt.to_bytes()), Ok(receipt));
        }

        #[test]
        fn the_entries_hash_changes_with_order_and_generation(
            a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), generation in 0u64..u64::MAX,
        ) {
            prop_assume!(a != b);
            let (a, b) = (Pubkey::new_from_array(a), Pubkey::new_from_array(b));
            let forward = entries_hash([(a, generation), (b, generation)].into_iter());
            let reversed = entries_hash([(b, generation), (a, generation)].into_iter());
            let bumped = entries_hash([(a, generation + 1), (b, generation)].into_iter());
            prop_assert_ne!(forward, reversed);
            prop_assert_ne!(forward, bumped);
        }
    }
}
