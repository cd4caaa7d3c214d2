//! Group commit: settles from many requests share one durable transaction.
//!
//! Each accepted receipt is handed to one writer task, which drains whatever
//! has queued up (up to a batch limit), commits it all in one database
//! transaction, and only then answers every waiting request. One fsync then
//! serves many receipts, and no receipt is answered before it is durable.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::{AcceptedReceipt, Store};

/// Most receipts committed in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 512;

/// The commit failed; nothing in its batch was stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error("receipt commit failed: {0}")]
pub struct CommitError(pub String);

struct Job {
    receipt: AcceptedReceipt,
    done: oneshot::Sender<Result<(), CommitError>>,
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
    /// Starts the writer task over `store`.
    pub fn start(store: Store, max_batch: usize) -> (Self, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(max_batch.max(1) * 4);
        let task = tokio::spawn(run(store, queue, max_batch.max(1)));
        (Self { jobs }, task)
    }

    /// Stores `receipt` durably; returns once it is committed.
    pub async fn commit(&self, receipt: AcceptedReceipt) -> Result<(), CommitError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { receipt, done })
            .await
            .map_err(|_| CommitError("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| CommitError("the writer stopped before answering".into()))?
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while let Some(first) = queue.recv().await {
        jobs.push(first);
        while jobs.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (receipts, waiters): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.receipt, job.done)).unzip();
        let outcome = store
            .commit_receipts(&receipts)
            .await
            .map_err(|error| CommitError(error.to_string()));
        if let Err(error) = &outcome {
            tracing::error!(%error, receipts = receipts.len(), "receipt batch not committed");
        }
        for waiter in waiters {
            let _ = waiter.send(outcome.clone());
        }
    }
}
