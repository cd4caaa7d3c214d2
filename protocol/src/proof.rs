//! The payment proof: a compact, facilitator-signed statement that a payment
//! settled, which a gateway checks with one signature verification, a time
//! check, a binding check and a replay lookup, without a network call.
//!
//! Layout (little endian), then base64url without padding:
//!
//! | size | field |
//! |---|---|
//! | 2 | magic `0x50 0x10` |
//! | 8 | key id of the signing key |
//! | 1 | scheme: 1 `exact`, 2 `escrow`, 3 MPP `charge` |
//! | 1 + n | network: length, then the CAIP-2 id in ASCII (1..=64 bytes) |
//! | 32 | payer |
//! | 32 | payTo |
//! | 32 | asset (mint) |
//! | 8 | amount, raw units |
//! | 32 | binding: hash of the request (method + URL) or of a challenge id |
//! | 8 | issued at, unix seconds |
//! | 8 | expires at, unix seconds |
//! | 16 | unique proof id |
//! | 1 + m | settlement: 1 then a 64-byte transaction signature, or 2 then allowance (32) and cumulative amount (8) |
//! | 64 | Ed25519 signature over every byte before it |

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};
use solana_pubkey::Pubkey;

use crate::keys::{KeyId, KeySet};
use crate::proof_batch::{self, VerifiedRoots, BATCH_MAGIC};

/// First two bytes of a version-1 proof.
pub const PROOF_MAGIC: [u8; 2] = [0x50, 0x10];
/// Longest network id a proof carries.
pub const MAX_NETWORK_LEN: usize = 64;
/// Longest token accepted, in base64url characters: a single proof is at
/// most 373 bytes (498 characters), a batch token ([`crate::proof_batch`]) at
/// most 576 (768 characters).
pub const MAX_TOKEN_LEN: usize = 768;
/// Clock skew tolerated for `issued_at` in the future, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 30;

/// How the payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// x402 `exact`: an on-chain transfer.
    Exact,
    /// paytab `escrow`: a signed usage receipt.
    Escrow,
    /// MPP `charge`.
    MppCharge,
}

impl Scheme {
    fn tag(self) -> u8 {
        match self {
            Self::Exact => 1,
            Self::Escrow => 2,
            Self::MppCharge => 3,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Exact),
            2 => Some(Self::Escrow),
            3 => Some(Self::MppCharge),
            _ => None,
        }
    }
}

/// Where the payment settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// A confirmed transaction, by signature.
    Transaction([u8; 64]),
    /// An accepted receipt: the allowance and its new watermark.
    Receipt {
        /// The allowance the receipt drew on.
        allowance: Pubkey,
        /// The cumulative amount accepted.
        cumulative: u64,
    },
}

/// What a proof is bound to, so it cannot be spent on another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding(pub [u8; 32]);

impl Binding {
    /// Binds to an HTTP request: the method and the absolute URL the client
    /// requested (scheme, host, optional port, path, query).
    pub fn request(method: &str, url: &str) -> Self {
        Self::hash(
            b"paytab/binding/request",
            &[method.to_ascii_uppercase().as_bytes(), url.as_bytes()],
        )
    }

    /// Binds to a payment challenge by its id (e.g. an MPP challenge id).
    pub fn challenge(id: &str) -> Self {
        Self::hash(b"paytab/binding/challenge", &[id.as_bytes()])
    }

    fn hash(domain: &[u8], parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(domain);
        for part in parts {
            hasher.update(b"\n");
            hasher.update(part);
        }
        Self(hasher.finalize().into())
    }
}

/// A payment proof's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// Key id of the facilitator key that signs it.
    pub key_id: KeyId,
    /// How the payment was made.
    pub scheme: Scheme,
    /// CAIP-2 network id, e.g. `solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp`.
    pub network: String,
    /// Who paid.
    pub payer: Pubkey,
    /// Who was paid.
    pub pay_to: Pubkey,
    /// The token (mint).
    pub asset: Pubkey,
    /// Raw units paid.
    pub amount: u64,
    /// The request or challenge the payment is for.
    pub binding: Binding,
    /// When the facilitator issued it.
    pub issued_at: i64,
    /// When it stops being accepted.
    pub expires_at: i64,
    /// Unique id, for replay caches.
    pub id: [u8; 16],
    /// Where the payment settled.
    pub settlement: Settlement,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The token is not a well-formed proof.
    #[error("malformed proof: {0}")]
    Malformed(&'static str),
    /// No accepted key has the proof's key id (or it is outside its validity).
    #[error("proof signed by unknown or retired key {0}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("proof signature does not verify")]
    BadSignature,
    /// The proof has expired.
    #[error("proof expired at {0}")]
    Expired(i64),
    /// The proof claims to be issued in the future.
    #[error("proof issued in the future ({0})")]
    NotYetValid(i64),
}

impl Proof {
    /// Encodes the proof, signed by `key`, as a base64url token. The key id
    /// field is set from `key`.
    pub fn sign(&self, key: &SigningKey) -> Result<String, ProofError> {
        let mut proof = self.clone();
        proof.key_id = KeyId::of(&key.verifying_key());
        let mut bytes = proof.unsigned_bytes()?;
        let signature = key.sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Checks a token (a single proof or a batch token): its form, its key,
    /// its signature and its time window. What it pays for (amount, payee,
    /// binding, replay) is the caller's to check.
    pub fn verify(token: &str, keys: &KeySet, now: i64) -> Result<Self, ProofError> {
        Self::verify_with(token, keys, now, None)
    }

    /// [`Proof::verify`], skipping the signature check of a batch whose root
    /// is in `roots` (and adding the root once its signature verifies).
    pub fn verify_with(
        token: &str,
        keys: &KeySet,
        now: i64,
        roots: Option<&VerifiedRoots>,
    ) -> Result<Self, ProofError> {
        let bytes = Self::token_bytes(token)?;
        let proof = if bytes.starts_with(&BATCH_MAGIC) {
            let (proof, root, signature) = proof_batch::decode(&bytes)?;
            let key = keys
                .valid_at(&proof.key_id, now)
                .ok_or_else(|| ProofError::UnknownKey(proof.key_id.to_hex()))?;
            if !roots.is_some_and(|roots| roots.contains(&proof.key_id, &root, &signature)) {
                if !key.verify(&proof_batch::root_message(&root), &signature) {
                    return Err(ProofError::BadSignature);
                }
                if let Some(roots) = roots {
                    roots.insert(proof.key_id, root, signature);
                }
            }
            proof
        } else {
            let (proof, signed, signature) = Self::split(&bytes)?;
            let key = keys
                .valid_at(&proof.key_id, now)
                .ok_or_else(|| ProofError::UnknownKey(proof.key_id.to_hex()))?;
            if !key.verify(signed, &signature) {
                return Err(ProofError::BadSignature);
            }
            proof
        };
        if now >= proof.expires_at {
            return Err(ProofError::Expired(proof.expires_at));
        }
        if proof.issued_at > now + MAX_CLOCK_SKEW_SECS {
            return Err(ProofError::NotYetValid(proof.issued_at));
        }
        Ok(proof)
    }

    /// Parses a single-proof token without checking its signature:
    /// (proof, signed bytes, signature).
    pub fn decode(token: &str) -> Result<(Self, Vec<u8>, Signature), ProofError> {
        let bytes = Self::token_bytes(token)?;
        let (proof, signed, signature) = Self::split(&bytes)?;
        Ok((proof, signed.to_vec(), signature))
    }

    /// A token's bytes; tokens over [`MAX_TOKEN_LEN`] are refused unread.
    fn token_bytes(token: &str) -> Result<Vec<u8>, ProofError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(ProofError::Malformed("token too long"));
        }
        URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| ProofError::Malformed("not base64url"))
    }

    /// A single proof's bytes split into the proof, its signed bytes and its signature.
    fn split(bytes: &[u8]) -> Result<(Self, &[u8], Signature), ProofError> {
        let at = bytes
            .len()
            .checked_sub(64)
            .ok_or(ProofError::Malformed("too short"))?;
        let (signed, signature) = bytes.split_at(at);
        let signature = Signature::from_slice(signature)
            .map_err(|_| ProofError::Malformed("bad signature bytes"))?;
        Ok((Self::parse(signed)?, signed, signature))
    }

    /// The bytes a single proof's signature covers (and a batch's leaf).
    pub(crate) fn unsigned_bytes(&self) -> Result<Vec<u8>, ProofError> {
        let network = self.network.as_bytes();
        if !(1..=MAX_NETWORK_LEN).contains(&network.len()) || !self.network.is_ascii() {
            return Err(ProofError::Malformed(
                "network id must be 1 to 64 ASCII bytes",
            ));
        }
        let mut out = Vec::with_capacity(320);
        out.extend_from_slice(&PROOF_MAGIC);
        out.extend_from_slice(&self.key_id.0);
        out.push(self.scheme.tag());
        out.push(network.len() as u8);
        out.extend_from_slice(network);
        out.extend_from_slice(self.payer.as_ref());
        out.extend_from_slice(self.pay_to.as_ref());
        out.extend_from_slice(self.asset.as_ref());
        out.extend_from_slice(&self.amount.to_le_bytes());
        out.extend_from_slice(&self.binding.0);
        out.extend_from_slice(&self.issued_at.to_le_bytes());
        out.extend_from_slice(&self.expires_at.to_le_bytes());
        out.extend_from_slice(&self.id);
        match self.settlement {
            Settlement::Transaction(signature) => {
                out.push(1);
                out.extend_from_slice(&signature);
            }
            Settlement::Receipt {
                allowance,
                cumulative,
            } => {
                out.push(2);
                out.extend_from_slice(allowance.as_ref());
                out.extend_from_slice(&cumulative.to_le_bytes());
            }
        }
        Ok(out)
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        let mut reader = Reader(bytes);
        if reader.take::<2>()? != PROOF_MAGIC {
            return Err(ProofError::Malformed("not a paytab proof (magic)"));
        }
        let key_id = KeyId(reader.take()?);
        let scheme =
            Scheme::from_tag(reader.byte()?).ok_or(ProofError::Malformed("unknown scheme"))?;
        let network_len = usize::from(reader.byte()?);
        if !(1..=MAX_NETWORK_LEN).contains(&network_len) {
            return Err(ProofError::Malformed("network id length"));
        }
        let network = std::str::from_utf8(reader.slice(network_len)?)
            .ok()
            .filter(|network| network.is_ascii())
            .ok_or(ProofError::Malformed("network id is not ASCII"))?
            .to_string();
        let proof = Self {
            key_id,
            scheme,
            network,
            payer: Pubkey::new_from_array(reader.take()?),
            pay_to: Pubkey::new_from_array(reader.take()?),
            asset: Pubkey::new_from_array(reader.take()?),
            amount: u64::from_le_bytes(reader.take()?),
            binding: Binding(reader.take()?),
            issued_at: i64::from_le_bytes(reader.take()?),
            expires_at: i64::from_le_bytes(reader.take()?),
            id: reader.take()?,
            settlement: match reader.byte()? {
                1 => Settlement::Transaction(reader.take()?),
                2 => Settlement::Receipt {
                    allowance: Pubkey::new_from_array(reader.take()?),
                    cumulative: u64::from_le_bytes(reader.take()?),
                },
                _ => return Err(ProofError::Malformed("unknown settlement kind")),
            },
        };
        if !reader.0.is_empty() {
            return Err(ProofError::Malformed("trailing bytes"));
        }
        Ok(proof)
    }
}

/// Reads fixed-size fields off the front of a byte slice.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn slice(&mut self, len: usize) -> Result<&'a [u8], ProofError> {
        if self.0.len() < len {
            return Err(ProofError::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], ProofError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(N)?);
        Ok(out)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, ProofError> {
        Ok(self.take::<1>()?[0])
    }
}
