//! Proof batches: many proofs under one signature, each still checked on its
//! own by anyone who holds the facilitator's public key.
//!
//! The facilitator hashes the unsigned bytes of each proof of a batch (the
//! layout of [`crate::proof`] without its signature) into a Merkle tree and
//! signs the root once. A batch token carries one proof, the sibling hashes
//! from its leaf to the root, and the root's signature. A verifier recomputes
//! the root from the token alone; a root whose signature it has verified
//! before ([`VerifiedRoots`]) is not verified again, so the proofs of one
//! batch cost one signature check, not one each.
//!
//! Layout, then base64url without padding:
//!
//! | size | field |
//! |---|---|
//! | 2 | magic `0x50 0x20` |
//! | 2 | leaf length `n`, `u16` little endian |
//! | n | the proof's unsigned bytes, from its magic `0x50 0x10` |
//! | 1 | path length `d` (0..=6) |
//! | 33 × d | from the leaf up: side (`0` the sibling is on the left, `1` on the right), sibling hash |
//! | 64 | Ed25519 signature over `"paytab/proof-batch/v1"` ‖ root |
//!
//! Hashes: a leaf is `sha256(0x00 ‖ leaf)`, a node `sha256(0x01 ‖ left ‖
//! right)`; at each level the last node of an odd count moves up unchanged
//! (its proofs' paths have no entry for that level).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::keys::KeyId;
use crate::proof::{Proof, ProofError, Reader};

/// First two bytes of a batch token.
pub const BATCH_MAGIC: [u8; 2] = [0x50, 0x20];
/// Most proofs in one batch.
pub const MAX_BATCH: usize = 64;
/// Longest path: a batch of [`MAX_BATCH`] proofs is 6 levels deep.
pub const MAX_DEPTH: usize = 6;
/// What the root's signature covers, before the root.
pub const ROOT_DOMAIN: &[u8] = b"paytab/proof-batch/v1";

const SIBLING_LEFT: u8 = 0;
const SIBLING_RIGHT: u8 = 1;

/// Signs `proofs` as one batch with `key` (their key ids are set from it):
/// one token per proof, in order. A batch of one is a single proof token.
pub fn sign_batch(proofs: &[Proof], key: &SigningKey) -> Result<Vec<String>, ProofError> {
    match proofs {
        [] => return Ok(Vec::new()),
        [proof] => return Ok(vec![proof.sign(key)?]),
        _ if proofs.len() > MAX_BATCH => {
            return Err(ProofError::Malformed("a batch holds at most 64 proofs"))
        }
        _ => {}
    }
    let key_id = KeyId::of(&key.verifying_key());
    let leaves = proofs
        .iter()
        .map(|proof| {
            let mut proof = proof.clone();
            proof.key_id = key_id;
            proof.unsigned_bytes()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf_hash(leaf)).collect();
    let mut paths: Vec<Vec<(u8, [u8; 32])>> = vec![Vec::new(); leaves.len()];
    // Each leaf's ancestor's position in the current level.
    let mut positions: Vec<usize> = (0..leaves.len()).collect();
    while level.len() > 1 {
        for (path, position) in paths.iter_mut().zip(positions.iter_mut()) {
            let sibling = *position ^ 1;
            if let Some(hash) = level.get(sibling) {
                let side = if sibling < *position {
                    SIBLING_LEFT
                } else {
                    SIBLING_RIGHT
                };
                path.push((side, *hash));
            }
            *position /= 2;
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                _ => pair[0],
            })
            .collect();
    }
    let signature = key.sign(&root_message(&level[0]));
    Ok(leaves
        .iter()
        .zip(paths)
        .map(|(leaf, path)| encode(leaf, &path, &signature))
        .collect())
}

/// The bytes a batch's signature covers.
pub fn root_message(root: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(ROOT_DOMAIN.len() + 32);
    message.extend_from_slice(ROOT_DOMAIN);
    message.extend_from_slice(root);
    message
}

fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

fn encode(leaf: &[u8], path: &[(u8, [u8; 32])], signature: &Signature) -> String {
    use base64::Engine;
    let mut out = Vec::with_capacity(2 + 2 + leaf.len() + 1 + path.len() * 33 + 64);
    out.extend_from_slice(&BATCH_MAGIC);
    // A proof's unsigned bytes are at most 309: they fit a u16.
    out.extend_from_slice(&(leaf.len() as u16).to_le_bytes());
    out.extend_from_slice(leaf);
    out.push(path.len() as u8);
    for (side, hash) in path {
        out.push(*side);
        out.extend_from_slice(hash);
    }
    out.extend_from_slice(&signature.to_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// A decoded batch token: its proof, the root its path leads to, and the
/// root's signature.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Proof, [u8; 32], Signature), ProofError> {
    let mut reader = Reader(bytes);
    if reader.take::<2>()? != BATCH_MAGIC {
        return Err(ProofError::Malformed("not a paytab proof batch (magic)"));
    }
    let len = usize::from(u16::from_le_bytes(reader.take()?));
    let leaf = reader.slice(len)?;
    let proof = Proof::parse(leaf)?;
    let depth = usize::from(reader.byte()?);
    if depth > MAX_DEPTH {
        return Err(ProofError::Malformed("proof batch path too long"));
    }
    let mut hash = leaf_hash(leaf);
    for _ in 0..depth {
        let side = reader.byte()?;
        let sibling: [u8; 32] = reader.take()?;
        hash = match side {
            SIBLING_LEFT => node_hash(&sibling, &hash),
            SIBLING_RIGHT => node_hash(&hash, &sibling),
            _ => return Err(ProofError::Malformed("proof batch path side")),
        };
    }
    let signature = Signature::from_bytes(&reader.take()?);
    if !reader.0.is_empty() {
        return Err(ProofError::Malformed("trailing bytes"));
    }
    Ok((proof, hash, signature))
}

/// Batch roots whose signature verified, so their other proofs skip the
/// signature check: a bounded set, the oldest forgotten first. Only a root
/// whose signature verified under an accepted key is ever added; the key's
/// validity is still checked for every proof, and a token is taken for
/// verified only if it carries that very signature, so a token passes with
/// the set exactly when it passes without it.
#[derive(Debug)]
pub struct VerifiedRoots {
    inner: Mutex<Roots>,
}

#[derive(Debug)]
struct Roots {
    set: HashMap<(KeyId, [u8; 32]), [u8; 64]>,
    order: VecDeque<(KeyId, [u8; 32])>,
    capacity: usize,
}

impl VerifiedRoots {
    /// Remembers up to `capacity` roots.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Roots {
                set: HashMap::with_capacity(capacity),
                order: VecDeque::with_capacity(capacity),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Whether `root` verified before under `key_id` with `signature`.
    pub fn contains(&self, key_id: &KeyId, root: &[u8; 32], signature: &Signature) -> bool {
        self.lock()
            .set
            .get(&(*key_id, *root))
            .is_some_and(|verified| *verified == signature.to_bytes())
    }

    /// Records that `signature` over `root` verified under `key_id`.
    pub fn insert(&self, key_id: KeyId, root: [u8; 32], signature: Signature) {
        let mut roots = self.lock();
        if roots
            .set
            .insert((key_id, root), signature.to_bytes())
            .is_some()
        {
            return;
        }
        roots.order.push_back((key_id, root));
        while roots.order.len() > roots.capacity {
            if let Some(oldest) = roots.order.pop_front() {
                roots.set.remove(&oldest);
            }
        }
    }

    /// How many roots are remembered.
    pub fn len(&self) -> usize {
        self.lock().set.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Roots> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Default for VerifiedRoots {
    fn default() -> Self {
        Self::new(4_096)
    }
}

/// The root a batch token's path leads to, without checking its signature.
pub fn root_of(token: &str) -> Result<[u8; 32], ProofError> {
    use base64::Engine;
    if token.len() > crate::proof::MAX_TOKEN_LEN {
        return Err(ProofError::Malformed("token too long"));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| ProofError::Malformed("not base64url"))?;
    decode(&bytes).map(|(_, root, _)| root)
}
