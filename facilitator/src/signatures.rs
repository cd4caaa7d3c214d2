//! Ed25519 checks for receipts, batched: signatures that arrive together are
//! verified together (ed25519-dalek's batch verification costs well under half
//! of single checks per signature), on a thread of their own so the async
//! workers stay free. Decompressed public keys are cached per signer.
//!
//! A batch that fails is re-checked one by one, so a forged signature costs its
//! sender's batch one extra pass but never fails an honest receipt.

use std::collections::HashMap;
use std::sync::RwLock;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use tokio::sync::{mpsc, oneshot};

/// Most signatures verified in one batch.
pub const MAX_BATCH: usize = 64;
/// Public keys kept decompressed; the cache is emptied when it grows past this.
const MAX_CACHED_KEYS: usize = 100_000;

struct Job {
    key: VerifyingKey,
    message: Vec<u8>,
    signature: Signature,
    done: oneshot::Sender<bool>,
}

/// Handle to the verifying thread.
pub struct SignatureChecker {
    jobs: mpsc::Sender<Job>,
    keys: RwLock<HashMap<[u8; 32], VerifyingKey>>,
}

impl SignatureChecker {
    /// Starts the verifying thread.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 16);
        std::thread::Builder::new()
            .name("ed25519-batch".into())
            .spawn(move || run(queue))?;
        Ok(Self {
            jobs,
            keys: RwLock::new(HashMap::new()),
        })
    }

    /// Whether `signature` by `signer` over `message` verifies. `false` also
    /// when `signer` is not a valid Ed25519 public key.
    pub async fn verify(&self, signer: [u8; 32], message: Vec<u8>, signature: [u8; 64]) -> bool {
        let Some(key) = self.key(signer) else {
            return false;
        };
        let (done, answer) = oneshot::channel();
        let job = Job {
            key,
            message,
            signature: Signature::from_bytes(&signature),
            done,
        };
        if self.jobs.send(job).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    fn key(&self, bytes: [u8; 32]) -> Option<VerifyingKey> {
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&bytes)
        {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(bytes, key);
        Some(key)
    }
}

fn run(mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let verdicts = check(&jobs);
        for (job, valid) in jobs.drain(..).zip(verdicts) {
            let _ = job.done.send(valid);
        }
    }
}

/// Verifies `jobs` together, falling back to one by one when the batch fails.
fn check(jobs: &[Job]) -> Vec<bool> {
    if jobs.len() > 1 {
        let messages: Vec<&[u8]> = jobs.iter().map(|job| job.message.as_slice()).collect();
        let signatures: Vec<Signature> = jobs.iter().map(|job| job.signature).collect();
        let keys: Vec<VerifyingKey> = jobs.iter().map(|job| job.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return vec![true; jobs.len()];
        }
    }
    jobs.iter()
        .map(|job| job.key.verify(&job.message, &job.signature).is_ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_forged_signature_in_a_batch_fails_alone() {
        let checker = std::sync::Arc::new(SignatureChecker::start().unwrap());
        let mut tasks = Vec::new();
        for index in 0..200u8 {
            let checker = checker.clone();
            tasks.push(tokio::spawn(async move {
                let key = SigningKey::from_bytes(&[index; 32]);
                let message = vec![index; 58];
                let mut signature = key.sign(&message).to_bytes();
                let forged = index % 7 == 3;
                if forged {
                    signature[10] ^= 1;
                }
                let valid = checker
                    .verify(key.verifying_key().to_bytes(), message, signature)
                    .await;
                (forged, valid)
            }));
        }
        for task in tasks {
            let (forged, valid) = task.await.unwrap();
            assert_eq!(valid, !forged);
        }
    }

    #[tokio::test]
    async fn a_signer_that_is_not_a_curve_point_is_refused() {
        let checker = SignatureChecker::start().unwrap();
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert!(!checker.verify(not_a_point, vec![1], [0; 64]).await);
    }
}
