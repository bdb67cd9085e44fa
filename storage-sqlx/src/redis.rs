//! Throttling counters in Redis (feature `redis`), so that several app
//! servers share them: a client cannot spread its guesses over servers.
//!
//! Each counter is a hash (`count`, `last` in Redis server milliseconds) with
//! a TTL equal to its window; a reservation (check and count) is one Lua
//! script, so however many servers reserve at once, no more than the limit
//! are granted. Times come from the Redis server's
//! clock, so app servers' clocks do not matter. If Redis is unreachable,
//! throttled operations (login, registration) fail with 503 rather than go
//! unthrottled.

use std::time::Duration;

use agora_core::storage::{StorageError, StorageResult};
use agora_core::throttle::{Reservation, Rule, ThrottleStore};
use async_trait::async_trait;
use redis::aio::ConnectionManager;

/// [`Rule::wait`], then the count, in one step. `ARGV`: max, window (ms),
/// sliding (`1`/`0`), back-off base (ms, `0` for none). Returns
/// `{1, 0}` when granted, `{0, wait_ms}` when refused.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local max, window, base = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if count >= max then
  local wait
  if base == 0 then
    wait = redis.call('PTTL', KEYS[1])
  else
    local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
    local backoff = math.min(base * 2 ^ math.min(count - max, 20), window)
    wait = backoff - (now - last)
  end
  if wait > 0 then return {0, math.floor(wait)} end
end
count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', now)
if ARGV[3] == '1' or count == 1 then redis.call('PEXPIRE', KEYS[1], window) end
return {1, 0}
";

/// Gives one attempt back; a counter at zero goes.
const RELEASE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'count', -1) <= 0 then redis.call('DEL', KEYS[1]) end
return 1
";

/// Throttling counters in Redis.
#[derive(Clone)]
pub struct RedisThrottleStore {
    connection: ConnectionManager,
    prefix: String,
    reserve: redis::Script,
    release: redis::Script,
}

impl std::fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StorageError {
    StorageError::Unavailable(Box::new(e))
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl RedisThrottleStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`); keys start with
    /// `prefix` (e.g. `agora:throttle:`). The connection reconnects by itself.
    pub async fn connect(url: &str, prefix: &str) -> StorageResult<Self> {
        let client = redis::Client::open(url).map_err(|e| StorageError::Other(Box::new(e)))?;
        let connection = ConnectionManager::new(client).await.map_err(unavailable)?;
        Ok(RedisThrottleStore {
            connection,
            prefix: prefix.to_owned(),
            reserve: redis::Script::new(RESERVE),
            release: redis::Script::new(RELEASE),
        })
    }
}

#[async_trait]
impl ThrottleStore for RedisThrottleStore {
    async fn reserve(&self, key: &str, rule: &Rule) -> StorageResult<Reservation> {
        let (granted, wait_ms): (i64, i64) = self
            .reserve
            .key(format!("{}{key}", self.prefix))
            .arg(rule.max)
            .arg(millis_of(rule.window).max(1))
            .arg(if rule.sliding { "1" } else { "0" })
            .arg(rule.backoff_base.map_or(0, millis_of))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(if granted == 1 {
            Reservation::Granted
        } else {
            Reservation::Refused {
                retry_after: Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)),
            }
        })
    }

    async fn release(&self, key: &str) -> StorageResult<()> {
        self.release
            .key(format!("{}{key}", self.prefix))
            .invoke_async::<i64>(&mut self.connection.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn reset(&self, key: &str) -> StorageResult<()> {
        redis::cmd("DEL")
            .arg(format!("{}{key}", self.prefix))
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(unavailable)
    }
}
