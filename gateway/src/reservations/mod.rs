//! Reservations: every payment, proof and sign-in is used once.
//!
//! A request reserves the identities of what it pays with before anything
//! else happens ([`Reservations::reserve`]). A second request carrying the same
//! payment then finds it in flight or used, and is refused before the upstream
//! is called. When the upstream failed or the payment was refused, the
//! reservation is released; when the answer is served, it is consumed and
//! kept until the proof that paid for it expires.
//!
//! Three stores: in this process only (tests, benchmarks), a state file
//! (the default: one gateway; consumed ids survive a restart) and Redis
//! (several gateways share it).

mod local;
mod redis;
mod used_log;

use std::path::Path;

pub use local::LocalReservations;
pub use redis::RedisReservations;
pub use used_log::DEFAULT_FILE as DEFAULT_STATE_FILE;

/// A payment's identity: a domain-separated SHA-256 (see [`crate::identity`]).
pub type PaymentId = [u8; 32];

/// What [`Reservations::reserve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved for this request.
    Reserved,
    /// Another request is using it now.
    InFlight,
    /// Already used for an answer.
    Used,
}

/// The store could not be reached or written.
#[derive(Debug, thiserror::Error)]
#[error("reservations: {0}")]
pub struct ReservationError(pub String);

/// Where reservations live.
pub enum Reservations {
    /// In this process, optionally kept in a file.
    Local(LocalReservations),
    /// In Redis, shared by several gateways.
    Redis(RedisReservations),
}

impl Reservations {
    /// In memory only: a restart forgets what was used.
    pub fn memory() -> Self {
        Self::Local(LocalReservations::memory())
    }

    /// In memory, with consumed ids kept in the state file at `path`
    /// (an append-only log, ADR 0026; one gateway at a time).
    pub async fn file(path: &Path, now: i64) -> Result<Self, ReservationError> {
        Ok(Self::Local(LocalReservations::file(path, now).await?))
    }

    /// In Redis at `url`, keys starting with `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, ReservationError> {
        Ok(Self::Redis(RedisReservations::connect(url, prefix).await?))
    }

    /// Reserves every id in `ids` until `until` (unix seconds), or none of
    /// them: [`Reservation::Reserved`] only if none was in flight or used.
    pub async fn reserve(
        &self,
        ids: &[PaymentId],
        until: i64,
        now: i64,
    ) -> Result<Reservation, ReservationError> {
        match self {
            Self::Local(store) => Ok(store.reserve(ids, until, now)),
            Self::Redis(store) => store.reserve(ids, until, now).await,
        }
    }

    /// Gives reserved (not consumed) ids back, so the same payment may be tried again.
    pub async fn release(&self, ids: &[PaymentId]) -> Result<(), ReservationError> {
        match self {
            Self::Local(store) => {
                store.release(ids);
                Ok(())
            }
            Self::Redis(store) => store.release(ids).await,
        }
    }

    /// Marks `ids` used until `until`; when this returns `Ok`, a restart
    /// (file) or another gateway (Redis) sees them as used.
    pub async fn consume(&self, ids: &[PaymentId], until: i64) -> Result<(), ReservationError> {
        match self {
            Self::Local(store) => store.consume(ids, until),
            Self::Redis(store) => store.consume(ids, until).await,
        }
    }

    /// Reserves and consumes `id` at once (a sign-in nonce): `true` on first use.
    pub async fn use_once(
        &self,
        id: PaymentId,
        until: i64,
        now: i64,
    ) -> Result<bool, ReservationError> {
        match self.reserve(&[id], until, now).await? {
            Reservation::Reserved => {}
            Reservation::InFlight | Reservation::Used => return Ok(false),
        }
        if let Err(error) = self.consume(&[id], until).await {
            self.release(&[id]).await?;
            return Err(error);
        }
        Ok(true)
    }

    /// Whether the store can be written now (readiness).
    pub async fn check(&self) -> Result<(), ReservationError> {
        match self {
            Self::Local(store) => store.check(),
            Self::Redis(store) => store.check().await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    async fn stores(dir: &Path) -> Vec<(&'static str, Reservations)> {
        let mut stores = vec![
            ("memory", Reservations::memory()),
            (
                "file",
                Reservations::file(&dir.join("reservations.db"), NOW)
                    .await
                    .unwrap(),
            ),
        ];
        if let Some(url) = std::env::var("PAYTAB_TEST_REDIS_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            let prefix = format!("paytab:test:{}:", rand_suffix());
            stores.push(("redis", Reservations::redis(&url, &prefix).await.unwrap()));
        }
        stores
    }

    fn rand_suffix() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        )
    }

    #[tokio::test]
    async fn a_payment_is_reserved_once_then_in_flight_then_used() {
        let dir = tempfile::tempdir().unwrap();
        // Redis expires keys by its own clock: reservations must lie ahead of it.
        let now = paytab_protocol::clock::unix_now();
        for (name, store) in stores(dir.path()).await {
            let ids = [[1; 32], [2; 32]];
            assert_eq!(
                store.reserve(&ids, now + 60, now).await.unwrap(),
                Reservation::Reserved,
                "{name}"
            );
            assert_eq!(
                store.reserve(&ids, now + 60, now).await.unwrap(),
                Reservation::InFlight,
                "{name}"
            );
            assert_eq!(
                store
                    .reserve(&[[2; 32], [3; 32]], now + 60, now)
                    .await
                    .unwrap(),
                Reservation::InFlight,
                "{name}: one shared id is enough"
            );
            assert_eq!(
                store.reserve(&[[3; 32]], now + 60, now).await.unwrap(),
                Reservation::Reserved,
                "{name}: a refused reservation takes nothing"
            );
            store.consume(&ids, now + 300).await.unwrap();
            assert_eq!(
                store.reserve(&ids, now + 60, now).await.unwrap(),
                Reservation::Used,
                "{name}"
            );
            assert_eq!(
                store.reserve(&[[1; 32]], now + 60, now).await.unwrap(),
                Reservation::Used,
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn a_released_payment_may_be_tried_again_but_a_used_one_is_not_released() {
        let dir = tempfile::tempdir().unwrap();
        // Redis expires keys by its own clock: reservations must lie ahead of it.
        let now = paytab_protocol::clock::unix_now();
        for (name, store) in stores(dir.path()).await {
            assert_eq!(
                store.reserve(&[[4; 32]], now + 60, now).await.unwrap(),
                Reservation::Reserved
            );
            store.release(&[[4; 32]]).await.unwrap();
            assert_eq!(
                store.reserve(&[[4; 32]], now + 60, now).await.unwrap(),
                Reservation::Reserved,
                "{name}"
            );
            store.consume(&[[4; 32]], now + 300).await.unwrap();
            store.release(&[[4; 32]]).await.unwrap();
            assert_eq!(
                store.reserve(&[[4; 32]], now + 60, now).await.unwrap(),
                Reservation::Used,
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn a_sign_in_nonce_is_used_once() {
        let dir = tempfile::tempdir().unwrap();
        // Redis expires keys by its own clock: reservations must lie ahead of it.
        let now = paytab_protocol::clock::unix_now();
        for (name, store) in stores(dir.path()).await {
            assert!(
                store.use_once([5; 32], now + 60, now).await.unwrap(),
                "{name}"
            );
            assert!(
                !store.use_once([5; 32], now + 60, now).await.unwrap(),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn local_reservations_forget_what_expired() {
        let store = LocalReservations::memory();
        assert_eq!(
            store.reserve(&[[6; 32]], NOW + 10, NOW),
            Reservation::Reserved
        );
        assert_eq!(
            store.reserve(&[[6; 32]], NOW + 10, NOW + 11),
            Reservation::Reserved,
            "a stale reservation lapses"
        );
        store.consume(&[[6; 32]], NOW + 20).unwrap();
        assert_eq!(
            store.reserve(&[[6; 32]], NOW + 30, NOW + 19),
            Reservation::Used
        );
        assert_eq!(
            store.reserve(&[[7; 32]], NOW + 30, NOW + 21),
            Reservation::Reserved
        );
        assert_eq!(store.len(), 1, "expired ids are swept");
    }

    #[tokio::test]
    async fn readiness_probes_from_anyone_write_to_the_state_file_at_most_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.state");
        let store = Reservations::file(&path, NOW).await.unwrap();
        let started = std::time::Instant::now();
        for _ in 0..1_000 {
            store.check().await.unwrap();
        }
        let seconds = started.elapsed().as_secs() + 1;
        let segment = dir.path().join("gateway.state.1");
        let written = std::fs::metadata(&segment).unwrap().len();
        assert!(
            written <= 48 * (seconds + 1),
            "{written} bytes for 1,000 probes in under {seconds} s"
        );
    }

    #[tokio::test]
    async fn consumed_ids_in_a_file_survive_reopening_and_pending_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reservations.db");
        {
            let store = Reservations::file(&path, NOW).await.unwrap();
            store.reserve(&[[8; 32]], NOW + 60, NOW).await.unwrap();
            store.consume(&[[8; 32]], NOW + 300).await.unwrap();
            store.reserve(&[[9; 32]], NOW + 60, NOW).await.unwrap();
            store.use_once([10; 32], NOW + 10, NOW).await.unwrap();
        }
        let store = Reservations::file(&path, NOW + 20).await.unwrap();
        assert_eq!(
            store.reserve(&[[8; 32]], NOW + 80, NOW + 20).await.unwrap(),
            Reservation::Used
        );
        assert_eq!(
            store.reserve(&[[9; 32]], NOW + 80, NOW + 20).await.unwrap(),
            Reservation::Reserved,
            "a reservation belongs to the process that made it"
        );
        assert_eq!(
            store
                .reserve(&[[10; 32]], NOW + 80, NOW + 20)
                .await
                .unwrap(),
            Reservation::Reserved,
            "expired ids are not loaded"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "only the gateway's user reads its file"
            );
        }
    }
}
