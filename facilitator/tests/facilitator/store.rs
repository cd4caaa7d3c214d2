//! The store against both databases: SQLite always, PostgreSQL when
//! `PAYTAB_TEST_POSTGRES_URL` names a server (`.ci/run` starts one; under
//! `CI=true` it must be there).

use paytab_facilitator::store::{
    AcceptedReceipt, ClaimEntry, ClaimRecord, ClaimStatus, ResourceRecord, Store, TransferRecord,
    TransferStatus, Watermark,
};
use serde_json::json;
use solana_pubkey::Pubkey;
use sqlx::Connection;

/// A fresh store of each available kind, with what keeps it alive.
pub struct Fresh {
    pub store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fresh {
    /// Closes the store and drops a PostgreSQL test database (best effort:
    /// a leftover test database harms nothing).
    pub async fn finish(self) {
        self.store.close().await;
        let Some((base, name)) = self
            .url
            .starts_with("postgres")
            .then(|| self.url.rsplit_once('/'))
            .flatten()
        else {
            return;
        };
        if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
            let dropped = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
            if let Err(error) = dropped {
                eprintln!("test database {name} left behind: {error}");
            }
        }
    }
}

pub async fn fresh_stores() -> Vec<Fresh> {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("store.db").display().to_string();
    let mut stores = vec![Fresh {
        store: Store::open(&url).await.unwrap(),
        url,
        _dir: Some(dir),
    }];
    match std::env::var("PAYTAB_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let url = fresh_postgres_database(&base).await;
            stores.push(Fresh {
                store: Store::open(&url).await.unwrap(),
                url,
                _dir: None,
            });
        }
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true but PAYTAB_TEST_POSTGRES_URL is not set: run .ci/run, which starts PostgreSQL")
        }
        _ => eprintln!("PAYTAB_TEST_POSTGRES_URL not set: PostgreSQL store tests skipped"),
    }
    stores
}

/// A new, empty database on the server at `base`, for one test.
pub async fn fresh_postgres_database(base: &str) -> String {
    let name = format!("paytab_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

/// A receipt for `cumulative`, checked against an empty watermark.
fn receipt(allowance: Pubkey, generation: u64, cumulative: u64) -> AcceptedReceipt {
    after(allowance, generation, 0, cumulative)
}

/// A receipt for `cumulative`, checked against the stored watermark `prior`.
pub(crate) fn after(
    allowance: Pubkey,
    generation: u64,
    prior: u64,
    cumulative: u64,
) -> AcceptedReceipt {
    AcceptedReceipt {
        allowance,
        generation,
        cumulative,
        prior,
        amount: 10,
        claimed: 0,
        payer: Pubkey::new_from_array([1; 32]),
        signer: Pubkey::new_from_array([1; 32]),
        signature: format!("sig-{allowance}-{generation}-{cumulative}"),
        proof: format!("proof-{cumulative}"),
        accepted_at: 1_700_000_000,
        escrow: Pubkey::new_from_array([2; 32]),
        provider: Pubkey::new_from_array([3; 32]),
        mint: Pubkey::new_from_array([4; 32]),
        vault: Pubkey::new_from_array([5; 32]),
    }
}

#[tokio::test]
async fn committed_receipts_survive_reopening_and_migrations_run_once() {
    for fresh in fresh_stores().await {
        let allowance = Pubkey::new_unique();
        fresh
            .store
            .commit_receipts(&[
                receipt(allowance, 7, 10),
                receipt(Pubkey::new_unique(), 1, 10),
            ])
            .await
            .unwrap();
        fresh.store.close().await;

        let reopened = Store::open(&fresh.url).await.unwrap();
        assert_eq!(
            reopened.watermark(&allowance).await.unwrap(),
            Some(Watermark {
                generation: 7,
                accepted: 10,
                claimed: 0
            }),
            "{}",
            reopened.kind()
        );
        let stored = reopened.receipt(&allowance, 7, 10).await.unwrap().unwrap();
        assert_eq!(stored.proof, "proof-10");
        reopened.close().await;
        fresh.finish().await;
    }
}

#[tokio::test]
async fn a_watermark_never_goes_backwards_and_a_new_generation_starts_over() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        let allowance = Pubkey::new_unique();
        let stored = store
            .commit_receipts(&[receipt(allowance, 7, 30)])
            .await
            .unwrap();
        assert_eq!(stored, [true]);
        let stored = store
            .commit_receipts(&[receipt(allowance, 7, 20)])
            .await
            .unwrap();
        assert_eq!(stored, [false], "checked against a watermark that moved");
        assert_eq!(
            store.watermark(&allowance).await.unwrap().unwrap().accepted,
            30
        );
        assert!(store.receipt(&allowance, 7, 20).await.unwrap().is_none());

        store.set_claimed(&allowance, 7, 25).await.unwrap();
        store.set_claimed(&allowance, 7, 5).await.unwrap();
        assert_eq!(
            store.watermark(&allowance).await.unwrap().unwrap().claimed,
            25
        );

        let stored = store
            .commit_receipts(&[receipt(allowance, 6, 99)])
            .await
            .unwrap();
        assert_eq!(
            stored,
            [false],
            "an older generation never replaces a newer one"
        );
        assert_eq!(
            store
                .watermark(&allowance)
                .await
                .unwrap()
                .unwrap()
                .generation,
            7
        );
        let stored = store
            .commit_receipts(&[receipt(allowance, 8, 10)])
            .await
            .unwrap();
        assert_eq!(stored, [true]);
        assert_eq!(
            store.watermark(&allowance).await.unwrap(),
            Some(Watermark {
                generation: 8,
                accepted: 10,
                claimed: 0
            })
        );
        fresh.finish().await;
    }
}

#[tokio::test]
async fn a_receipt_is_stored_only_on_top_of_the_watermark_it_was_checked_against() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        let allowance = Pubkey::new_unique();
        assert_eq!(
            store
                .commit_receipts(&[after(allowance, 1, 0, 10)])
                .await
                .unwrap(),
            [true]
        );
        // Checked against 0, but 10 is stored now: a step counted twice.
        assert_eq!(
            store
                .commit_receipts(&[after(allowance, 1, 0, 20)])
                .await
                .unwrap(),
            [false]
        );
        assert_eq!(
            store
                .commit_receipts(&[after(allowance, 1, 10, 20)])
                .await
                .unwrap(),
            [true]
        );
        let mark = store.watermark(&allowance).await.unwrap().unwrap();
        assert_eq!(mark.accepted, 20);
        fresh.finish().await;
    }
}

#[tokio::test]
async fn one_commit_stores_many_receipts_and_only_the_first_of_each_allowance() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        let allowances: Vec<Pubkey> = (0..300).map(|_| Pubkey::new_unique()).collect();
        let mut batch: Vec<AcceptedReceipt> =
            allowances.iter().map(|a| receipt(*a, 1, 10)).collect();
        batch.push(after(allowances[0], 1, 10, 20));
        let stored = store.commit_receipts(&batch).await.unwrap();
        assert!(stored[..300].iter().all(|stored| *stored));
        assert!(
            !stored[300],
            "a second step of one allowance waits for the next batch"
        );
        assert_eq!(
            store
                .watermark(&allowances[0])
                .await
                .unwrap()
                .unwrap()
                .accepted,
            10
        );
        assert_eq!(store.unclaimed(1_000).await.unwrap().len(), 300);
        assert!(store
            .receipt(&allowances[0], 1, 20)
            .await
            .unwrap()
            .is_none());
        fresh.finish().await;
    }
}

#[tokio::test]
async fn claims_record_their_entries_outcome_and_payments() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        let provider = Pubkey::new_unique();
        let allowance = Pubkey::new_unique();
        let claim = ClaimRecord {
            signature: "5igXy".into(),
            provider,
            mint: Pubkey::new_unique(),
            status: ClaimStatus::Pending,
            last_valid_block_height: 150,
            created_at: 1,
            entries: vec![ClaimEntry {
                allowance,
                generation: 3,
                cumulative: 40,
                claimed_before: 15,
                paid: None,
            }],
        };
        store.record_claim(&claim).await.unwrap();
        assert_eq!(
            store
                .claims_with_status(ClaimStatus::Pending)
                .await
                .unwrap(),
            vec![claim.clone()]
        );
        store
            .finish_claim(
                &claim.signature,
                ClaimStatus::Confirmed,
                None,
                &[(allowance, 40)],
            )
            .await
            .unwrap();
        assert!(store
            .claims_with_status(ClaimStatus::Pending)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.paid_to(&provider).await.unwrap(), 40);
        fresh.finish().await;
    }
}

#[tokio::test]
async fn a_transfer_is_recorded_once_and_a_duplicate_is_reported() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        let transfer = TransferRecord {
            signature: "3xYz".into(),
            payer: Pubkey::new_unique(),
            pay_to: Pubkey::new_unique(),
            mint: Pubkey::new_unique(),
            amount: 5,
            status: TransferStatus::Pending,
            created_at: 1,
        };
        assert!(store.begin_transfer(&transfer).await.unwrap());
        assert!(!store.begin_transfer(&transfer).await.unwrap());
        store
            .finish_transfer(&transfer.signature, TransferStatus::Settled, Some("proof"))
            .await
            .unwrap();
        store.forget_transfer(&transfer.signature).await.unwrap();
        assert!(
            !store.begin_transfer(&transfer).await.unwrap(),
            "a settled transfer is never forgotten"
        );
        fresh.finish().await;
    }
}

#[tokio::test]
async fn resources_are_upserted_and_paged_by_type() {
    for fresh in fresh_stores().await {
        let store = &fresh.store;
        for index in 0..5 {
            store
                .upsert_resource(&ResourceRecord {
                    resource: format!("https://api.example/{index}"),
                    kind: if index < 4 { "http" } else { "mcp" }.into(),
                    x402_version: 2,
                    accepts: json!([{"scheme": "exact"}]),
                    metadata: json!({"index": index}),
                    last_updated: index,
                })
                .await
                .unwrap();
        }
        let (page, total) = store.resources(Some("http"), 3, 0).await.unwrap();
        assert_eq!((page.len(), total), (3, 4));
        assert_eq!(page[0].resource, "https://api.example/3", "newest first");
        let (all, total) = store.resources(None, 10, 0).await.unwrap();
        assert_eq!((all.len(), total), (5, 5));
        fresh.finish().await;
    }
}

#[tokio::test]
async fn amounts_beyond_the_schema_are_refused_not_truncated() {
    for fresh in fresh_stores().await {
        let error = fresh
            .store
            .commit_receipts(&[receipt(Pubkey::new_unique(), 1, u64::MAX)])
            .await;
        assert!(error.is_err());
        fresh.finish().await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_file_is_readable_by_the_facilitators_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facilitator.db");
    let store = Store::open(&path.display().to_string()).await.unwrap();
    store
        .commit_receipts(&[receipt(Pubkey::new_unique(), 1, 10)])
        .await
        .unwrap();
    for file in ["facilitator.db", "facilitator.db-wal", "facilitator.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    store.close().await;
}

#[tokio::test]
async fn a_commit_that_fails_on_a_full_disk_leaves_no_connection_inside_a_transaction() {
    let Some(disk) = crate::support::TinyDisk::mount(2 * 1024) else {
        return;
    };
    let url = disk.path("store.db").display().to_string();
    let store = Store::open(&url).await.unwrap();
    disk.fill(32 * 1024);
    let mut committed = Vec::new();
    let mut failures = 0;
    for cumulative in 1..=2_000u64 {
        let batch = vec![receipt(Pubkey::new_unique(), 1, cumulative)];
        match store.commit_receipts(&batch).await {
            Ok(stored) => {
                assert_eq!(stored, [true]);
                committed.push(batch[0].allowance);
            }
            Err(_) => failures += 1,
        }
        if failures == 5 {
            break;
        }
    }
    assert_eq!(failures, 5, "the disk never filled");
    disk.free();
    for cumulative in 1..=20u64 {
        let batch = vec![receipt(Pubkey::new_unique(), 1, cumulative)];
        store.commit_receipts(&batch).await.unwrap();
        committed.push(batch[0].allowance);
    }
    // A second reader sees every commit that returned Ok.
    let reader = Store::open(&url).await.unwrap();
    for allowance in &committed {
        assert!(
            reader.watermark(allowance).await.unwrap().is_some(),
            "{allowance}: answered as committed, not visible to another reader"
        );
    }
    reader.close().await;
    store.close().await;
}
