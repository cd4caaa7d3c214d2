//! Ed25519 verification against a key known in advance, with precomputed tables.
//!
//! A gateway checks every proof against one of a few facilitator keys. Checking
//! a signature `(R, s)` on message `M` means computing `[s]B - [k]A` with
//! `k = SHA-512(R || A || M)` and comparing it with `R`, exactly as
//! `VerifyingKey::verify` does. Both `B` and `A` are fixed, so each scalar
//! multiplication can be read from a table of multiples: 32 point additions per
//! scalar (one per byte, signed digits) instead of a double-and-add chain.
//! Everything involved is public (key, message, signature), so the table lookups
//! may take variable time.
//!
//! A table holds `j * 256^i * P` for `i < 32`, `1 <= j <= 128`: 4,096 points,
//! about 640 KiB. The basepoint's table is built once per process; a key's table
//! is built the first time the key verifies something (about 3 ms).

use std::sync::{LazyLock, OnceLock};

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// Digits per scalar: one per byte of its 32-byte little-endian form.
const ROWS: usize = 32;
/// Multiples per row: digits are recentred into `[-128, 128)`.
const MULTIPLES: usize = 128;

/// The basepoint's table, shared by every key.
static BASEPOINT: LazyLock<FixedBaseTable> =
    LazyLock::new(|| FixedBaseTable::new(ED25519_BASEPOINT_POINT));

/// Multiples `j * 256^i * P` of one point, for variable-time multiplication.
struct FixedBaseTable {
    /// `rows[i][j - 1] = j * 256^i * P`.
    rows: Vec<Vec<EdwardsPoint>>,
}

impl FixedBaseTable {
    fn new(point: EdwardsPoint) -> Self {
        let mut rows = Vec::with_capacity(ROWS);
        let mut base = point;
        for _ in 0..ROWS {
            let mut row = Vec::with_capacity(MULTIPLES);
            let mut multiple = base;
            for _ in 0..MULTIPLES {
                row.push(multiple);
                multiple += base;
            }
            // The next row starts at 256 * base = 2 * (128 * base).
            let last = row[MULTIPLES - 1];
            base = last + last;
            rows.push(row);
        }
        Self { rows }
    }

    /// `scalar * P`, for a reduced scalar (below 2^253, as every scalar here is).
    fn mul(&self, scalar: &Scalar) -> EdwardsPoint {
        let mut sum = EdwardsPoint::identity();
        let mut carry = 0i16;
        for (row, byte) in self.rows.iter().zip(scalar.as_bytes()) {
            let mut digit = i16::from(*byte) + carry;
            carry = 0;
            if digit >= MULTIPLES as i16 {
                digit -= 256;
                carry = 1;
            }
            // A reduced scalar's top byte is at most 0x1f, so the last digit
            // never carries and the sum is exact.
            match digit {
                0 => {}
                positive if positive > 0 => sum += &row[positive as usize - 1],
                negative => sum -= &row[negative.unsigned_abs() as usize - 1],
            }
        }
        sum
    }
}

impl std::fmt::Debug for FixedBaseTable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("FixedBaseTable")
    }
}

/// A verifying key with its precomputed table, built on first use.
#[derive(Debug)]
pub struct PrecomputedKey {
    key: VerifyingKey,
    /// Multiples of `-A`, the negated key point.
    negated_key_table: OnceLock<FixedBaseTable>,
}

impl PrecomputedKey {
    /// Wraps `key`; its table is built by the first [`Self::verify`] or [`Self::warm`].
    pub fn new(key: VerifyingKey) -> Self {
        Self {
            key,
            negated_key_table: OnceLock::new(),
        }
    }

    /// The verifying key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Builds the tables now rather than on the first verification.
    pub fn warm(&self) {
        LazyLock::force(&BASEPOINT);
        self.table();
    }

    /// Whether `signature` is `key`'s signature on `message`. Accepts exactly
    /// what `VerifyingKey::verify` accepts: a canonical `s` and
    /// `[s]B - [k]A` compressing to `R`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let r = signature.r_bytes();
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))
        else {
            return false;
        };
        let mut hasher = Sha512::new();
        hasher.update(r);
        hasher.update(self.key.as_bytes());
        hasher.update(message);
        let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
        let expected_r = BASEPOINT.mul(&s) + self.table().mul(&k);
        expected_r.compress().as_bytes() == r
    }

    fn table(&self) -> &FixedBaseTable {
        self.negated_key_table
            .get_or_init(|| FixedBaseTable::new(-self.key.to_edwards()))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey, Verifier};
    use proptest::prelude::*;

    use super::*;

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_table_multiplication_equals_the_plain_one() {
        let table = FixedBaseTable::new(ED25519_BASEPOINT_POINT);
        for scalar in [
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(128u8),
            Scalar::from(255u8),
            -Scalar::ONE,
            Scalar::from(0x7f7f_8080_ffff_0001u64) * Scalar::from(u64::MAX),
        ] {
            assert_eq!(table.mul(&scalar), ED25519_BASEPOINT_POINT * scalar);
        }
    }

    #[test]
    fn a_signature_with_an_unreduced_s_is_refused_as_the_plain_check_refuses_it() {
        let key = signing_key(3);
        let message = b"paytab";
        let signature = key.sign(message).to_bytes();
        // s + l: the same point equation, but not canonical.
        let s = Scalar::from_canonical_bytes(signature[32..].try_into().unwrap()).unwrap();
        let mut unreduced = [0u8; 64];
        unreduced[..32].copy_from_slice(&signature[..32]);
        let l_plus_s = add_group_order(s.as_bytes());
        unreduced[32..].copy_from_slice(&l_plus_s);
        let unreduced = Signature::from_bytes(&unreduced);
        let precomputed = PrecomputedKey::new(key.verifying_key());
        assert!(key.verifying_key().verify(message, &unreduced).is_err());
        assert!(!precomputed.verify(message, &unreduced));
    }

    /// `bytes + l` as 32 little-endian bytes (fits: s < l < 2^253).
    fn add_group_order(bytes: &[u8; 32]) -> [u8; 32] {
        const ORDER: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for index in 0..32 {
            let total = u16::from(bytes[index]) + u16::from(ORDER[index]) + carry;
            sum[index] = total as u8;
            carry = total >> 8;
        }
        sum
    }

    proptest! {
        #[test]
        fn it_accepts_exactly_what_the_plain_check_accepts(
            seed in any::<u8>(),
            message in proptest::collection::vec(any::<u8>(), 0..400),
            flip in proptest::option::of((0usize..64, 0u8..8)),
            other_message in any::<bool>(),
        ) {
            let key = signing_key(seed);
            let mut signature = key.sign(&message).to_bytes();
            if let Some((index, bit)) = flip {
                signature[index] ^= 1 << bit;
            }
            let signature = Signature::from_bytes(&signature);
            let mut checked = message.clone();
            if other_message {
                checked.push(0);
            }
            let precomputed = PrecomputedKey::new(key.verifying_key());
            prop_assert_eq!(
                precomputed.verify(&checked, &signature),
                key.verifying_key().verify(&checked, &signature).is_ok()
            );
        }
    }
}
