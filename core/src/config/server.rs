//! [`ServerConfig`]: what only servers read (`config.server`), apart from
//! the settings of the library's own modules.

use std::net::SocketAddr;
use std::time::Duration;

use crate::setting::{ConfigError, Reason};

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
    /// Where the example servers answer `GET /metrics` (Prometheus) on an
    /// address of their own; `None` (the default) serves it on
    /// [`ServerConfig::bind`] with the API. When set, the main address
    /// answers `/metrics` with 404.
    pub metrics_bind: Option<SocketAddr>,
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
            metrics_bind: None,
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
    /// Refuses a wildcard CORS origin, and a database schema that is not a
    /// plain name or is set for SQLite ([`PoolConfig::validate_for`]), and a
    /// metrics address that is the API's own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.metrics_bind == Some(self.bind) && self.bind.port() != 0 {
            return Err(ConfigError::invalid(
                "server.metrics_bind",
                "is the API's own address (server.bind): pick another port, or unset it \
                 to serve /metrics with the API",
            ));
        }
        self.pool.validate_for(&self.database_url)?;
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
    /// Where Agora's tables live, apart from an app's own tables of the same
    /// names (`users`, `posts`, ...) in the same database; `None` (the
    /// default) uses the database as the URL gives it. On PostgreSQL a
    /// schema of the URL's database (created if missing; every connection's
    /// `search_path`); on MySQL/MariaDB a database beside the URL's
    /// (created if missing, `utf8mb4`). SQLite has no schemas: give Agora a
    /// database file of its own instead (setting it there is refused).
    /// Lowercase ASCII letters, digits and `_`, starting with a letter or
    /// `_`, at most 63 characters (PostgreSQL's limit).
    pub schema: Option<String>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// The longest [`PoolConfig::schema`]: PostgreSQL's identifier limit (MySQL's
/// is 64).
const MAX_SCHEMA_LEN: usize = 63;

/// Schema names refused because the databases keep them for themselves.
const SYSTEM_SCHEMAS: &[&str] = &["information_schema", "performance_schema", "mysql", "sys"];

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

    /// Refuses (naming `server.pool.schema`) a [`schema`](Self::schema)
    /// that is not a plain name (lowercase ASCII letters, digits and `_`,
    /// starting with a letter or `_`, at most 63 characters; not a system schema: `pg_*`, `information_schema`,
    /// `mysql`, `performance_schema`, `sys`), or that is set for the SQLite
    /// database at `database_url`, which has no schemas.
    pub fn validate_for(&self, database_url: &str) -> Result<(), ConfigError> {
        let Some(name) = &self.schema else {
            return Ok(());
        };
        let invalid = |reason: Reason| Err(ConfigError::invalid("server.pool.schema", reason));
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        if !plain || name.len() > MAX_SCHEMA_LEN {
            return invalid(Reason::from(format!(
                "{name:?} is not a schema name: use 1 to {MAX_SCHEMA_LEN} lowercase ASCII \
                 letters, digits and `_`, starting with a letter or `_` (e.g. agora)"
            )));
        }
        if name.starts_with("pg_") || SYSTEM_SCHEMAS.contains(&name.as_str()) {
            return invalid(Reason::from(format!(
                "{name:?} is a database's own schema: pick another name (e.g. agora)"
            )));
        }
        let scheme = database_url.split(':').next().unwrap_or_default();
        if scheme.eq_ignore_ascii_case("sqlite") {
            return invalid(
                Reason::from(
                    "SQLite has no schemas: unset it and give Agora a database file of its \
                     own instead (",
                )
                .setting("server.database_url")
                .then(
                    ", e.g. sqlite://agora.db beside the app's file); SQLite resolves unqualified \
                     table names in the main file first, so an attached one cannot keep \
                     Agora's tables apart",
                ),
            );
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::PoolConfig;

    fn schema(name: &str, url: &str) -> Result<(), String> {
        let pool = PoolConfig {
            schema: Some(name.to_owned()),
            ..PoolConfig::default()
        };
        pool.validate_for(url).map_err(|e| e.to_string())
    }

    const PG: &str = "postgres://app@db/app";

    #[test]
    fn plain_schema_names_are_accepted() {
        for name in ["agora", "_agora", "agora_2", &"a".repeat(63)] {
            assert_eq!(schema(name, PG), Ok(()), "{name}");
            assert_eq!(schema(name, "mysql://root@db/app"), Ok(()), "{name}");
        }
        assert!(PoolConfig::default().validate_for("sqlite://a.db").is_ok());
    }

    #[test]
    fn unusable_schema_names_are_refused_naming_the_setting() {
        for name in [
            "",
            "Agora",
            "2agora",
            "ago-ra",
            "ago ra",
            "agora\"; DROP TABLE users; --",
            "agorä",
            &"a".repeat(64),
        ] {
            let err = schema(name, PG).expect_err(name);
            assert!(err.starts_with("server.pool.schema: "), "{err}");
            assert!(err.contains("lowercase ASCII letters"), "{err}");
        }
        for name in [
            "pg_catalog",
            "pg_agora",
            "information_schema",
            "mysql",
            "sys",
        ] {
            let err = schema(name, PG).expect_err(name);
            assert!(err.contains("a database's own schema"), "{err}");
        }
    }

    #[test]
    fn a_schema_on_sqlite_is_refused_with_the_fix() {
        let err = schema("agora", "sqlite://app.db").expect_err("refused");
        assert!(
            err.starts_with("server.pool.schema: SQLite has no schemas"),
            "{err}"
        );
        assert!(err.contains("server.database_url"), "{err}");
    }

    #[test]
    fn the_schema_is_read_from_agora_db_schema() {
        let read = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            crate::config::env::read(move |name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
        };
        let pg = ("AGORA_DATABASE_URL", PG);
        let config = read(&[pg, ("AGORA_DB_SCHEMA", " agora ")]).expect("read");
        assert_eq!(config.server.pool.schema.as_deref(), Some("agora"));
        assert_eq!(read(&[pg]).expect("read").server.pool.schema, None);
        let err = read(&[pg, ("AGORA_DB_SCHEMA", "My-App")])
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with("AGORA_DB_SCHEMA: "), "{err}");
        let err = read(&[("AGORA_DB_SCHEMA", "agora")])
            .expect_err("refused on the default SQLite file")
            .to_string();
        assert!(
            err.starts_with("AGORA_DB_SCHEMA: SQLite has no schemas")
                && err.contains("AGORA_DATABASE_URL"),
            "{err}"
        );
    }
}
