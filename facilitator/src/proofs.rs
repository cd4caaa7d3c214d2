//! Issuing payment proofs and publishing the keys that verify them.
//!
//! Keys rotate without downtime: a new key is published (in `GET /keys`) as
//! soon as it is configured, signing moves to it once its `not_before` passes,
//! and the old key stays published until its `not_after`, so gateways that
//! refresh their key set never see a proof signed by a key they do not know.

use std::sync::RwLock;

use ed25519_dalek::SigningKey;
use paytab_protocol::keys::{KeySet, PublishedKey};
use paytab_protocol::proof::{Binding, Proof, Scheme, Settlement};
use paytab_protocol::proof_batch;
use rand::RngCore;
use solana_pubkey::Pubkey;

use crate::x402::BindingRequest;

/// A proof signing key and its validity window (unix seconds).
#[derive(Debug, Clone)]
pub struct ProofKey {
    /// The Ed25519 key.
    pub signing_key: SigningKey,
    /// Signing with it starts at this time.
    pub not_before: i64,
    /// It is retired after this time, if set.
    pub not_after: Option<i64>,
}

/// What a settled payment's proof states, before it is signed.
#[derive(Debug, Clone, Copy)]
pub struct ProofClaim {
    /// How it was paid.
    pub scheme: Scheme,
    /// Who paid.
    pub payer: Pubkey,
    /// Who was paid.
    pub pay_to: Pubkey,
    /// The mint.
    pub asset: Pubkey,
    /// Raw units.
    pub amount: u64,
    /// What it is bound to.
    pub binding: Binding,
    /// Where it settled.
    pub settlement: Settlement,
}

/// No key can sign right now.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no proof key is valid at {0}")]
pub struct NoSigningKey(pub i64);

/// Signs proofs with the current key.
#[derive(Debug)]
pub struct ProofIssuer {
    keys: RwLock<Vec<ProofKey>>,
    network: String,
    ttl_secs: i64,
}

impl ProofIssuer {
    /// An issuer for `network` whose proofs live `ttl_secs`.
    pub fn new(keys: Vec<ProofKey>, network: String, ttl_secs: i64) -> Self {
        Self {
            keys: RwLock::new(keys),
            network,
            ttl_secs,
        }
    }

    /// Replaces the key list (rotation).
    pub fn replace_keys(&self, keys: Vec<ProofKey>) {
        *self
            .keys
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = keys;
    }

    /// Every configured key as `GET /keys` publishes it.
    pub fn published(&self) -> Vec<PublishedKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut set = KeySet::default();
        for key in keys.iter() {
            set.insert(
                key.signing_key.verifying_key(),
                key.not_before,
                key.not_after,
            );
        }
        set.published()
    }

    /// Signs a proof of `claim` at `now` with the newest key valid then.
    pub fn issue(&self, claim: ProofClaim, now: i64) -> Result<String, NoSigningKey> {
        let proof = self.prepare(claim, now);
        self.with_key(now, |key| proof.sign(key).map_err(|_| NoSigningKey(now)))
    }

    /// Signs `proofs` at `now` as batches of up to 64 under one signature
    /// each (a batch of one is a single proof): one token per proof, in order.
    pub fn sign_batch(&self, proofs: &[Proof], now: i64) -> Result<Vec<String>, NoSigningKey> {
        self.with_key(now, |key| {
            let mut tokens = Vec::with_capacity(proofs.len());
            for batch in proofs.chunks(proof_batch::MAX_BATCH) {
                tokens.extend(proof_batch::sign_batch(batch, key).map_err(|_| NoSigningKey(now))?);
            }
            Ok(tokens)
        })
    }

    /// Runs `sign` with the newest key valid at `now`.
    fn with_key<T>(
        &self,
        now: i64,
        sign: impl FnOnce(&SigningKey) -> Result<T, NoSigningKey>,
    ) -> Result<T, NoSigningKey> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let key = keys
            .iter()
            .filter(|key| key.not_before <= now && key.not_after.is_none_or(|end| now < end))
            .max_by_key(|key| key.not_before)
            .ok_or(NoSigningKey(now))?;
        sign(&key.signing_key)
    }

    /// The proof of `claim` at `now`, with a fresh id, to be signed (its key
    /// id is set when it is).
    pub fn prepare(&self, claim: ProofClaim, now: i64) -> Proof {
        let mut id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        Proof {
            key_id: paytab_protocol::keys::KeyId([0; 8]),
            scheme: claim.scheme,
            network: self.network.clone(),
            payer: claim.payer,
            pay_to: claim.pay_to,
            asset: claim.asset,
            amount: claim.amount,
            binding: claim.binding,
            issued_at: now,
            expires_at: now.saturating_add(self.ttl_secs),
            id,
            settlement: claim.settlement,
        }
    }
}

/// The binding a settle request asks for: a challenge id, or a method and URL
/// (by default `GET` of the resource URL the payment names).
pub fn binding_for(request: Option<&BindingRequest>, resource: Option<&str>) -> Binding {
    if let Some(challenge) = request.and_then(|binding| binding.challenge_id.as_deref()) {
        return Binding::challenge(challenge);
    }
    let method = request
        .and_then(|binding| binding.method.as_deref())
        .unwrap_or("GET");
    let url = request
        .and_then(|binding| binding.url.as_deref())
        .or(resource)
        .unwrap_or_default();
    Binding::request(method, url)
}
