//! Running the migrations, the same way on every backend, so that instances
//! of different releases can share a database during a rolling deploy or
//! after a rollback:
//!
//! - only one instance migrates at a time, under a lock taken with a
//!   deadline (`server.migration_lock_timeout`): PostgreSQL's advisory lock
//!   and MySQL's named lock, with sqlx's own keys so that releases which let
//!   sqlx take them wait for this one too, and on SQLite the database's
//!   write lock (`BEGIN IMMEDIATE`), held until every migration is in;
//! - migrations applied by a newer release, unknown to this one, are
//!   tolerated and each logged at WARN, as long as none of them raised the
//!   compatibility marker (`agora_schema_compat.min_schema_version`, see the
//!   crate's README) above this release's newest migration: then this
//!   release refuses to start.

use std::time::{Duration, Instant};

use agora_core::Config;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Executor, FromRow, IntoArguments};

use crate::{Backend, ConnectError};

/// The table in which sqlx records the applied migrations.
const TABLE: &str = "_sqlx_migrations";
/// The migration that creates the compatibility marker.
const MARKER_MIGRATION: i64 = 6;
/// How often a busy lock is tried again.
const POLL: Duration = Duration::from_millis(100);
/// How often a long wait for the lock is logged again.
const REMIND: Duration = Duration::from_secs(10);

/// A migration, by its version and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of its file name, underscores as spaces).
    pub description: String,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// The migrations this run applied, oldest first (none when the
    /// database was up to date).
    pub applied: Vec<MigrationInfo>,
    /// Migrations applied by a newer release that this one does not know,
    /// tolerated (they only add), oldest first.
    pub unknown: Vec<MigrationInfo>,
}

/// What a database's migrations are, as [`inspect_schema`] reads them
/// without changing anything (and as [`migrate`] reads them under the lock
/// before it applies the pending ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaState {
    /// The migrations the database records as applied, oldest first,
    /// including the [`unknown`](Self::unknown) ones (none when sqlx's
    /// table `_sqlx_migrations` does not exist: a fresh database).
    pub applied: Vec<MigrationInfo>,
    /// This release's migrations the database lacks, oldest first: what
    /// [`migrate`] (or a server start) would apply.
    pub pending: Vec<MigrationInfo>,
    /// Applied migrations this release does not know (a newer release
    /// applied them), oldest first: tolerated, unless
    /// [`required`](Self::required) is above [`newest_known`](Self::newest_known).
    pub unknown: Vec<MigrationInfo>,
    /// This release's newest migration.
    pub newest_known: i64,
    /// The compatibility marker (`agora_schema_compat.min_schema_version`):
    /// the newest migration a release must at least have to run on this
    /// database; `None` before the migration that creates it.
    pub required: Option<i64>,
}

impl SchemaState {
    /// The state of a database with the migrations `applied` and the
    /// marker `required`, for this release's `migrator`.
    fn new(migrator: &Migrator, applied: Vec<MigrationInfo>, required: Option<i64>) -> Self {
        let had = |version| applied.iter().any(|m: &MigrationInfo| m.version == version);
        let pending = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !had(m.version))
            .map(|m| MigrationInfo {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect();
        let unknown = applied
            .iter()
            .filter(|m| !migrator.version_exists(m.version))
            .cloned()
            .collect();
        SchemaState {
            applied,
            pending,
            unknown,
            newest_known: newest(migrator),
            required,
        }
    }

    /// Whether this release refuses to start on the database: a newer
    /// release raised the compatibility marker above this release's newest
    /// migration.
    pub fn refuses_this_release(&self) -> bool {
        self.compatible().is_err()
    }

    /// `Ok` when this release can run on the database (once its pending
    /// migrations are applied); else [`ConnectError::ReleaseTooOld`], naming
    /// the release the marker requires and this one, as [`migrate`] and a
    /// server start fail.
    pub fn compatible(&self) -> Result<(), ConnectError> {
        match self.required {
            Some(required) if required > self.newest_known => Err(ConnectError::ReleaseTooOld {
                required,
                known: self.newest_known,
            }),
            _ => Ok(()),
        }
    }
}

/// Applies the pending migrations to the database at
/// `config.server.database_url` and returns what it did, without opening a
/// store: the `migrate` command of deploy pipelines. [`crate::open`] and
/// [`crate::connect`] do the same on their way.
pub async fn migrate(config: &Config) -> Result<Migrated, ConnectError> {
    let server = &config.server;
    let url = &server.database_url;
    let backend = Backend::from_url(url)
        .ok_or_else(|| ConnectError::UnsupportedUrl(crate::redact_password(url)))?;
    let lock_timeout = server.migration_lock_timeout;
    server.pool.validate_for(url)?;
    let migrated = match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            crate::boxed(async {
                let (store, migrated) =
                    crate::sqlite::SqliteStore::open(url, &server.pool, lock_timeout).await?;
                store.pool().close().await;
                Ok(migrated)
            })
            .await
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            crate::boxed(async {
                let options = crate::postgres::connect_options(url, &server.pool)?;
                postgres(options, &server.pool, lock_timeout).await
            })
            .await
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            crate::boxed(async {
                let options = crate::mysql::connect_options(url)?;
                mysql(options, &server.pool, lock_timeout).await
            })
            .await
        }
        #[allow(unreachable_patterns)]
        disabled => Err(ConnectError::BackendDisabled(disabled.name())),
    };
    explained(backend, config, migrated).await
}

/// Reads the state of the migrations of the database at
/// `config.server.database_url` ([`SchemaState`]: applied, pending, unknown
/// to this release, and whether its compatibility marker would make this
/// release refuse to start) without changing anything: for pre-flight
/// checks (`admin check-config`).
///
/// Unlike [`migrate`], [`crate::open`] and [`crate::connect`], it creates
/// no SQLite file (a missing one is a [`ConnectError::Unusable`], as a
/// missing directory is), applies nothing, creates no table and takes no
/// migration lock (so it does not wait for a migrating instance, and a
/// migration running meanwhile may make it out of date). It connects on a
/// single connection within `config.server.pool.acquire_timeout`, each
/// statement bounded by `statement_timeout` (on SQLite, waiting for a lock
/// up to `acquire_timeout`); the session refuses writes (SQLite's
/// `query_only`, a read-only transaction mode on PostgreSQL and
/// MySQL/MariaDB).
/// A database without sqlx's table `_sqlx_migrations` has nothing applied.
///
/// A marker that refuses this release is reported in the state
/// ([`SchemaState::refuses_this_release`]), not as an error.
pub async fn inspect_schema(config: &Config) -> Result<SchemaState, ConnectError> {
    let server = &config.server;
    let url = &server.database_url;
    let pool = &server.pool;
    let backend = Backend::from_url(url)
        .ok_or_else(|| ConnectError::UnsupportedUrl(crate::redact_password(url)))?;
    pool.validate_for(url)?;
    let inspected = match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => {
            crate::boxed(async {
                let options = crate::sqlite::inspect_options(url, pool)?;
                let conn = crate::pool::migration_connection::<sqlx::Sqlite>(options, pool).await?;
                let has_table = concat!(
                    "SELECT COUNT(*) FROM sqlite_master ",
                    "WHERE type = 'table' AND name = '_sqlx_migrations'"
                );
                let migrator = sqlx::migrate!("./migrations/sqlite");
                read_only::<sqlx::Sqlite>(conn, &migrator, has_table).await
            })
            .await
        }
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            crate::boxed(async {
                let options = crate::postgres::inspect_options(url, pool)?;
                let conn =
                    crate::pool::migration_connection::<sqlx::Postgres>(options, pool).await?;
                // NULL (not counted) when no table of the search path has the name.
                let has_table = "SELECT COUNT(to_regclass('_sqlx_migrations'))";
                let migrator = sqlx::migrate!("./migrations/postgres");
                read_only::<sqlx::Postgres>(conn, &migrator, has_table).await
            })
            .await
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            crate::boxed(async {
                let options = crate::mysql::connect_options(url)?;
                let mut conn =
                    crate::pool::migration_connection::<sqlx::MySql>(options, pool).await?;
                crate::mysql::read_only_session(&mut conn, pool).await?;
                if let Some(schema) = &pool.schema
                    && !crate::mysql::enter_schema(&mut conn, schema, false).await?
                {
                    // Nothing of Agora's yet: the database is created on the first start.
                    let migrator = sqlx::migrate!("./migrations/mysql");
                    sqlx::Connection::close(conn).await?;
                    return Ok(SchemaState::new(&migrator, Vec::new(), None));
                }
                let has_table = concat!(
                    "SELECT COUNT(*) FROM information_schema.tables ",
                    "WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'"
                );
                let migrator = sqlx::migrate!("./migrations/mysql");
                read_only::<sqlx::MySql>(conn, &migrator, has_table).await
            })
            .await
        }
        #[allow(unreachable_patterns)]
        disabled => Err(ConnectError::BackendDisabled(disabled.name())),
    };
    explained(backend, config, inspected).await
}

/// `done`, a driver's error connecting to the database of `config` (on
/// `backend`) explained as [`crate::connect`] explains it.
async fn explained<T>(
    backend: Backend,
    config: &Config,
    done: Result<T, ConnectError>,
) -> Result<T, ConnectError> {
    let server = &config.server;
    match done {
        Err(ConnectError::Database(e)) => {
            Err(crate::error::explain(backend, &server.database_url, &server.pool, e).await)
        }
        done => done,
    }
}

/// [`inspect_schema`] on `conn`, which is closed at the end: reads the
/// state when `has_table` (a query counting sqlx's tables of that name)
/// finds sqlx's table; else nothing is applied.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn read_only<DB>(
    mut conn: DB::Connection,
    migrator: &Migrator,
    has_table: &'static str,
) -> Result<SchemaState, ConnectError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    use sqlx::Connection;
    let state = async {
        let (tables,): (i64,) = sqlx::query_as(has_table).fetch_one(&mut conn).await?;
        if tables == 0 {
            return Ok(SchemaState::new(migrator, Vec::new(), None));
        }
        read_state::<DB>(&mut conn, migrator).await
    }
    .await;
    let closed = conn.close().await;
    let state = state?;
    closed?;
    Ok(state)
}

/// `migrator` (a backend's migrations, as this release knows them), set to
/// tolerate applied migrations it does not know and not to lock (the
/// callers here hold the lock).
fn tolerant(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true).set_locking(false);
    migrator
}

/// How long [`crate::connect`] and the typed stores' `connect` wait for
/// the migration lock: `server.migration_lock_timeout`'s default.
pub(crate) fn default_lock_timeout() -> Duration {
    agora_core::config::ServerConfig::default().migration_lock_timeout
}

/// Migrates a PostgreSQL database under sqlx's advisory lock, on a
/// connection of its own (free of the statement timeout: an index build may
/// take longer than any request should), closed at the end.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres(
    options: sqlx::postgres::PgConnectOptions,
    pool: &crate::PoolConfig,
    lock_timeout: Duration,
) -> Result<Migrated, ConnectError> {
    use sqlx::Connection;
    let mut conn = crate::pool::migration_connection::<sqlx::Postgres>(options, pool).await?;
    let migrated = postgres_on(&mut conn, pool.schema.as_deref(), lock_timeout).await;
    let closed = conn.close().await;
    let migrated = migrated?;
    closed?;
    Ok(migrated)
}

/// [`postgres`], on `conn`, in `schema` when set (created, under the lock,
/// if missing).
#[cfg(feature = "postgres")]
async fn postgres_on(
    conn: &mut sqlx::PgConnection,
    schema: Option<&str>,
    lock_timeout: Duration,
) -> Result<Migrated, ConnectError> {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await?;
    // sqlx's key without a schema; each schema its own, so that instances
    // in different schemas of one database neither wait for each other nor
    // share a lock, while those starting in the same one migrate one by one.
    let key = match schema {
        None => lock_key(&database),
        Some(schema) => lock_key(&format!("{database}.{schema}")),
    };
    let mut wait = LockWait::new(lock_timeout);
    while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?
    {
        wait.pause().await?;
    }
    wait.acquired();
    let migrated = async {
        if let Some(schema) = schema {
            crate::postgres::create_schema(conn, schema).await?;
        }
        crate::postgres::reach_trigrams(conn, schema.is_some()).await?;
        let migrator = tolerant(sqlx::migrate!("./migrations/postgres"));
        apply::<sqlx::Postgres>(conn, &migrator).await
    }
    .await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await;
    let migrated = migrated?;
    unlocked?;
    Ok(migrated)
}

/// Migrates a MySQL/MariaDB database under sqlx's named lock, on a
/// connection of its own (free of the statement timeout), closed at the
/// end.
#[cfg(feature = "mysql")]
pub(crate) async fn mysql(
    options: sqlx::mysql::MySqlConnectOptions,
    pool: &crate::PoolConfig,
    lock_timeout: Duration,
) -> Result<Migrated, ConnectError> {
    use sqlx::Connection;
    let mut conn = crate::pool::migration_connection::<sqlx::MySql>(options, pool).await?;
    let migrated = mysql_on(&mut conn, pool.schema.as_deref(), lock_timeout).await;
    let closed = conn.close().await;
    let migrated = migrated?;
    closed?;
    Ok(migrated)
}

/// [`mysql`], on `conn`, in the database `schema` when set (created, under
/// the lock, if missing).
#[cfg(feature = "mysql")]
async fn mysql_on(
    conn: &mut sqlx::MySqlConnection,
    schema: Option<&str>,
    lock_timeout: Duration,
) -> Result<Migrated, ConnectError> {
    let database: Option<String> = match schema {
        // The database the migrations run in, as `DATABASE()` names it there.
        Some(schema) => Some(schema.to_owned()),
        None => {
            sqlx::query_scalar("SELECT DATABASE()")
                .fetch_one(&mut *conn)
                .await?
        }
    };
    let name = format!("{:x}", lock_key(database.as_deref().unwrap_or_default()));
    let mut wait = LockWait::new(lock_timeout);
    // 1 when taken, 0 when another session holds it.
    while sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, 0)")
        .bind(&name)
        .fetch_one(&mut *conn)
        .await?
        != Some(1)
    {
        wait.pause().await?;
    }
    wait.acquired();
    let migrated = async {
        if let Some(schema) = schema {
            crate::mysql::enter_schema(conn, schema, true).await?;
        }
        let migrator = tolerant(sqlx::migrate!("./migrations/mysql"));
        apply::<sqlx::MySql>(conn, &migrator).await
    }
    .await;
    let unlocked = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(&name)
        .execute(&mut *conn)
        .await;
    let migrated = migrated?;
    unlocked?;
    Ok(migrated)
}

/// Migrates a SQLite database on `conn` in one write transaction (`BEGIN
/// IMMEDIATE`, tried without the busy timeout until `lock_timeout`), so
/// that processes opening the same file wait for each other; restores the
/// busy timeout `busy` afterwards.
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(
    conn: &mut sqlx::SqliteConnection,
    lock_timeout: Duration,
    busy: Duration,
) -> Result<Migrated, ConnectError> {
    use sqlx::Connection;
    conn.execute("PRAGMA busy_timeout = 0").await?;
    let migrated: Result<_, ConnectError> = async {
        let mut wait = LockWait::new(lock_timeout);
        let mut tx = loop {
            match conn.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => break tx,
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("5" | "261" | "517")) =>
                {
                    wait.pause().await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        wait.acquired();
        let migrator = tolerant(sqlx::migrate!("./migrations/sqlite"));
        let migrated = apply::<sqlx::Sqlite>(&mut tx, &migrator).await?;
        tx.commit().await?;
        Ok(migrated)
    }
    .await;
    let busy = format!("PRAGMA busy_timeout = {}", busy.as_millis());
    let restored = conn.execute(sqlx::AssertSqlSafe(busy)).await;
    let migrated = migrated?;
    restored?;
    Ok(migrated)
}

/// Applies `migrator`'s pending migrations on `conn`, which holds the lock,
/// after [`checked`].
async fn apply<DB>(conn: &mut DB::Connection, migrator: &Migrator) -> Result<Migrated, ConnectError>
where
    DB: Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
{
    let before = checked::<DB>(conn, migrator).await?;
    // `run` itself, on a connection rather than an `Acquire` (whose bounds
    // make the futures of callers that must be `Send` fail to compile).
    migrator.run_direct(None, conn, false).await?;
    Ok(outcome(before))
}

/// Reads, under the lock, which migrations the database has (creating
/// sqlx's table when missing, as the run would): logs each one this
/// release does not know at WARN, and refuses when one of them raised the
/// compatibility marker above this release's newest migration.
async fn checked<DB>(
    conn: &mut DB::Connection,
    migrator: &Migrator,
) -> Result<SchemaState, ConnectError>
where
    DB: Database,
    DB::Connection: Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
{
    conn.ensure_migrations_table(TABLE).await?;
    let state = read_state::<DB>(conn, migrator).await?;
    for unknown in &state.unknown {
        tracing::warn!(
            version = unknown.version,
            description = %unknown.description,
            "the database has a migration this release does not know (applied by a newer \
             release); tolerated, as migrations only add"
        );
    }
    state.compatible()?;
    Ok(state)
}

/// What the database at `conn` has, read without writing anything, from
/// sqlx's table (which must exist) and the compatibility marker: the one
/// reading of both, for [`migrate`] and [`inspect_schema`].
async fn read_state<DB>(
    conn: &mut DB::Connection,
    migrator: &Migrator,
) -> Result<SchemaState, ConnectError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
{
    let applied: Vec<(i64, String)> = sqlx::query_as(concat!(
        "SELECT version, description FROM _sqlx_migrations ",
        "WHERE success ORDER BY version"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let applied: Vec<MigrationInfo> = applied
        .into_iter()
        .map(|(version, description)| MigrationInfo {
            version,
            description,
        })
        .collect();
    let required = if applied.iter().any(|m| m.version == MARKER_MIGRATION) {
        let (required,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(min_schema_version) FROM agora_schema_compat")
                .fetch_one(&mut *conn)
                .await?;
        required
    } else {
        None
    };
    Ok(SchemaState::new(migrator, applied, required))
}

/// The newest migration `migrator` knows.
fn newest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or_default()
}

/// What a run did, from the state `before` it (read under the lock, so
/// its pending migrations are the ones the run applied): logs each one it
/// applied at INFO.
fn outcome(before: SchemaState) -> Migrated {
    for m in &before.pending {
        tracing::info!(version = m.version, description = %m.description, "applied migration");
    }
    Migrated {
        applied: before.pending,
        unknown: before.unknown,
    }
}

/// The wait for a lock another instance holds: logged, then given up at
/// the deadline.
struct LockWait {
    started: Instant,
    timeout: Duration,
    /// When to log next, counted from `started`; `None` before the first
    /// pause.
    next_log: Option<Duration>,
}

impl LockWait {
    fn new(timeout: Duration) -> Self {
        LockWait {
            started: Instant::now(),
            timeout,
            next_log: None,
        }
    }

    /// After a failed attempt: logs (at INFO first, then at WARN every
    /// [`REMIND`]) and sleeps before the next one, or fails at the deadline.
    async fn pause(&mut self) -> Result<(), ConnectError> {
        let waited = self.started.elapsed();
        if waited >= self.timeout {
            tracing::warn!(waited = ?waited, "gave up waiting for another instance's migration lock");
            return Err(ConnectError::MigrationLockTimeout {
                setting: "server.migration_lock_timeout",
                timeout: self.timeout,
            });
        }
        match self.next_log {
            None => {
                tracing::info!(
                    timeout = ?self.timeout,
                    "waiting for another instance's migration lock"
                );
                self.next_log = Some(REMIND);
            }
            Some(next) if waited >= next => {
                tracing::warn!(
                    waited = ?waited,
                    timeout = ?self.timeout,
                    "still waiting for another instance's migration lock"
                );
                self.next_log = Some(next + REMIND);
            }
            Some(_) => {}
        }
        tokio::time::sleep(POLL.min(self.timeout - waited)).await;
        Ok(())
    }

    /// Logs how long the lock took, if it was waited for.
    fn acquired(&self) {
        if self.next_log.is_some() {
            tracing::info!(waited = ?self.started.elapsed(), "took the migration lock");
        }
    }
}

/// sqlx's migration lock key for `database` (PostgreSQL's advisory lock
/// id; in hexadecimal, MySQL's lock name), so that instances of releases
/// that let sqlx lock exclude this one and the other way round.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn lock_key(database: &str) -> i64 {
    0x3d32_ad9e * i64::from(crc32(database.as_bytes()))
}

/// CRC-32 (ISO-HDLC, as zlib's), which sqlx's lock key is built on.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[test]
    fn crc32_is_iso_hdlc() {
        // The standard check value.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
