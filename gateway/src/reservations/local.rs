//! Reservations in this process: a map of ids to their state, swept of
//! expired ids once a second. With a state file, every consumed id is also
//! appended to the file's log ([`UsedLog`]: it survives the process being
//! killed) before it counts as used, and the log's unexpired ids are loaded
//! at start. Reservations in flight are never written: they belong to the
//! process that made them.
//!
//! The log is not an index: the map answers every question, so the file is
//! only appended to, and read once, at start.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use paytab_protocol::clock::unix_now;

use super::used_log::UsedLog;
use super::{PaymentId, Reservation, ReservationError};

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
    file: Option<UsedLog>,
    /// The last readiness write: its second and its outcome. Readiness is
    /// open to anyone, so it writes to the file at most once a second.
    checked: Mutex<Option<(i64, Result<(), String>)>>,
}

impl LocalReservations {
    /// Nothing written anywhere.
    pub fn memory() -> Self {
        Self {
            entries: Mutex::default(),
            file: None,
            checked: Mutex::default(),
        }
    }

    /// Consumed ids kept in the state file at `path` (created readable by
    /// its owner only, locked while open); its ids unexpired at `now` are
    /// loaded.
    pub async fn file(path: &Path, now: i64) -> Result<Self, ReservationError> {
        let path = path.to_path_buf();
        let (file, loaded) = tokio::task::spawn_blocking(move || UsedLog::open(&path, now))
            .await
            .map_err(|error| ReservationError(format!("opening the state file: {error}")))??;
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
            checked: Mutex::default(),
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

    pub(super) fn consume(&self, ids: &[PaymentId], until: i64) -> Result<(), ReservationError> {
        // Durable first: while the write is under way the ids stay reserved,
        // so nobody else can take them, and a failed write leaves them
        // reserved for the caller to release.
        if let Some(file) = &self.file {
            let rows: Vec<(PaymentId, i64)> = ids.iter().map(|id| (*id, until)).collect();
            file.append(&rows, unix_now())?;
        }
        let mut entries = self.lock();
        for id in ids {
            entries.map.insert(*id, Entry { used: true, until });
        }
        Ok(())
    }

    pub(super) fn check(&self) -> Result<(), ReservationError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let now = unix_now();
        let mut checked = self
            .checked
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((at, outcome)) = &*checked {
            if *at == now {
                return outcome.clone().map_err(ReservationError);
            }
        }
        // A real write (of an id that is expired already): a full disk fails it.
        let outcome = file.append(&[([0; 32], now)], now);
        *checked = Some((
            now,
            outcome.as_ref().map_err(|error| error.0.clone()).copied(),
        ));
        outcome
    }
}
