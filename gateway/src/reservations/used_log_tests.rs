//! The state file's log: what it keeps, what it refuses, how it recovers.

#![allow(clippy::unwrap_used)]

use super::*;

const NOW: i64 = 1_790_000_000;

fn ids(rows: &[(PaymentId, i64)]) -> Vec<PaymentId> {
    let mut ids: Vec<PaymentId> = rows.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids
}

/// The rows every segment beside `path` holds now, read without opening the log.
fn on_disk(path: &Path, now: i64) -> Vec<(PaymentId, i64)> {
    let mut rows = Vec::new();
    for number in segment_numbers(path).unwrap() {
        load_segment(&segment_path(path, number), now, &mut rows).unwrap();
    }
    rows
}

#[test]
fn a_record_round_trips_and_any_changed_byte_fails_its_check() {
    let record = encode(&[7; 32], NOW + 300);
    assert_eq!(decode(&record), Some(([7; 32], NOW + 300)));
    for byte in 0..RECORD_LEN {
        let mut changed = record;
        changed[byte] ^= 0x01;
        assert_eq!(decode(&changed), None, "byte {byte}");
    }
    assert_eq!(decode(&record[..RECORD_LEN - 1]), None);
}

#[test]
fn what_append_returned_is_in_the_file_while_the_process_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    let (log, loaded) = UsedLog::open(&path, NOW).unwrap();
    assert!(loaded.is_empty());
    log.append(&[([1; 32], NOW + 300), ([2; 32], NOW + 300)], NOW)
        .unwrap();
    // Nothing is buffered in the process: a gateway killed now loses nothing.
    assert_eq!(ids(&on_disk(&path, NOW)), vec![[1; 32], [2; 32]]);
    drop(log);
    let (_, loaded) = UsedLog::open(&path, NOW + 10).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(ids(&loaded), vec![[1; 32], [2; 32]]);
}

#[test]
fn a_state_file_another_gateway_holds_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    let (first, _) = UsedLog::open(&path, NOW).unwrap();
    let Err(error) = UsedLog::open(&path, NOW) else {
        panic!("two gateways opened one log");
    };
    assert!(error.0.contains("another gateway"), "{error}");
    drop(first);
    assert!(UsedLog::open(&path, NOW).is_ok(), "free again once closed");
}

#[test]
fn an_earlier_gateways_sqlite_state_file_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paytab-gateway.db");
    let mut contents = SQLITE_MAGIC.to_vec();
    contents.extend_from_slice(&[9; 4000]);
    std::fs::write(&path, &contents).unwrap();
    let Err(error) = UsedLog::open(&path, NOW) else {
        panic!("a SQLite file was taken for a log");
    };
    assert!(error.0.contains("SQLite"), "{error}");
    assert!(error.0.contains("move the file aside"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), contents);
}

#[test]
fn the_default_state_file_is_refused_while_an_earlier_gateways_default_file_lies_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join(EARLIER_DEFAULT_FILE);
    std::fs::write(&earlier, SQLITE_MAGIC).unwrap();
    let Err(error) = UsedLog::open(&dir.path().join(DEFAULT_FILE), NOW) else {
        panic!("the earlier file's used proofs were ignored");
    };
    assert!(error.0.contains(EARLIER_DEFAULT_FILE), "{error}");
    assert!(
        UsedLog::open(&dir.path().join("elsewhere.state"), NOW).is_ok(),
        "a configured name does not look for it"
    );
    std::fs::rename(&earlier, dir.path().join("moved-aside.db")).unwrap();
    assert!(UsedLog::open(&dir.path().join(DEFAULT_FILE), NOW).is_ok());
}

#[test]
fn a_file_that_is_not_a_state_file_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, b"listen = \"127.0.0.1:4021\"\n").unwrap();
    let Err(error) = UsedLog::open(&path, NOW) else {
        panic!("a configuration file was taken for a log");
    };
    assert!(
        error.0.contains("not a paytab gateway state file"),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"listen = \"127.0.0.1:4021\"\n"
    );
}

#[test]
fn a_damaged_record_is_skipped_and_a_cut_one_keeps_its_slot_so_later_records_stay_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    {
        let (log, _) = UsedLog::open(&path, NOW).unwrap();
        for byte in 1..=3 {
            log.append(&[([byte; 32], NOW + 300)], NOW).unwrap();
        }
    }
    let segment = segment_path(&path, 1);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[RECORD_LEN + 5] ^= 0xff; // the second record is damaged
    bytes.extend_from_slice(&encode(&[4; 32], NOW + 300)[..20]); // a write cut short
    std::fs::write(&segment, &bytes).unwrap();

    let (log, loaded) = UsedLog::open(&path, NOW).unwrap();
    assert_eq!(ids(&loaded), vec![[1; 32], [3; 32]]);
    log.append(&[([5; 32], NOW + 300)], NOW).unwrap();
    drop(log);
    let (_, loaded) = UsedLog::open(&path, NOW).unwrap();
    assert_eq!(ids(&loaded), vec![[1; 32], [3; 32], [5; 32]]);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        5 * RECORD_LEN as u64,
        "three records, the cut one's slot, the new one"
    );
}

#[test]
fn segments_rotate_and_one_is_deleted_once_every_record_in_it_expired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    let (log, _) = UsedLog::open(&path, NOW).unwrap();
    log.append(&[([1; 32], NOW + 100)], NOW).unwrap();
    log.append(&[([2; 32], NOW + 300)], NOW + ROTATE_AFTER)
        .unwrap();
    assert_eq!(log.segments(), 2);
    // The first segment's last record expired at NOW + 100.
    log.append(&[([3; 32], NOW + 400)], NOW + 2 * ROTATE_AFTER)
        .unwrap();
    assert_eq!(log.segments(), 2);
    assert!(!segment_path(&path, 1).exists());
    assert!(segment_path(&path, 2).exists());
    assert!(segment_path(&path, 3).exists());
    drop(log);

    let (log, loaded) = UsedLog::open(&path, NOW + 2 * ROTATE_AFTER).unwrap();
    assert_eq!(ids(&loaded), vec![[2; 32], [3; 32]]);
    assert_eq!(log.segments(), 2);
    drop(log);
    let (log, _) = UsedLog::open(&path, NOW + 500).unwrap();
    assert_eq!(log.segments(), 1, "the sealed segment expired");
    assert!(!segment_path(&path, 2).exists());
}

#[test]
fn a_log_that_wrote_nothing_since_its_last_rotation_starts_no_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    let (log, _) = UsedLog::open(&path, NOW).unwrap();
    log.append(&[([1; 32], NOW + 300)], NOW + 3 * ROTATE_AFTER)
        .unwrap();
    assert_eq!(log.segments(), 1);
    assert!(!segment_path(&path, 2).exists());
}

#[test]
fn appends_from_many_threads_across_rotations_all_come_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.state");
    let (log, _) = UsedLog::open(&path, NOW).unwrap();
    let threads = 8u8;
    let per_thread = 500u16;
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let log = &log;
            scope.spawn(move || {
                for n in 0..per_thread {
                    let mut first = [thread; 32];
                    first[..2].copy_from_slice(&n.to_le_bytes());
                    let mut second = first;
                    second[31] = 0xff;
                    // The clock crosses several rotations meanwhile.
                    let now = NOW + i64::from(n) / 2;
                    log.append(&[(first, NOW + 10_000), (second, NOW + 10_000)], now)
                        .unwrap();
                }
            });
        }
    });
    assert!(log.segments() > 2, "the log rotated while it was written");
    drop(log);
    let (_, loaded) = UsedLog::open(&path, NOW + 300).unwrap();
    assert_eq!(
        loaded.len(),
        2 * usize::from(threads) * usize::from(per_thread)
    );
    let mut unique = ids(&loaded);
    unique.dedup();
    assert_eq!(unique.len(), loaded.len(), "every record once");
}
