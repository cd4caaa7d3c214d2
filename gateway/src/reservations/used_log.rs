//! The state file: used payment ids appended to a log, one positioned write
//! per answer, made by the request itself before its answer leaves. Nothing
//! is buffered in the process, so what [`UsedLog::append`] wrote survives the
//! process being killed; nothing is fsynced, so a power cut may forget the
//! last few records (as SQLite's WAL with `synchronous=NORMAL` would).
//! Appends take no lock: each claims its byte range of the segment with one
//! atomic addition and writes there, so requests on different cores never
//! wait for each other's write.
//!
//! Files (ADR 0026):
//! - `path` holds [`MAGIC`] and is locked while a gateway uses the log, so
//!   two gateways never write one log;
//! - `path.N` (N = 1, 2, …) are segments of 48-byte records: the id (32
//!   bytes), `until` (unix seconds, i64 little-endian) and the first 8 bytes
//!   of SHA-256([`RECORD_DOMAIN`] ‖ id ‖ until). The highest N takes new
//!   records; every [`ROTATE_AFTER`] seconds a new segment starts, and a
//!   segment whose every record has expired is deleted.
//!
//! Records stay at multiples of 48 bytes whatever happens: a failed write's
//! range is blanked (zeros count for nothing), a record torn by a power cut
//! fails its check and is skipped, and a segment reopened with a record cut
//! short at its end goes on after that record's slot.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use sha2::{Digest as _, Sha256};

use super::{PaymentId, ReservationError};

/// The first bytes of the state file.
pub const MAGIC: &[u8; 16] = b"paytab used v1\n\0";
/// Domain of a record's check.
pub const RECORD_DOMAIN: &[u8] = b"paytab/used-record/v1";
/// Bytes per record.
pub const RECORD_LEN: usize = 48;
/// Seconds a segment takes new records before the next one starts.
pub const ROTATE_AFTER: i64 = 60;

/// The state file's name unless configured.
pub const DEFAULT_FILE: &str = "paytab-gateway.state";

/// What state files of gateways before ADR 0026 start with.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// Their name unless configured.
const EARLIER_DEFAULT_FILE: &str = "paytab-gateway.db";
/// Why such a file is refused, and what to do.
const EARLIER_FORMAT: &str = "an earlier gateway's SQLite state file: stop that gateway, wait \
    until the proofs it served have expired (5 minutes), then move the file aside";

/// The log of used ids; see the module documentation.
pub struct UsedLog {
    path: PathBuf,
    /// Holds the lock on `path` for as long as the log is open.
    _lock: File,
    /// The segment taking new records; replaced (write lock) only to rotate.
    current: RwLock<Segment>,
    /// Segments no longer written, oldest first.
    sealed: Mutex<Vec<Sealed>>,
}

/// The segment taking new records. Appends share it without a lock: each
/// claims its byte range by adding to `len`, then writes there.
struct Segment {
    number: u64,
    file: File,
    /// Bytes claimed by appends (a multiple of [`RECORD_LEN`]).
    len: AtomicU64,
    /// Latest `until` among its records.
    max_until: AtomicI64,
    /// When it started taking records (or the log was opened), unix seconds.
    started: AtomicI64,
}

/// A segment no longer written.
struct Sealed {
    number: u64,
    /// Latest `until` among its records: it is deleted once this has passed.
    max_until: i64,
}

impl UsedLog {
    /// Opens (or creates, readable by its owner only) the log at `path` and
    /// returns its ids still unexpired at `now`. Refuses a file in use by
    /// another gateway, an earlier gateway's SQLite state file and any other
    /// file that is not a state file.
    pub fn open(path: &Path, now: i64) -> Result<(Self, Vec<(PaymentId, i64)>), ReservationError> {
        let failed = |error: &dyn std::fmt::Display| {
            ReservationError(format!("{}: {error}", path.display()))
        };
        refuse_earlier_default(path)?;
        paytab_protocol::private_file::create(path).map_err(|error| failed(&error))?;
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| failed(&error))?;
        lock.try_lock().map_err(|error| match error {
            std::fs::TryLockError::WouldBlock => {
                failed(&"another gateway is using this state file")
            }
            std::fs::TryLockError::Error(error) => failed(&error),
        })?;
        check_magic(&mut lock).map_err(|error| failed(&error))?;

        let mut rows = Vec::new();
        let mut sealed = Vec::new();
        for number in segment_numbers(path).map_err(|error| failed(&error))? {
            let max_until = load_segment(&segment_path(path, number), now, &mut rows)
                .map_err(|error| failed(&error))?;
            sealed.push(Sealed { number, max_until });
        }
        // The last segment goes on taking records.
        let last = sealed.pop().unwrap_or(Sealed {
            number: 1,
            max_until: i64::MIN,
        });
        let current = Segment::open(path, last.number, last.max_until, now)
            .map_err(|error| failed(&error))?;
        let log = Self {
            path: path.to_path_buf(),
            _lock: lock,
            current: RwLock::new(current),
            sealed: Mutex::new(sealed),
        };
        log.delete_expired(now);
        Ok((log, rows))
    }

    /// Appends `rows` in one write: when this returns `Ok`, a gateway opening
    /// the log sees them. On an error (a full disk) none of them counts.
    pub fn append(&self, rows: &[(PaymentId, i64)], now: i64) -> Result<(), ReservationError> {
        let mut bytes = Vec::with_capacity(rows.len() * RECORD_LEN);
        for (id, until) in rows {
            bytes.extend_from_slice(&encode(id, *until));
        }
        let mut current = self.read_current();
        if now - current.started.load(Ordering::Relaxed) >= ROTATE_AFTER {
            drop(current);
            self.rotate(now);
            current = self.read_current();
        }
        let offset = current.len.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if let Err(error) = write_at(&current.file, &bytes, offset) {
            // Whatever part of it reached the file is blanked: a blank record
            // counts for nothing, and the records after it stay aligned.
            let _ = write_at(&current.file, &vec![0; bytes.len()], offset);
            return Err(ReservationError(format!(
                "{}: {error}",
                segment_path(&self.path, current.number).display()
            )));
        }
        let latest = rows.iter().map(|(_, until)| *until).max();
        current
            .max_until
            .fetch_max(latest.unwrap_or(i64::MIN), Ordering::Relaxed);
        Ok(())
    }

    /// How many segment files the log has now.
    #[cfg(test)]
    pub fn segments(&self) -> usize {
        self.sealed
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .len()
            + 1
    }

    fn read_current(&self) -> std::sync::RwLockReadGuard<'_, Segment> {
        self.current
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Starts the next segment and deletes the sealed ones that expired. A
    /// segment that cannot be created leaves the current one in use; one
    /// that took no record since the last rotation is kept.
    fn rotate(&self, now: i64) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if now - current.started.load(Ordering::Relaxed) < ROTATE_AFTER {
            return; // another append rotated it meanwhile
        }
        current.started.store(now, Ordering::Relaxed);
        if current.len.load(Ordering::Relaxed) > 0 {
            match Segment::open(&self.path, current.number + 1, i64::MIN, now) {
                Ok(next) => {
                    let old = std::mem::replace(&mut *current, next);
                    self.sealed
                        .lock()
                        .unwrap_or_else(|poison| poison.into_inner())
                        .push(Sealed {
                            number: old.number,
                            max_until: old.max_until.load(Ordering::Relaxed),
                        });
                }
                Err(error) => tracing::warn!(%error, "no new segment of the state file"),
            }
        }
        drop(current);
        self.delete_expired(now);
    }

    fn delete_expired(&self, now: i64) {
        let mut sealed = self
            .sealed
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        sealed.retain(|segment| {
            if segment.max_until > now {
                return true;
            }
            match std::fs::remove_file(segment_path(&self.path, segment.number)) {
                Ok(()) => false,
                Err(error) if error.kind() == io::ErrorKind::NotFound => false,
                Err(error) => {
                    tracing::warn!(%error, "an expired segment of the state file was not deleted");
                    true
                }
            }
        });
    }
}

impl Segment {
    /// Opens segment `number` of the log at `path` (created if missing) to
    /// append after what it holds: a record cut short at its end is left
    /// behind, and counts for nothing.
    fn open(path: &Path, number: u64, max_until: i64, now: i64) -> io::Result<Self> {
        let path = segment_path(path, number);
        paytab_protocol::private_file::create(&path)?;
        let file = OpenOptions::new().write(true).open(&path)?;
        let len = file.metadata()?.len().div_ceil(RECORD_LEN as u64) * RECORD_LEN as u64;
        Ok(Self {
            number,
            file,
            len: AtomicU64::new(len),
            max_until: AtomicI64::new(max_until),
            started: AtomicI64::new(now),
        })
    }
}

/// A record: id, until, check.
pub fn encode(id: &PaymentId, until: i64) -> [u8; RECORD_LEN] {
    let mut record = [0; RECORD_LEN];
    record[..32].copy_from_slice(id);
    record[32..40].copy_from_slice(&until.to_le_bytes());
    let check = record_check(&record[..40]);
    record[40..].copy_from_slice(&check);
    record
}

/// The id and until of a record whose check holds.
pub fn decode(record: &[u8]) -> Option<(PaymentId, i64)> {
    if record.len() != RECORD_LEN || record[40..] != record_check(&record[..40]) {
        return None;
    }
    let id = PaymentId::try_from(&record[..32]).ok()?;
    let until = i64::from_le_bytes(record[32..40].try_into().ok()?);
    Some((id, until))
}

fn record_check(body: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(RECORD_DOMAIN)
        .chain_update(body)
        .finalize();
    let mut check = [0; 8];
    check.copy_from_slice(&digest[..8]);
    check
}

/// Writes the magic into a new state file; refuses any other contents.
fn check_magic(file: &mut File) -> io::Result<()> {
    let mut head = Vec::with_capacity(MAGIC.len());
    file.by_ref()
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    if head == MAGIC {
        return Ok(());
    }
    if head.starts_with(SQLITE_MAGIC) {
        return Err(io::Error::other(EARLIER_FORMAT));
    }
    if !MAGIC.starts_with(&head) {
        return Err(io::Error::other("not a paytab gateway state file"));
    }
    // New, or its magic was cut short.
    file.set_len(0)?;
    write_at(file, MAGIC, 0)
}

/// With the default name, an earlier gateway's default file beside it still
/// holds the proofs it used last: refused until it is moved aside.
fn refuse_earlier_default(path: &Path) -> Result<(), ReservationError> {
    if path.file_name() != Some(std::ffi::OsStr::new(DEFAULT_FILE)) {
        return Ok(());
    }
    let earlier = path.with_file_name(EARLIER_DEFAULT_FILE);
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    let read = File::open(&earlier)
        .and_then(|file| file.take(SQLITE_MAGIC.len() as u64).read_to_end(&mut head));
    if read.is_ok() && head == SQLITE_MAGIC {
        return Err(ReservationError(format!(
            "{}: {EARLIER_FORMAT}",
            earlier.display()
        )));
    }
    Ok(())
}

fn segment_path(path: &Path, number: u64) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{number}"));
    PathBuf::from(name)
}

/// The numbers of the segments beside `path`, in order.
fn segment_numbers(path: &Path) -> io::Result<Vec<u64>> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Some(stem) = path.file_name().and_then(|name| name.to_str()) else {
        return Err(io::Error::other("the state file's name is not UTF-8"));
    };
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let name = entry?.file_name();
        let number = name
            .to_str()
            .and_then(|name| name.strip_prefix(stem))
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok());
        numbers.extend(number);
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Reads one segment, adding its records unexpired at `now` to `rows`; the
/// latest `until` in it. Blank records (a failed write, a gap) count for
/// nothing; damaged ones (a torn write after a power cut) are skipped.
fn load_segment(path: &Path, now: i64, rows: &mut Vec<(PaymentId, i64)>) -> io::Result<i64> {
    let bytes = std::fs::read(path)?;
    let mut max_until = i64::MIN;
    let mut damaged = 0usize;
    for record in bytes.chunks(RECORD_LEN) {
        let Some((id, until)) = decode(record) else {
            if record.iter().any(|byte| *byte != 0) {
                damaged += 1;
            }
            continue;
        };
        max_until = max_until.max(until);
        if until > now {
            rows.push((id, until));
        }
    }
    if damaged > 0 {
        tracing::warn!(
            segment = %path.display(),
            damaged,
            "records of the state file failed their check and were skipped"
        );
    }
    Ok(max_until)
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

#[cfg(test)]
#[path = "used_log_tests.rs"]
mod tests;
