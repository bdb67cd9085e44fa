//! Throttling counters in Redis (feature `redis`), so that several app
//! servers share them: a client cannot spread its guesses over servers.
//!
//! Each counter is a hash (`count`, `last` in Redis server milliseconds) with
//! a TTL equal to its window; updates are single Lua scripts, so concurrent
//! hits from any server are all counted. Times come from the Redis server's
//! clock, so app servers' clocks do not matter. If Redis is unreachable,
//! throttled operations (login, registration) fail with 503 rather than go
//! unthrottled.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_core::error::DependencyDown;
use agora_core::storage::{StorageError, StorageResult};
use agora_core::throttle::{Count, ThrottleStore};
use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, Value};

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
    connection: Connection,
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
            hit: redis::Script::new(HIT),
            peek: redis::Script::new(PEEK),
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
}
