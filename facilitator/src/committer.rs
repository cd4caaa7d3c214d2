//! Group commit: settles from many requests share one durable transaction
//! and one proof signature.
//!
//! Each accepted receipt is handed to one writer task, which drains whatever
//! has queued up (up to a batch limit), signs their proofs as batches of up
//! to 64 under one signature each, commits it all in one database
//! transaction, and only then answers every waiting request. One fsync and
//! one signature then serve many receipts, and no receipt is answered before
//! it is durable. Whether the last commit failed is kept in [`WriteHealth`]
//! for readiness.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use paytab_protocol::clock::unix_now;
use paytab_protocol::proof::Proof;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::proofs::ProofIssuer;
use crate::store::{AcceptedReceipt, Store};

/// Most receipts committed in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// The commit failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("receipt commit failed: {message}")]
pub struct CommitError {
    /// What failed.
    pub message: String,
    /// `true` when nothing in the batch was stored for certain; `false` when
    /// the database may have committed it (a connection lost during COMMIT).
    pub outcome_known: bool,
}

impl CommitError {
    fn stopped(message: &str) -> Self {
        Self {
            message: message.into(),
            outcome_known: true,
        }
    }
}

/// Whether the store's writes are failing now.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failing: AtomicBool,
}

impl WriteHealth {
    /// Records the outcome of a write.
    pub fn record(&self, succeeded: bool) {
        self.failing.store(!succeeded, Ordering::Relaxed);
    }

    /// Whether the last write failed.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

struct Job {
    receipt: AcceptedReceipt,
    proof: Proof,
    done: oneshot::Sender<Result<Option<String>, CommitError>>,
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("receipt", &self.receipt)
            .finish()
    }
}

impl Committer {
    /// Starts the writer task over `store`, signing proofs with `proofs`
    /// and reporting each commit to `health`.
    pub fn start(
        store: Store,
        proofs: Arc<ProofIssuer>,
        max_batch: usize,
        health: Arc<WriteHealth>,
    ) -> (Self, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(max_batch.max(1) * 4);
        let task = tokio::spawn(run(store, proofs, queue, max_batch.max(1), health));
        (Self { jobs }, task)
    }

    /// Signs `proof` and stores `receipt` with it durably; returns once it
    /// is committed: the proof's token if it was stored, `None` if its
    /// allowance's watermark had moved on from the one it was checked against
    /// (another facilitator accepted a receipt there first).
    pub async fn commit(
        &self,
        receipt: AcceptedReceipt,
        proof: Proof,
    ) -> Result<Option<String>, CommitError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                receipt,
                proof,
                done,
            })
            .await
            .map_err(|_| CommitError::stopped("the writer has stopped"))?;
        answer
            .await
            .map_err(|_| CommitError::stopped("the writer stopped before answering"))?
    }
}

async fn run(
    store: Store,
    proofs: Arc<ProofIssuer>,
    mut queue: mpsc::Receiver<Job>,
    max_batch: usize,
    health: Arc<WriteHealth>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    while let Some(first) = queue.recv().await {
        jobs.push(first);
        while jobs.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut unsigned: Vec<Proof> = Vec::with_capacity(jobs.len());
        let mut receipts = Vec::with_capacity(jobs.len());
        let mut waiters = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            unsigned.push(job.proof);
            receipts.push(job.receipt);
            waiters.push(job.done);
        }
        let tokens = match proofs.sign_batch(&unsigned, unix_now()) {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::error!(%error, receipts = receipts.len(), "proofs not signed; nothing stored");
                for waiter in waiters {
                    let _ = waiter.send(Err(CommitError::stopped(&error.to_string())));
                }
                continue;
            }
        };
        for (receipt, token) in receipts.iter_mut().zip(&tokens) {
            receipt.proof = token.clone();
        }
        let outcome = store
            .commit_receipts(&receipts)
            .await
            .map_err(|error| CommitError {
                outcome_known: store.commit_outcome_known(&error),
                message: error.to_string(),
            });
        health.record(outcome.is_ok());
        if let Err(error) = &outcome {
            tracing::error!(%error, receipts = receipts.len(), "receipt batch not committed");
        }
        match outcome {
            Ok(stored) => {
                for ((waiter, stored), token) in waiters.into_iter().zip(stored).zip(tokens) {
                    let _ = waiter.send(Ok(stored.then_some(token)));
                }
            }
            Err(error) => {
                for waiter in waiters {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
        }
    }
}
