//! Throttling counters in Redis (feature `redis`), so that several app
//! servers share them: a client cannot spread its guesses over servers.
//!
//! Each counter is a hash (`count`, `last` in Redis server milliseconds) with
//! a TTL equal to its window; updates are single Lua scripts, so concurrent
//! hits from any server are all counted. Times come from the Redis server's
//! clock, so app servers' clocks do not matter. If Redis is unreachable,
//! throttled operations (login, registration) fail with 503 rather than go
//! unthrottled.

use std::time::Duration;

use agora_core::storage::{StorageError, StorageResult};
use agora_core::throttle::{Count, ThrottleStore};
use async_trait::async_trait;
use redis::aio::ConnectionManager;

const HIT: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', now)
if ARGV[2] == '1' or count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, 0, redis.call('PTTL', KEYS[1])}
";

const PEEK: &str = r"
local count = redis.call('HGET', KEYS[1], 'count')
if not count then return false end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or now)
return {tonumber(count), now - last, redis.call('PTTL', KEYS[1])}
";

/// Throttling counters in Redis.
#[derive(Clone)]
pub struct RedisThrottleStore {
    connection: ConnectionManager,
    prefix: String,
    hit: redis::Script,
    peek: redis::Script,
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

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
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
            hit: redis::Script::new(HIT),
            peek: redis::Script::new(PEEK),
        })
    }
}

#[async_trait]
impl ThrottleStore for RedisThrottleStore {
    async fn hit(&self, key: &str, window: Duration, sliding: bool) -> StorageResult<Count> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let (count, since_last, ttl): (u64, i64, i64) = self
            .hit
            .key(format!("{}{key}", self.prefix))
            .arg(window_ms)
            .arg(if sliding { "1" } else { "0" })
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(Count {
            count,
            since_last: millis(since_last),
            resets_in: millis(ttl),
        })
    }

    async fn peek(&self, key: &str) -> StorageResult<Option<Count>> {
        let found: Option<(u64, i64, i64)> = self
            .peek
            .key(format!("{}{key}", self.prefix))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(unavailable)?;
        Ok(found.map(|(count, since_last, ttl)| Count {
            count,
            since_last: millis(since_last),
            resets_in: millis(ttl),
        }))
    }

    async fn reset(&self, key: &str) -> StorageResult<()> {
        redis::cmd("DEL")
            .arg(format!("{}{key}", self.prefix))
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(unavailable)
    }
}
