//! # agora-sqlx
//!
//! SQL storage for Agora on [sqlx](https://docs.rs/sqlx): implements
//! [`agora_core::storage::Store`] for SQLite, PostgreSQL and MySQL/MariaDB,
//! one module per backend behind a cargo feature of the same name (all on by
//! default), and owns each backend's migrations.
//!
//! [`open`] builds an [`Agora`] from a whole [`Config`], honouring every
//! setting (database, pool, Redis); [`connect`] opens just a store.
//! [`migrate`] applies the pending migrations alone, and [`inspect_schema`]
//! reads their state (applied, pending, too new) without changing anything.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_sqlx::ConnectError> {
//! use agora_sqlx::PoolConfig;
//! // Picks the backend from the scheme and runs its migrations.
//! let store = agora_sqlx::connect("sqlite://agora.db", &PoolConfig::default()).await?;
//! let store = agora_sqlx::connect("postgres://app@db.internal/agora", &PoolConfig::default()).await?;
//! # Ok(()) }
//! ```

/// The columns of a user row (`rows::UserRow`), from `users` unaliased.
macro_rules! user_columns {
    () => {
        "id, email, created_at, username, bio, image, email_verified"
    };
}

/// The columns of a post row (`rows::PostRow`), from `posts p` and `users
/// u` (the same on every backend but for `$tags`, the dialect's expression
/// of the post's tags as one text): the post, its owner, its tags, its vote
/// count, and whether the viewer voted for it, which ends open: the
/// statement continues with the viewer's placeholder, then `) AS voted`.
/// `rows::PostRow` decodes them by position: change both together.
macro_rules! post_columns {
    ($tags:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.published, p.created_at, p.owner_id, ",
            "p.description, p.updated_at, ",
            "u.email AS owner_email, u.created_at AS owner_created_at, ",
            "u.username AS owner_username, u.bio AS owner_bio, u.image AS owner_image, ",
            "u.email_verified AS owner_email_verified, ",
            $tags,
            " AS tags, (SELECT COUNT(*) FROM votes v WHERE v.post_id = p.id) AS votes, ",
            "(SELECT COUNT(*) FROM votes vv WHERE vv.post_id = p.id AND vv.user_id = "
        )
    };
}

/// The columns of a comment row (`rows::CommentRow`), from `comments c` and
/// its author `users u`.
macro_rules! comment_columns {
    () => {
        concat!(
            "SELECT c.id, c.post_id, c.body, c.created_at, c.author_id, ",
            "u.email AS author_email, u.created_at AS author_created_at, ",
            "u.username AS author_username, u.bio AS author_bio, u.image AS author_image, ",
            "u.email_verified AS author_email_verified "
        )
    };
}

/// Joins a comment `c` with its author `u`.
macro_rules! comment_author {
    () => {
        "JOIN users u ON u.id = c.author_id "
    };
}

/// The session columns of `sessions s`, in `rows::SessionRow`'s names (its
/// id and creation time as `session_id` and `session_created_at`, apart
/// from the user's columns beside them).
macro_rules! session_columns {
    () => {
        concat!(
            "s.id AS session_id, s.user_id, s.created_at AS session_created_at, s.last_used_at, ",
            "s.expires_at, s.revoked_at, s.user_agent, s.ip"
        )
    };
}

mod bounded;
mod error;
/// Copying the original FastAPI app's database into Agora's.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod import;
mod migrate;
#[cfg(feature = "mysql")]
pub mod mysql;
mod pool;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
mod rows;
mod sessions;
#[cfg(feature = "smtp")]
pub mod smtp;
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

use agora_core::mail::{LogMailer, MailConfig, Mailer};
use agora_core::storage::Store;
use agora_core::throttle::{MemoryThrottleStore, ThrottleStore};
use agora_core::{Agora, Config};
use std::sync::Arc;

pub use agora_core::config::PoolConfig;
pub use bounded::{BoundedStore, LIGHT_SKIP_MAX};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use import::{ImportError, ImportOptions, ImportProgress, ImportReport, import_fastapi};
pub use migrate::{Migrated, MigrationInfo, SchemaState, inspect_schema, migrate};

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
    /// The database could not be opened or reached, for a reason not
    /// recognised as a [`DatabaseProblem`].
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database cannot be used as its URL says (its SQLite directory or
    /// its database is missing, its server does not answer or refuses the
    /// login): the message names the setting and what to do.
    #[error("{setting}: {problem}")]
    Unusable {
        /// The setting holding the URL: `server.database_url`, renamed by
        /// front ends ([`ConnectError::renamed`]; `AGORA_DATABASE_URL`).
        setting: &'static str,
        /// What is wrong, and the fix.
        problem: Box<DatabaseProblem>,
        /// The driver's error, when there is one.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A newer release applied a migration that older releases cannot run
    /// with (it raised the compatibility marker, see the crate's README).
    #[error(
        "the database needs a newer release: a migration applied by a newer release requires \
         one whose newest migration is {required} or later, and this one's newest is {known}; \
         deploy that release (or newer)"
    )]
    ReleaseTooOld {
        /// The lowest newest migration a release must have to run on this
        /// database (the marker).
        required: i64,
        /// This release's newest migration.
        known: i64,
    },
    /// Another instance held the migration lock past the deadline.
    #[error(
        "{setting}: another instance held the database's migration lock for all of \
         {timeout:?}: wait for its migrations to finish and retry, or raise the timeout"
    )]
    MigrationLockTimeout {
        /// The setting holding the deadline: `server.migration_lock_timeout`,
        /// renamed by front ends ([`ConnectError::renamed`]).
        setting: &'static str,
        /// How long it waited: the setting's value.
        timeout: std::time::Duration,
    },
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(#[from] agora_core::config::ConfigError),
    /// Redis (`config.server.redis.url`) is unusable (a bad URL; Redis being down
    /// does not stop a server).
    #[error("cannot use Redis at {url}: {source}")]
    Redis {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        source: agora_core::storage::StorageError,
    },
}

impl ConnectError {
    /// The same error with every setting it names called `name(field
    /// path)`: `agora_core::config::env::variable` gives the
    /// `AGORA_*` variables (`AGORA_DATABASE_URL: ...`), as the example
    /// servers show them.
    pub fn renamed(self, name: impl Fn(&'static str) -> &'static str) -> Self {
        match self {
            ConnectError::Unusable {
                setting,
                problem,
                source,
            } => ConnectError::Unusable {
                setting: name(setting),
                problem,
                source,
            },
            ConnectError::Config(e) => ConnectError::Config(e.renamed(name)),
            ConnectError::MigrationLockTimeout { setting, timeout } => {
                ConnectError::MigrationLockTimeout {
                    setting: name(setting),
                    timeout,
                }
            }
            other => other,
        }
    }
}

/// Why the database a URL names cannot be used, and what to do, as a
/// [`ConnectError::Unusable`] says it (never with a password).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseProblem {
    /// The directory of a SQLite file does not exist (or is not a directory).
    MissingDirectory {
        /// The directory.
        directory: std::path::PathBuf,
        /// The database file.
        database: std::path::PathBuf,
        /// Something else than a directory is there.
        not_a_directory: bool,
    },
    /// The SQLite file does not exist (said only where it is not created:
    /// [`inspect_schema`]).
    MissingFile {
        /// The database file.
        database: std::path::PathBuf,
    },
    /// The server has no database of that name.
    MissingDatabase {
        /// The backend.
        backend: Backend,
        /// The database's name.
        database: String,
        /// The server's host (or Unix socket directory).
        host: String,
        /// The server's port.
        port: u16,
        /// The user the URL connects as.
        user: String,
    },
    /// Nothing answers at the server's address, or not in time.
    Unreachable {
        /// `host:port`, or the Unix socket.
        server: String,
        /// `connection refused`, `no answer within 3s`, or the system's words.
        why: String,
    },
    /// The server refused the URL's user or password.
    LoginRefused {
        /// `host:port`, or the Unix socket.
        server: String,
        /// The user.
        user: String,
        /// The server's words (which never include the password).
        why: String,
    },
}

impl std::fmt::Display for DatabaseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseProblem::MissingDirectory {
                directory,
                database,
                not_a_directory: true,
            } => write!(
                f,
                "{} (the directory of the SQLite database {}) is not a directory: fix the URL",
                directory.display(),
                database.display()
            ),
            DatabaseProblem::MissingDirectory {
                directory,
                database,
                not_a_directory: false,
            } => write!(
                f,
                "the directory {0} (of the SQLite database {1}) does not exist: \
                 create it (`mkdir -p {0}`) or fix the URL",
                directory.display(),
                database.display()
            ),
            DatabaseProblem::MissingFile { database } => write!(
                f,
                "the SQLite database {} does not exist: a server's first start creates it (and \
                 migrates it), as a migration run does; or fix the URL",
                database.display()
            ),
            DatabaseProblem::MissingDatabase {
                backend,
                database,
                host,
                port,
                user,
            } => {
                write!(
                    f,
                    "database \"{database}\" does not exist on {host}:{port}: create it ("
                )?;
                match backend {
                    Backend::MySql => write!(
                        f,
                        "`mysql -h {host} -P {port} -u {user} -p -e 'CREATE DATABASE {database}'`"
                    )?,
                    _ => write!(f, "`createdb -h {host} -p {port} -U {user} {database}`")?,
                }
                f.write_str(") or fix the URL")
            }
            DatabaseProblem::Unreachable { server, why } => write!(
                f,
                "cannot connect to {server} ({why}): is the database running, \
                 and are the host and port in the URL right?"
            ),
            DatabaseProblem::LoginRefused { server, user, why } => write!(
                f,
                "the database on {server} refused user \"{user}\" ({why}): \
                 fix the user or password in the URL"
            ),
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

/// Everything a server needs from `config`, and the one way to build an
/// [`Agora`] that honours every setting: the database at
/// `config.server.database_url` (connected with `config.server.pool`, and
/// migrated), throttling counters in Redis when `config.server.redis.url`
/// is set (else in process), account mail over SMTP when
/// `config.mail.smtp_url` is set (`smtp::SmtpMailer`, feature `smtp`;
/// else links are logged), and the [`Agora`] services over them.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = agora_core::Config::from_env()?;
/// config.ensure_jwt_secret()?;
/// let agora = agora_sqlx::open(&config).await?;
/// # Ok(()) }
/// ```
pub async fn open(config: &Config) -> Result<Agora, ConnectError> {
    open_with_mailer(config, mailer(&config.mail)?).await
}

/// [`open`], with account mail delivered by `mailer` instead of the one
/// `config.mail` names (an app's own delivery, e.g. a mail API).
pub async fn open_with_mailer(
    config: &Config,
    mailer: Arc<dyn Mailer>,
) -> Result<Agora, ConnectError> {
    let server = &config.server;
    let store = connect_waiting(
        &server.database_url,
        &server.pool,
        server.migration_lock_timeout,
    )
    .await?;
    let throttle_store: Arc<dyn ThrottleStore> = match &server.redis.url {
        None => Arc::new(MemoryThrottleStore::default()),
        #[cfg(feature = "redis")]
        Some(url) => {
            // Starts while Redis is down (logins answer 503 and `/health` names
            // Redis until it is back); only an unusable URL stops it.
            let counters = redis::RedisThrottleStore::connect_with(
                url,
                &server.redis.prefix,
                server.redis.timeout,
            )
            .await
            .map_err(|source| ConnectError::Redis {
                url: redact_password(url),
                source,
            })?;
            Arc::new(counters)
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => return Err(ConnectError::BackendDisabled("redis")),
    };
    Ok(Agora::from_parts(store, throttle_store, mailer, config)?)
}

/// The mailer of `config.mail`: SMTP when `smtp_url` is set (feature
/// `smtp`), else links written to the log ([`LogMailer`]).
fn mailer(config: &MailConfig) -> Result<Arc<dyn Mailer>, ConnectError> {
    #[cfg(feature = "smtp")]
    if let Some(mailer) = smtp::SmtpMailer::from_config(config)? {
        return Ok(Arc::new(mailer));
    }
    #[cfg(not(feature = "smtp"))]
    if config.smtp_url.is_some() {
        return Err(ConnectError::BackendDisabled("smtp"));
    }
    Ok(Arc::new(LogMailer))
}

/// Opens the database named by `url` (`sqlite://`, `postgres://`,
/// `mysql://`) with the pool settings `pool`, runs its migrations (as
/// [`migrate`] does, waiting for another instance's migration lock for the
/// default `server.migration_lock_timeout`), and returns the store, for
/// [`Agora::new`] or direct use ([`open`] does this and more from a whole
/// configuration). With `pool.schema` set (`AGORA_DB_SCHEMA`), Agora's
/// tables live in that PostgreSQL schema or MySQL database, created if
/// missing, apart from an app's tables of the same names; SQLite refuses it
/// (see the crate's README). A SQLite file is created when missing. The store is a
/// [`BoundedStore`]: every call has a deadline, and listings keep to their
/// share of the pool.
pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Arc<dyn Store>, ConnectError> {
    connect_waiting(url, pool, migrate::default_lock_timeout()).await
}

/// [`connect`], waiting up to `lock_timeout` for the migration lock.
async fn connect_waiting(
    url: &str,
    pool: &PoolConfig,
    lock_timeout: std::time::Duration,
) -> Result<Arc<dyn Store>, ConnectError> {
    let backend =
        Backend::from_url(url).ok_or_else(|| ConnectError::UnsupportedUrl(redact_password(url)))?;
    match connect_to(backend, url, pool, lock_timeout).await {
        Err(ConnectError::Database(e)) => Err(error::explain(backend, url, pool, e).await),
        done => done,
    }
}

/// [`connect`] to `backend`, its errors as the driver gives them.
async fn connect_to(
    backend: Backend,
    url: &str,
    pool: &PoolConfig,
    lock_timeout: std::time::Duration,
) -> Result<Arc<dyn Store>, ConnectError> {
    match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            let (store, _) = boxed(sqlite::SqliteStore::open(url, pool, lock_timeout)).await?;
            Ok(Arc::new(BoundedStore::new(store, pool)))
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let (abandons, release) = pool::Abandons::watched(pool);
            let store = boxed(postgres::PgStore::open(url, pool, lock_timeout, release)).await?;
            Ok(Arc::new(BoundedStore::watching(store, pool, abandons)))
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            let (abandons, release) = pool::Abandons::watched(pool);
            let store = boxed(mysql::MySqlStore::open(url, pool, lock_timeout, release)).await?;
            Ok(Arc::new(BoundedStore::watching(store, pool, abandons)))
        }
        #[allow(unreachable_patterns)]
        disabled => Err(ConnectError::BackendDisabled(disabled.name())),
    }
}

/// A connecting store's future, boxed as `Send`: the pool's callbacks are
/// higher-ranked closures, and without the box the compiler cannot prove
/// that futures awaiting `connect` (e.g. under `#[rocket::main]`) are `Send`
/// for every lifetime.
fn boxed<'a, S>(
    connecting: impl std::future::Future<Output = Result<S, ConnectError>> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<S, ConnectError>> + Send + 'a>> {
    Box::pin(connecting)
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
        let err = connect("oracle://x", &PoolConfig::default())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("unsupported database URL"));
    }
}
