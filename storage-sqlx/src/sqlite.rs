//! The SQLite backend: one file, WAL mode, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::{ConnectError, DatabaseProblem, Migrated, PoolConfig};

crate::store::impl_store!(SqliteStore, sqlx::Sqlite, crate::sql::SQLITE, ids: returning);

/// Each connection's page cache, in SQLite's `cache_size` terms (negative:
/// KiB): 512 KiB, where SQLite's default is 2,000 KiB. Every connection of
/// the pool keeps its own cache, so the default let a pool of 10 hold 20 MB
/// of pages once a deep page or a search had walked the file (the bench's
/// peak RSS went from 88 MB to 60 MB with this); pages it no longer holds
/// come back from the operating system's page cache, which holds the file
/// once for every connection.
const PAGE_CACHE_SIZE: &str = "-512";

/// Agora's storage on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`
    /// (`sqlite://path/to/file.db`, or `sqlite::memory:` for a private
    /// in-memory database on a single connection); see [`crate::migrate`].
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let lock_timeout = crate::migrate::default_lock_timeout();
        Ok(Self::open(url, pool, lock_timeout).await?.0)
    }

    /// [`SqliteStore::connect`], waiting up to `lock_timeout` for another
    /// connection's write lock to migrate; also says what the migrations did.
    pub(crate) async fn open(
        url: &str,
        pool: &PoolConfig,
        lock_timeout: Duration,
    ) -> Result<(Self, Migrated), ConnectError> {
        // No schemas: `pool.schema` is refused with the fix (a file of its own).
        pool.validate_for(url)?;
        let busy = pool.acquire_timeout;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy)
            // REGEXP, for searches that ignore case beyond ASCII (`sql::SQLITE`).
            .with_regexp()
            .pragma("cache_size", PAGE_CACHE_SIZE);
        // Every connection to ":memory:" would be a different database.
        let in_memory = in_memory(url);
        if !in_memory {
            create_private_file(options.get_filename());
        }
        let max_connections = if in_memory { 1 } else { pool.max_connections };
        let pool = crate::pool::options(pool)
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        let migrated = {
            let mut conn = pool.acquire().await?;
            let migrated = crate::migrate::sqlite(&mut conn, lock_timeout, busy).await?;
            if !has_stable_plans(&mut conn).await? {
                tracing::warn!(
                    "SQLite was built without SQLITE_ENABLE_QPSG: once ANALYZE or PRAGMA optimize \
                     has run, every statement is recompiled each time it runs (about 3x the CPU \
                     of a read); build with LIBSQLITE3_FLAGS=SQLITE_ENABLE_QPSG (see agora-sqlx's README)"
                );
            }
            migrated
        };
        Ok((SqliteStore { pool }, migrated))
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Whether this SQLite keeps one plan per statement whatever its parameters
/// (the query planner stability guarantee, built in by
/// `SQLITE_ENABLE_QPSG`). Without it, SQLite built with STAT4 (as
/// libsqlite3-sys bundles it) recompiles a prepared statement each time a
/// parameter its plan could depend on is bound, as soon as ANALYZE has
/// written `sqlite_stat4`: most of Agora's statements, on every execution.
async fn has_stable_plans(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG')",
    )
    .fetch_one(conn)
    .await
}

/// Whether `url` names an in-memory database (private to its connection).
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The options of [`crate::inspect_schema`]'s connection to `url`: the file
/// opened without being created, in SQLite's `query_only` mode (every write
/// refused), waiting for a writer's lock up to `pool.acquire_timeout`. A missing file is a
/// [`ConnectError::Unusable`] ([`DatabaseProblem::MissingFile`]); a missing
/// directory fails to open, which `error::explain` names.
pub(crate) fn inspect_options(
    url: &str,
    pool: &PoolConfig,
) -> Result<SqliteConnectOptions, ConnectError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .busy_timeout(pool.acquire_timeout);
    if in_memory(url) {
        return Ok(options);
    }
    let database = options.get_filename();
    let directory_exists = database
        .parent()
        .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
    if directory_exists && !database.exists() {
        return Err(ConnectError::Unusable {
            // As `error::explain` names it (front ends rename it).
            setting: "server.database_url",
            problem: Box::new(DatabaseProblem::MissingFile {
                database: database.to_owned(),
            }),
            source: None,
        });
    }
    // Not `read_only`: a read-only connection to a WAL database leaves
    // `-wal` and `-shm` files behind, which the last read-write connection
    // removes on close. `query_only` refuses every write instead.
    Ok(options.pragma("query_only", "ON"))
}

/// Creates a missing database file empty, readable and writable by its owner
/// only (0600 on Unix; SQLite then gives its `-wal` and `-shm` files the
/// same mode), where SQLite would create it 0644. An existing file keeps the
/// mode its owner gave it. Failures are left for SQLite to report.
fn create_private_file(path: &std::path::Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Err(e) = options.open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        tracing::debug!(path = %path.display(), error = %e, "database file not pre-created");
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    #[tokio::test]
    async fn sqlite_is_built_with_stable_query_plans() {
        // The workspace's .cargo/config.toml sets LIBSQLITE3_FLAGS; without
        // it, reads after ANALYZE cost about 3x the CPU (BENCHMARKS.md).
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        assert!(
            super::has_stable_plans(&mut conn)
                .await
                .expect("compile options")
        );
    }
}
