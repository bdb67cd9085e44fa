//! [`ServerConfig`]: what only servers read (`config.server`), apart from
//! the settings of the library's own modules.

use std::net::SocketAddr;
use std::time::Duration;

use crate::setting::ConfigError;

/// The settings of a server running Agora: where its database and Redis
/// are and how it uses them (read by `agora_sqlx::open`), where it listens
/// and which requests it takes (`agora_axum::serve`, the rocket app), and
/// the timeouts and limits that stop slow or silent clients from holding
/// connections, or a shutdown, for ever. Apps that mount Agora's router in
/// their own server set their own timeouts; the body limit applies to
/// Agora's routes wherever they are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The database: `sqlite://agora.db` by default (created on first start).
    pub database_url: String,
    /// The database connection pool.
    pub pool: PoolConfig,
    /// Keep throttling counters in Redis, shared by every server.
    pub redis: RedisConfig,
    /// Where the example servers listen, `127.0.0.1:8000` by default.
    pub bind: SocketAddr,
    /// Allowed CORS origins; empty (the default) disables CORS. `*` is refused.
    pub cors_origins: Vec<String>,
    /// The largest request body in bytes, 64 KiB by default (larger: 413).
    pub body_limit: usize,
    /// How long a client may take to send a request's line and headers,
    /// counted from the connection's start or from the first byte of a
    /// later request on a kept-alive connection (`10s`). Past it the
    /// connection is closed.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's whole body once its
    /// headers are in (`30s`). Past it: 408.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request
    /// (`75s`; keep it above a load balancer's own idle timeout, 60 s on
    /// AWS ALB). Past it the connection is closed.
    pub idle_timeout: Duration,
    /// Most client connections served at once (`512`); further clients
    /// wait in the listen backlog until one ends. Keep it under the
    /// open-file limit (`ulimit -n`) minus the database pool, so the server
    /// never runs out of descriptors.
    pub max_connections: usize,
    /// On SIGINT/SIGTERM, how long requests in flight may still run
    /// (`10s`); then the remaining connections are dropped and the server
    /// exits.
    pub shutdown_timeout: Duration,
    /// How long start-up (and the `migrate` command) waits for another
    /// instance's migration lock (`60s`) before failing, on PostgreSQL and
    /// MySQL; on SQLite, for another connection's write transaction.
    pub migration_lock_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            database_url: "sqlite://agora.db".to_owned(),
            pool: PoolConfig::default(),
            redis: RedisConfig::default(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(10),
            migration_lock_timeout: Duration::from_secs(60),
        }
    }
}

impl ServerConfig {
    /// Refuses a wildcard CORS origin.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cors_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::invalid(
                "server.cors_origins",
                "list explicit origins; `*` is not allowed",
            ));
        }
        Ok(())
    }
}

/// Database connection pool settings (`config.server.pool`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections open at once, per server (10). Post listings and
    /// searches may use at most half of them, so logins, writes and health
    /// checks always find one.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with
    /// "unavailable" (503) instead of hanging (`3s`).
    pub acquire_timeout: Duration,
    /// The longest one statement may run (`5s`): the database cancels it
    /// (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`), and a storage call with no answer after
    /// [`PoolConfig::call_deadline`] is abandoned with a 503 and its
    /// connection closed, so a database host that goes silent cannot hold
    /// requests or connections.
    pub statement_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

impl PoolConfig {
    /// The longest a storage call may take before it is given up: waiting
    /// for a connection, then running.
    pub fn call_deadline(&self) -> Duration {
        self.acquire_timeout.saturating_add(self.statement_timeout)
    }

    /// After how long without a statement the database closes a session
    /// (PostgreSQL `idle_session_timeout`, MySQL `wait_timeout`): twice
    /// [`Self::call_deadline`]. A pool checks each connection given back to
    /// it with a ping that may have no time limit; if the link dies during
    /// that ping, only the database closing the session ends the wait and
    /// frees its place in the pool. Idle connections closed this way are
    /// replaced on their next use.
    pub fn session_idle_timeout(&self) -> Duration {
        self.call_deadline().saturating_mul(2)
    }
}

/// Throttling counters in Redis (`config.server.redis`), shared by every
/// server (read by servers built with `agora-sqlx`'s `redis` feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Redis's URL; `None` (the default) keeps counters in process. A server
    /// starts while Redis is down; logins and registrations answer 503 and
    /// `/health` names Redis until it is back.
    pub url: Option<String>,
    /// The start of every Redis key Agora writes (`agora:throttle:`), so
    /// that deployments sharing one Redis keep separate counters.
    pub prefix: String,
    /// The longest wait for Redis to connect or to answer one command
    /// (`500ms`); past it the request answers 503 and the connection is
    /// replaced.
    pub timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            prefix: "agora:throttle:".to_owned(),
            timeout: Duration::from_millis(500),
        }
    }
}
