//! Reservations in this process: a map of ids to their state, swept of
//! expired ids once a second. With a file, every consumed id is also written
//! to SQLite (WAL, `synchronous=NORMAL`: it survives the process being killed)
//! before it counts as used, and the file's unexpired ids are loaded at start.
//! Reservations in flight are never written: they belong to the process that
//! made them.
//!
//! The file is a log, not an index: the map answers every question, so rows
//! are only appended (one prepared statement per batch, the batch as a JSON
//! array) and deleted by expiry, which an index on `until` keeps cheap.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Mutex;
use std::time::Duration;

use paytab_protocol::clock::unix_now;
use paytab_protocol::private_file;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{PaymentId, Reservation, ReservationError};

/// Most writes committed together.
const MAX_BATCH: usize = 256;
/// How often expired rows are deleted from the file, seconds.
const PRUNE_EVERY: i64 = 60;

#[derive(Debug, Clone, Copy)]
struct Entry {
    used: bool,
    until: i64,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<PaymentId, Entry>,
    swept_at: i64,
}

/// Reservations held by this process.
pub struct LocalReservations {
    entries: Mutex<Entries>,
    file: Option<FileLog>,
}

impl LocalReservations {
    /// Nothing written anywhere.
    pub fn memory() -> Self {
        Self {
            entries: Mutex::default(),
            file: None,
        }
    }

    /// Consumed ids kept in the SQLite file at `path` (created readable by
    /// its owner only); its ids unexpired at `now` are loaded.
    pub async fn file(path: &Path, now: i64) -> Result<Self, ReservationError> {
        let (file, loaded) = FileLog::open(path, now).await?;
        let entries = Entries {
            map: loaded
                .into_iter()
                .map(|(id, until)| (id, Entry { used: true, until }))
                .collect(),
            swept_at: now,
        };
        Ok(Self {
            entries: Mutex::new(entries),
            file: Some(file),
        })
    }

    /// Ids currently remembered (in flight or used).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn reserve(&self, ids: &[PaymentId], until: i64, now: i64) -> Reservation {
        let mut entries = self.lock();
        if now > entries.swept_at {
            entries.map.retain(|_, entry| entry.until > now);
            entries.swept_at = now;
        }
        for id in ids {
            if let Some(entry) = entries.map.get(id).filter(|entry| entry.until > now) {
                return if entry.used {
                    Reservation::Used
                } else {
                    Reservation::InFlight
                };
            }
        }
        for id in ids {
            entries.map.insert(*id, Entry { used: false, until });
        }
        Reservation::Reserved
    }

    pub(super) fn release(&self, ids: &[PaymentId]) {
        let mut entries = self.lock();
        for id in ids {
            if entries.map.get(id).is_some_and(|entry| !entry.used) {
                entries.map.remove(id);
            }
        }
    }

    pub(super) async fn consume(
        &self,
        ids: &[PaymentId],
        until: i64,
    ) -> Result<(), ReservationError> {
        // Durable first: while the write is under way the ids stay reserved,
        // so nobody else can take them, and a failed write leaves them
        // reserved for the caller to release.
        if let Some(file) = &self.file {
            file.write(ids.iter().map(|id| (*id, until)).collect())
                .await?;
        }
        let mut entries = self.lock();
        for id in ids {
            entries.map.insert(*id, Entry { used: true, until });
        }
        Ok(())
    }

    pub(super) async fn check(&self) -> Result<(), ReservationError> {
        match &self.file {
            // A real write: a full disk fails it.
            Some(file) => file.write(vec![([0; 32], unix_now())]).await,
            None => Ok(()),
        }
    }
}

struct Job {
    rows: Vec<(PaymentId, i64)>,
    done: oneshot::Sender<Result<(), ReservationError>>,
}

/// The file's single writer: writes queued while one commit runs share the next.
struct FileLog {
    jobs: mpsc::Sender<Job>,
}

impl FileLog {
    async fn open(
        path: &Path,
        now: i64,
    ) -> Result<(Self, Vec<(PaymentId, i64)>), ReservationError> {
        let failed = |error: &dyn std::fmt::Display| {
            ReservationError(format!("{}: {error}", path.display()))
        };
        private_file::create(path).map_err(|error| failed(&error))?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|error| failed(&error))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|error| failed(&error))?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS used_log (id BLOB NOT NULL, until INTEGER NOT NULL); \
             CREATE INDEX IF NOT EXISTS used_log_until ON used_log (until);",
        )
        .execute(&pool)
        .await
        .map_err(|error| failed(&error))?;
        sqlx::query(PRUNE)
            .bind(now)
            .execute(&pool)
            .await
            .map_err(|error| failed(&error))?;
        let loaded = sqlx::query("SELECT id, until FROM used_log")
            .fetch_all(&pool)
            .await
            .map_err(|error| failed(&error))?
            .into_iter()
            .filter_map(|row| {
                let id: Vec<u8> = row.try_get("id").ok()?;
                Some((PaymentId::try_from(id).ok()?, row.try_get("until").ok()?))
            })
            .collect();
        let (jobs, queue) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(write_batches(pool, queue));
        Ok((Self { jobs }, loaded))
    }

    async fn write(&self, rows: Vec<(PaymentId, i64)>) -> Result<(), ReservationError> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { rows, done })
            .await
            .map_err(|_| ReservationError("the reservation file's writer stopped".into()))?;
        answer
            .await
            .map_err(|_| ReservationError("the reservation file's writer stopped".into()))?
    }
}

async fn write_batches(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut pruned_at = unix_now();
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let rows: Vec<(PaymentId, i64)> = jobs.iter().flat_map(|job| job.rows.clone()).collect();
        let outcome = insert(&pool, &rows)
            .await
            .map_err(|error| ReservationError(error.to_string()));
        if let Err(error) = &outcome {
            tracing::error!(%error, "used payments not written");
        }
        for job in jobs.drain(..) {
            let answer = match &outcome {
                Ok(()) => Ok(()),
                Err(error) => Err(ReservationError(error.0.clone())),
            };
            let _ = job.done.send(answer);
        }
        let now = unix_now();
        if now - pruned_at >= PRUNE_EVERY {
            pruned_at = now;
            if let Err(error) = sqlx::query(PRUNE).bind(now).execute(&pool).await {
                tracing::warn!(%error, "expired payments not pruned");
            }
        }
    }
    pool.close().await;
}

/// Deletes what expired.
const PRUNE: &str = "DELETE FROM used_log WHERE until <= $1";

/// Appends a batch given as a JSON array of `[hex id, until]`.
const APPEND: &str = "INSERT INTO used_log (id, until) \
    SELECT unhex(json_extract(value, '$[0]')), json_extract(value, '$[1]') FROM json_each($1)";

async fn insert(pool: &SqlitePool, rows: &[(PaymentId, i64)]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let batch: Vec<(String, i64)> = rows
        .iter()
        .map(|(id, until)| (hex::encode(id), *until))
        .collect();
    let batch = serde_json::to_string(&batch).map_err(|error| sqlx::Error::Encode(error.into()))?;
    sqlx::query(APPEND).bind(batch).execute(pool).await?;
    Ok(())
}
