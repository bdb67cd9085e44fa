//! # agora-sqlx
//!
//! SQL storage for Agora on [sqlx](https://docs.rs/sqlx): implements
//! [`agora_core::storage::Store`] for SQLite, PostgreSQL and MySQL/MariaDB,
//! one module per backend behind a cargo feature of the same name (all on by
//! default), and owns each backend's migrations.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_sqlx::ConnectError> {
//! // Picks the backend from the scheme and runs its migrations.
//! let store = agora_sqlx::connect("sqlite://agora.db").await?;
//! let store = agora_sqlx::connect("postgres://app@db.internal/agora").await?;
//! # Ok(()) }
//! ```

/// A post query: posts joined with their owner and vote count, then `$tail`
/// (the same columns on every backend). `$join` is `JOIN`, or MySQL's
/// `STRAIGHT_JOIN`, which keeps MariaDB walking posts in id order instead of
/// scanning users and sorting every post for one page.
macro_rules! select_posts {
    ($tail:literal) => {
        select_posts!("JOIN", $tail)
    };
    ($join:literal, $tail:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.published, p.created_at, p.owner_id, ",
            "u.email AS owner_email, u.created_at AS owner_created_at, ",
            "(SELECT COUNT(*) FROM votes v WHERE v.post_id = p.id) AS votes ",
            "FROM posts p ",
            $join,
            " users u ON u.id = p.owner_id ",
            $tail
        )
    };
}

/// The session columns of `sessions s`, in `rows::SessionRow`'s names.
macro_rules! session_columns {
    () => {
        "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip"
    };
}

mod error;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
mod rows;
mod sessions;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use agora_core::storage::Store;
use agora_core::{Agora, Config};

/// Why [`connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL's scheme names no database Agora knows.
    #[error(
        "unsupported database URL {0:?}: expected sqlite://, postgres:// or mysql:// \
         (e.g. sqlite://agora.db)"
    )]
    UnsupportedUrl(String),
    /// The backend exists but this build left it out.
    #[error("{0} support is not compiled in: enable agora-sqlx's \"{0}\" feature")]
    BackendDisabled(&'static str),
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(#[from] agora_core::config::ConfigError),
    /// Redis (`AGORA_REDIS_URL`) is unusable (a bad URL; Redis being down
    /// does not stop a server).
    #[error("cannot use Redis at {url}: {source}")]
    Redis {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        source: agora_core::storage::StorageError,
    },
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with
    /// "unavailable" (503) instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::from(&Config::default())
    }
}

impl From<&Config> for PoolConfig {
    fn from(config: &Config) -> Self {
        PoolConfig {
            max_connections: config.db_max_connections,
            acquire_timeout: config.db_acquire_timeout,
        }
    }
}

/// The database behind a URL, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:`
    Sqlite,
    /// `postgres:` or `postgresql:`
    Postgres,
    /// `mysql:` or `mariadb:`
    MySql,
}

impl Backend {
    /// The backend a URL names, if any.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            _ => None,
        }
    }

    /// The backend's (and its cargo feature's) name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

/// Opens the database named by `url` (`sqlite://`, `postgres://`,
/// `mysql://`), runs its migrations, and returns the store. A SQLite file is
/// created when missing.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, ConnectError> {
    connect_with(url, &PoolConfig::default()).await
}

/// [`connect`] to `config.database_url` with the pool settings of `config`.
pub async fn connect_config(config: &Config) -> Result<Arc<dyn Store>, ConnectError> {
    connect_with(&config.database_url, &PoolConfig::from(config)).await
}

/// Everything a server needs from `config`: the database (connected and
/// migrated), throttling counters in Redis when `config.redis_url` is set
/// (else in process), and the [`Agora`] services over them.
pub async fn open(config: &Config) -> Result<Agora, ConnectError> {
    let store = connect_config(config).await?;
    let Some(url) = &config.redis_url else {
        return Ok(Agora::new(store, config)?);
    };
    #[cfg(feature = "redis")]
    {
        // Starts while Redis is down (logins answer 503 and `/health` names
        // Redis until it is back); only an unusable URL stops it.
        let counters = redis::RedisThrottleStore::connect_with(
            url,
            &config.redis_prefix,
            config.redis_timeout,
        )
        .await
        .map_err(|source| ConnectError::Redis {
            url: redact_password(url),
            source,
        })?;
        Ok(Agora::with_throttle_store(
            store,
            Arc::new(counters),
            config,
        )?)
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(ConnectError::BackendDisabled("redis"))
    }
}

/// [`connect`] with explicit pool settings.
pub async fn connect_with(url: &str, pool: &PoolConfig) -> Result<Arc<dyn Store>, ConnectError> {
    let backend =
        Backend::from_url(url).ok_or_else(|| ConnectError::UnsupportedUrl(redact_password(url)))?;
    match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(url, pool).await?)),
        #[cfg(feature = "postgres")]
        Backend::Postgres => Ok(Arc::new(postgres::PgStore::connect(url, pool).await?)),
        #[cfg(feature = "mysql")]
        Backend::MySql => Ok(Arc::new(mysql::MySqlStore::connect(url, pool).await?)),
        #[allow(unreachable_patterns)]
        disabled => Err(ConnectError::BackendDisabled(disabled.name())),
    }
}

/// The URL with any password replaced, safe to print.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db:5432/agora"),
            "postgres://app:***@db:5432/agora"
        );
        assert_eq!(redact_password("sqlite://agora.db"), "sqlite://agora.db");
    }

    #[test]
    fn backends_are_picked_by_scheme() {
        assert_eq!(Backend::from_url("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgres://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mariadb://h/db"), Some(Backend::MySql));
        assert_eq!(Backend::from_url("MySQL://h/db"), Some(Backend::MySql));
        assert_eq!(Backend::from_url("agora.db"), None);
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_clearly() {
        let err = connect("oracle://x").await.err().expect("refused");
        assert!(err.to_string().contains("unsupported database URL"));
    }
}
