//! Reservations in Redis, shared by several gateways. Each id is a key
//! holding `pending` (with the reservation's expiry) or `used` (until the
//! proof that paid expires). Reserving several ids and releasing them are Lua
//! scripts, so each runs atomically on the server.

use std::str::FromStr;

use super::{PaymentId, Reservation, ReservationError};

/// Reserves every key (`ARGV[1]`: expiry, unix milliseconds) unless one is
/// already set; answers `ok` or the state found.
const RESERVE: &str = r"
for _, key in ipairs(KEYS) do
  local state = redis.call('GET', key)
  if state then return state end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, 'pending', 'PXAT', ARGV[1])
end
return 'ok'
";

/// Deletes the keys still `pending`.
const RELEASE: &str = r"
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == 'pending' then redis.call('DEL', key) end
end
return 0
";

/// Reservations shared through Redis.
pub struct RedisReservations {
    connection: redis::aio::ConnectionManager,
    prefix: String,
    reserve: redis::Script,
    release: redis::Script,
}

fn failed(error: redis::RedisError) -> ReservationError {
    ReservationError(error.to_string())
}

impl RedisReservations {
    /// Connects to `url` (`redis://host:port/db`); keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, ReservationError> {
        let client = redis::Client::open(url).map_err(failed)?;
        let connection = client.get_connection_manager().await.map_err(failed)?;
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
            reserve: redis::Script::new(RESERVE),
            release: redis::Script::new(RELEASE),
        })
    }

    fn key(&self, id: &PaymentId) -> String {
        format!("{}{}", self.prefix, hex::encode(id))
    }

    pub(super) async fn reserve(
        &self,
        ids: &[PaymentId],
        until: i64,
        now: i64,
    ) -> Result<Reservation, ReservationError> {
        let mut invocation = self.reserve.prepare_invoke();
        for id in ids {
            invocation.key(self.key(id));
        }
        let state: String = invocation
            .arg(until.max(now + 1).saturating_mul(1000))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        state.parse()
    }

    pub(super) async fn release(&self, ids: &[PaymentId]) -> Result<(), ReservationError> {
        let mut invocation = self.release.prepare_invoke();
        for id in ids {
            invocation.key(self.key(id));
        }
        let _: i64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub(super) async fn consume(
        &self,
        ids: &[PaymentId],
        until: i64,
    ) -> Result<(), ReservationError> {
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for id in ids {
            pipeline
                .cmd("SET")
                .arg(self.key(id))
                .arg("used")
                .arg("EXAT")
                .arg(until.max(1))
                .ignore();
        }
        let () = pipeline
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub(super) async fn check(&self) -> Result<(), ReservationError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed)?;
        Ok(())
    }
}

impl FromStr for Reservation {
    type Err = ReservationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ok" => Ok(Self::Reserved),
            "pending" => Ok(Self::InFlight),
            "used" => Ok(Self::Used),
            other => Err(ReservationError(format!(
                "unexpected reservation state {other:?}"
            ))),
        }
    }
}
