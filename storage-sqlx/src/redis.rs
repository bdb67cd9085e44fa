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

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_core::error::DependencyDown;
use agora_core::storage::{StorageError, StorageResult};
use agora_core::throttle::{Reservation, Rule, ThrottleStore};
use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, Value};

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
    connection: Connection,
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

/// How long [`RedisThrottleStore::connect`] waits for Redis by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

impl RedisThrottleStore {
    /// [`RedisThrottleStore::connect_with`] with the default timeout (500 ms).
    pub async fn connect(url: &str, prefix: &str) -> StorageResult<Self> {
        Self::connect_with(url, prefix, DEFAULT_TIMEOUT).await
    }

    /// A store on `url` (`redis://127.0.0.1:6379`) whose keys start with
    /// `prefix` (e.g. `agora:throttle:`). Fails only on an unusable URL: when
    /// Redis does not answer, it logs a warning and returns anyway, and the
    /// connection is made when Redis is back (until then every call fails
    /// with [`StorageError::Unavailable`]).
    ///
    /// Connecting and every command each take at most `timeout`; a
    /// connection that failed or timed out is replaced by a new one on the
    /// next call, so the store recovers by itself once Redis answers again.
    pub async fn connect_with(url: &str, prefix: &str, timeout: Duration) -> StorageResult<Self> {
        let client = redis::Client::open(url).map_err(|e| StorageError::Other(Box::new(e)))?;
        let store = RedisThrottleStore {
            connection: Connection::new(client, timeout)?,
            prefix: prefix.to_owned(),
            reserve: redis::Script::new(RESERVE),
            release: redis::Script::new(RELEASE),
        };
        if let Err(e) = store.ping().await {
            tracing::warn!(
                error = %e,
                cause = ?std::error::Error::source(&e).map(ToString::to_string),
                "Redis does not answer: logins and registrations answer 503 until it does"
            );
        }
        Ok(store)
    }
}

/// A Redis connection with deadlines that replaces itself when it fails.
///
/// Wraps redis' [`ConnectionManager`] (lazy, connection and response
/// timeouts, no retry loop so that a refused connection fails at once).
/// The manager reconnects only after errors it deems fatal; a response
/// timeout is not one of them, yet after one (Redis or the link went silent)
/// the multiplexed connection can stay out of step for good: the answers to
/// the lost commands never come, so later answers are matched to the wrong
/// requests. Any failure other than an answer from Redis therefore drops the
/// manager for a fresh, lazily connecting one.
#[derive(Clone)]
struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    config: ConnectionManagerConfig,
    timeout: Duration,
    /// The manager in use and its generation (so that concurrent failures
    /// replace it once).
    current: Mutex<(u64, ConnectionManager)>,
}

impl Connection {
    fn new(client: redis::Client, timeout: Duration) -> StorageResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| StorageError::Other(Box::new(e)))?;
        Ok(Connection {
            shared: Arc::new(Shared {
                client,
                config,
                timeout,
                current: Mutex::new((0, manager)),
            }),
        })
    }

    fn current(&self) -> (u64, ConnectionManager) {
        let guard = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (guard.0, guard.1.clone())
    }

    /// Replaces generation `failed` by a fresh lazy manager (once).
    fn replace(&self, failed: u64) {
        let fresh = match ConnectionManager::new_lazy_with_config(
            self.shared.client.clone(),
            self.shared.config.clone(),
        ) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!(error = %e, "cannot create a Redis connection manager");
                return;
            }
        };
        let mut guard = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if guard.0 == failed {
            *guard = (failed.wrapping_add(1), fresh);
        }
    }

    /// Runs `call` on the current manager within the deadline; replaces the
    /// manager after any failure that is not an answer from Redis.
    async fn run<T>(
        &self,
        call: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let (generation, mut manager) = self.current();
        let result = match tokio::time::timeout(self.shared.timeout, call(&mut manager)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Redis did not answer in time",
            ))),
        };
        if let Err(e) = &result
            && (e.is_io_error() || e.is_timeout() || e.is_unrecoverable_error())
        {
            self.replace(generation);
        }
        result
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.run(async |manager: &mut ConnectionManager| manager.send_packed_command(cmd).await)
                .await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.run(async |manager: &mut ConnectionManager| {
                manager.send_packed_commands(pipeline, offset, count).await
            })
            .await
        })
    }

    fn get_db(&self) -> i64 {
        self.shared
            .client
            .get_connection_info()
            .redis_settings()
            .db()
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

    async fn ping(&self) -> StorageResult<()> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|e| {
                StorageError::Unavailable(Box::new(DependencyDown {
                    name: "Redis",
                    cause: Box::new(e),
                }))
            })
    }

    fn dependency(&self) -> Option<&'static str> {
        Some("redis")
    }
}
