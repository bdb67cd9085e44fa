//! The SQLite backend: one file, WAL mode, foreign keys on.

use std::str::FromStr;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::{ConnectError, PoolConfig};

crate::store::impl_store!(SqliteStore, sqlx::Sqlite, crate::sql::SQLITE, ids: returning);

/// Agora's storage on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`
    /// (`sqlite://path/to/file.db`, or `sqlite::memory:` for a private
    /// in-memory database on a single connection).
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(pool.acquire_timeout)
            // REGEXP, for searches that ignore case beyond ASCII (`sql::SQLITE`).
            .with_regexp();
        // Every connection to ":memory:" would be a different database.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private_file(options.get_filename());
        }
        let max_connections = if in_memory { 1 } else { pool.max_connections };
        let pool = crate::pool::options(pool)
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
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
