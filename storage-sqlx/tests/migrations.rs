//! Migrations during rolling deploys, on every backend (SQLite always;
//! PostgreSQL and MySQL when `AGORA_TEST_POSTGRES_URL` /
//! `AGORA_TEST_MYSQL_URL` are set): a database a newer release migrated
//! further still opens (its unknown migrations logged), unless a newer
//! migration raised the compatibility marker; the migration lock is waited
//! for with a deadline; instances starting together migrate once. And
//! `inspect_schema` reads all that without writing anything.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_core::Config;
use agora_core::domain::Email;
use agora_sqlx::testing::TestDatabase;
use agora_sqlx::{Backend, ConnectError, MigrationInfo, PoolConfig};
use sqlx::Connection;
use sqlx::migrate::{Migrate, Migrator};

/// A configuration for the test database `db`, waiting `lock_timeout` for
/// the migration lock.
fn config(db: &TestDatabase, lock_timeout: Duration) -> Config {
    let mut config = Config::default();
    config.server.database_url = db.url().to_owned();
    config.server.migration_lock_timeout = lock_timeout;
    config
}

/// This release's migrations of `backend`.
fn migrations(backend: Backend) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend.name())
}

/// This release's newest migration on `backend`.
fn newest_known(backend: Backend) -> i64 {
    std::fs::read_dir(migrations(backend))
        .expect("migrations")
        .filter_map(|entry| {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            name.split('_').next()?.parse().ok()
        })
        .max()
        .expect("a migration")
}

/// The migrations of a newer release: this release's and `sql` as the next
/// one (`<version>_newer_release.sql`), and that version.
fn newer_release(backend: Backend, sql: &str) -> (tempfile::TempDir, i64) {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(migrations(backend)).expect("migrations") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
    }
    let version = newest_known(backend) + 1;
    let file = dir.path().join(format!("{version:04}_newer_release.sql"));
    std::fs::write(file, sql).expect("write");
    (dir, version)
}

/// Migrates `db` as a newer release with `migrations` would: with sqlx's
/// own `run`, lock included.
async fn migrate_as_newer_release(db: &TestDatabase, migrations: &Path) {
    let migrator = Migrator::new(migrations).await.expect("migrations resolve");
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url())
                .await
                .expect("connect");
            migrator
                .run(&mut conn)
                .await
                .expect("newer release migrates");
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            migrator
                .run(&mut conn)
                .await
                .expect("newer release migrates");
        }
        Backend::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(db.url())
                .await
                .expect("connect");
            migrator
                .run(&mut conn)
                .await
                .expect("newer release migrates");
        }
    }
}

/// sqlx's MySQL migration lock name for the current database: its CRC-32
/// times 0x3d32ad9e, in lower-case hexadecimal.
macro_rules! mysql_lock {
    () => {
        "LOWER(HEX(0x3d32ad9e * CRC32(DATABASE())))"
    };
}

/// A connection of another instance holding the migration lock: a write
/// transaction on SQLite; sqlx's own advisory lock on PostgreSQL (the one
/// releases before this one take); on MySQL, sqlx's lock name computed in
/// SQL (sqlx's own `lock` takes nothing on MariaDB, where `GET_LOCK(name,
/// -1)` returns NULL).
enum Holder {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
    MySql(sqlx::MySqlConnection),
}

impl Holder {
    async fn lock(db: &TestDatabase) -> Holder {
        match db.backend() {
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
                    .expect("url")
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .expect("connect");
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut conn)
                    .await
                    .expect("write lock");
                Holder::Sqlite(conn)
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(db.url())
                    .await
                    .expect("connect");
                conn.lock().await.expect("lock");
                Holder::Postgres(conn)
            }
            Backend::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(db.url())
                    .await
                    .expect("connect");
                let taken: Option<i64> =
                    sqlx::query_scalar(concat!("SELECT GET_LOCK(", mysql_lock!(), ", 0)"))
                        .fetch_one(&mut conn)
                        .await
                        .expect("lock");
                assert_eq!(taken, Some(1), "the lock is free");
                Holder::MySql(conn)
            }
        }
    }

    async fn release(self) {
        match self {
            Holder::Sqlite(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("rollback");
            }
            Holder::Postgres(mut conn) => conn.unlock().await.expect("unlock"),
            Holder::MySql(mut conn) => {
                sqlx::query(concat!("SELECT RELEASE_LOCK(", mysql_lock!(), ")"))
                    .execute(&mut conn)
                    .await
                    .expect("unlock");
            }
        }
    }
}

/// The log lines (`LEVEL message field=value ...`) recorded on this thread
/// while the guard lives.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    fn record() -> (Logs, tracing::dispatcher::DefaultGuard) {
        let logs = Logs::default();
        let guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(logs.clone()));
        (logs, guard)
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("logs").clone()
    }

    /// Whether a line at `level` contains every one of `parts`.
    fn has(&self, level: &str, parts: &[&str]) -> bool {
        self.lines()
            .iter()
            .any(|line| line.starts_with(level) && parts.iter().all(|p| line.contains(p)))
    }
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        match field.name() {
            "message" => self.0.push_str(&format!(" {value:?}")),
            name => self.0.push_str(&format!(" {name}={value:?}")),
        }
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().expect("logs").push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The store on `db` works: a user goes in and comes back.
async fn store_works(db: &TestDatabase) {
    let store = agora_sqlx::connect(db.url(), &PoolConfig::default())
        .await
        .expect("opens");
    let email = Email::parse("rolling@example.com").expect("email");
    let user = store
        .create_user(&email, None, "$argon2id$fake", chrono::Utc::now())
        .await
        .expect("create");
    let found = store.get_user(user.id).await.expect("get").expect("found");
    assert_eq!(found.email, user.email);
}

#[tokio::test]
async fn a_database_a_newer_release_migrated_further_still_opens_and_names_its_migration() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let config = config(&db, Duration::from_secs(10));
        let first = agora_sqlx::migrate(&config).await.expect("migrates");
        assert_eq!(
            first.applied.last().map(|m| m.version),
            Some(newest_known(backend)),
            "{backend:?}"
        );
        assert!(first.unknown.is_empty(), "{backend:?}");

        let (newer, version) = newer_release(
            backend,
            "CREATE TABLE newer_feature (id BIGINT NOT NULL PRIMARY KEY);",
        );
        migrate_as_newer_release(&db, newer.path()).await;
        let state = agora_sqlx::inspect_schema(&config).await.expect("inspects");
        assert_eq!(state.unknown.len(), 1, "{backend:?}: {state:?}");
        assert_eq!(state.unknown[0].version, version);
        assert!(state.pending.is_empty(), "{backend:?}: {state:?}");
        assert!(!state.refuses_this_release(), "{backend:?}: {state:?}");

        let (logs, guard) = Logs::record();
        let again = agora_sqlx::migrate(&config).await.expect("still migrates");
        drop(guard);
        assert!(again.applied.is_empty(), "{backend:?}: {again:?}");
        assert_eq!(
            again.unknown,
            [MigrationInfo {
                version,
                description: "newer release".to_owned(),
            }],
            "{backend:?}"
        );
        assert!(
            logs.has(
                "WARN",
                &[
                    "a migration this release does not know",
                    &format!("version={version}"),
                    "description=newer release",
                ]
            ),
            "{backend:?}: {:?}",
            logs.lines()
        );
        store_works(&db).await;
    }
}

#[tokio::test]
async fn a_newer_migration_that_raised_the_marker_stops_this_release() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let config = config(&db, Duration::from_secs(10));
        agora_sqlx::migrate(&config).await.expect("migrates");
        // Not additive (it drops a table older releases use), so it raises
        // the marker to its own version.
        let version = newest_known(backend) + 1;
        let (newer, _) = newer_release(
            backend,
            &format!(
                "DROP TABLE account_tokens;\n\
                 UPDATE agora_schema_compat SET min_schema_version = {version};"
            ),
        );
        migrate_as_newer_release(&db, newer.path()).await;

        let known = newest_known(backend);
        // Inspecting says so without failing.
        let state = agora_sqlx::inspect_schema(&config).await.expect("inspects");
        assert_eq!(state.required, Some(version), "{backend:?}");
        assert_eq!(state.newest_known, known);
        assert!(state.refuses_this_release(), "{backend:?}: {state:?}");
        assert!(
            matches!(state.compatible(), Err(ConnectError::ReleaseTooOld { required, known: k }) if required == version && k == known),
            "{backend:?}"
        );
        let err = agora_sqlx::migrate(&config).await.expect_err("refused");
        assert!(
            matches!(err, ConnectError::ReleaseTooOld { required, known: k } if required == version && k == known),
            "{backend:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("newest migration is {version} or later"))
                && message.contains(&format!("this one's newest is {known}")),
            "{message}"
        );
        let err = agora_sqlx::connect(db.url(), &PoolConfig::default())
            .await
            .err()
            .expect("connect refused too");
        assert!(matches!(err, ConnectError::ReleaseTooOld { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_held_migration_lock_is_waited_for_and_logged_then_given_up() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let holder = Holder::lock(&db).await;
        let (logs, guard) = Logs::record();
        let started = Instant::now();
        let err = agora_sqlx::migrate(&config(&db, Duration::from_secs(1)))
            .await
            .expect_err("gives up");
        let waited = started.elapsed();
        drop(guard);
        assert!(
            matches!(err, ConnectError::MigrationLockTimeout { timeout, .. } if timeout == Duration::from_secs(1)),
            "{backend:?}: {err:?}"
        );
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
            "{backend:?}: {waited:?}"
        );
        assert_eq!(
            err.renamed(agora_core::config::env::variable).to_string(),
            "AGORA_MIGRATION_LOCK_TIMEOUT: another instance held the database's migration lock \
             for all of 1s: wait for its migrations to finish and retry, or raise the timeout"
        );
        assert!(
            logs.has("INFO", &["waiting for another instance's migration lock"]),
            "{backend:?}: {:?}",
            logs.lines()
        );
        holder.release().await;
    }
}

#[tokio::test]
async fn a_lock_released_while_waiting_lets_the_migration_proceed() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let holder = Holder::lock(&db).await;
        let released = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(800)).await;
            holder.release().await;
        });
        let (logs, guard) = Logs::record();
        let started = Instant::now();
        let migrated = agora_sqlx::migrate(&config(&db, Duration::from_secs(30)))
            .await
            .expect("migrates once released");
        drop(guard);
        assert!(
            started.elapsed() >= Duration::from_millis(800),
            "{backend:?}"
        );
        assert_eq!(
            migrated.applied.last().map(|m| m.version),
            Some(newest_known(backend)),
            "{backend:?}"
        );
        assert!(
            logs.has("INFO", &["waiting for another instance's migration lock"])
                && logs.has("INFO", &["took the migration lock"]),
            "{backend:?}: {:?}",
            logs.lines()
        );
        released.await.expect("released");
        store_works(&db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_instances_opening_a_fresh_database_at_once_all_succeed_and_one_migrates() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let config = config(&db, Duration::from_secs(30));
        let mut instances = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let config = config.clone();
            instances.spawn(async move { agora_sqlx::migrate(&config).await });
        }
        let mut applied = Vec::new();
        while let Some(done) = instances.join_next().await {
            let migrated = done.expect("joins").expect("every instance starts");
            assert!(migrated.unknown.is_empty(), "{backend:?}");
            applied.push(migrated.applied.len());
        }
        applied.sort_unstable();
        let all = std::fs::read_dir(migrations(backend))
            .expect("migrations")
            .count();
        assert_eq!(applied, [[0; 9].as_slice(), &[all]].concat(), "{backend:?}");
        store_works(&db).await;
    }
}

/// The tables of `db` (its current schema on PostgreSQL), counted on a
/// connection that cannot create the SQLite file.
async fn table_count(db: &TestDatabase) -> i64 {
    match db.backend() {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
                .expect("url")
                .read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("connect");
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                .fetch_one(&mut conn)
                .await
                .expect("count")
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema()",
            )
            .fetch_one(&mut conn)
            .await
            .expect("count")
        }
        Backend::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
            )
            .fetch_one(&mut conn)
            .await
            .expect("count")
        }
    }
}

/// The file of a SQLite test database.
fn sqlite_file(db: &TestDatabase) -> PathBuf {
    PathBuf::from(db.url().strip_prefix("sqlite://").expect("a sqlite URL"))
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn inspecting_a_fresh_database_reports_every_migration_pending_and_writes_nothing() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        if backend == Backend::Sqlite {
            // An empty file is an empty SQLite database (a missing one is
            // refused: see the next test).
            std::fs::write(sqlite_file(&db), "").expect("empty file");
        }
        let config = config(&db, Duration::from_secs(10));
        let state = agora_sqlx::inspect_schema(&config).await.expect("inspects");
        let all = std::fs::read_dir(migrations(backend))
            .expect("migrations")
            .count();
        assert!(state.applied.is_empty(), "{backend:?}: {state:?}");
        assert_eq!(state.pending.len(), all, "{backend:?}: {state:?}");
        assert_eq!(state.pending[0].version, 1, "{backend:?}");
        assert_eq!(
            state.pending.last().map(|m| m.version),
            Some(newest_known(backend))
        );
        assert!(state.unknown.is_empty(), "{backend:?}");
        assert_eq!(state.newest_known, newest_known(backend));
        assert_eq!(state.required, None);
        assert!(!state.refuses_this_release());
        assert_eq!(table_count(&db).await, 0, "{backend:?}: nothing created");
        if backend == Backend::Sqlite {
            let file = sqlite_file(&db);
            assert_eq!(std::fs::metadata(&file).expect("file").len(), 0);
            assert_eq!(
                files_in(file.parent().expect("dir")),
                ["agora.db"],
                "no journal left"
            );
        }

        // Once migrated: everything applied, nothing pending.
        agora_sqlx::migrate(&config).await.expect("migrates");
        let files_before =
            (backend == Backend::Sqlite).then(|| files_in(sqlite_file(&db).parent().expect("dir")));
        let state = agora_sqlx::inspect_schema(&config).await.expect("inspects");
        if let Some(before) = files_before {
            let after = files_in(sqlite_file(&db).parent().expect("dir"));
            assert_eq!(after, before, "no file left by the read-only connection");
        }
        assert_eq!(state.applied.len(), all, "{backend:?}: {state:?}");
        assert!(state.pending.is_empty(), "{backend:?}: {state:?}");
        assert!(state.unknown.is_empty(), "{backend:?}");
        assert_eq!(state.required, Some(1), "{backend:?}: the marker's start");
        assert!(!state.refuses_this_release());
    }
}

#[tokio::test]
async fn inspecting_a_missing_sqlite_file_or_directory_fails_naming_the_url_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("agora.db");
    let mut config = Config::default();
    config.server.database_url = format!("sqlite://{}", file.display());
    let err = agora_sqlx::inspect_schema(&config)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            &err,
            ConnectError::Unusable { problem, .. }
                if matches!(**problem, agora_sqlx::DatabaseProblem::MissingFile { .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.renamed(agora_core::config::env::variable).to_string(),
        format!(
            "AGORA_DATABASE_URL: the SQLite database {} does not exist: a server's first start \
             creates it (and migrates it), as a migration run does; or fix the URL",
            file.display()
        )
    );
    assert!(files_in(dir.path()).is_empty(), "no file created");

    let missing = dir.path().join("no/such");
    config.server.database_url = format!("sqlite://{}/agora.db", missing.display());
    let err = agora_sqlx::inspect_schema(&config)
        .await
        .expect_err("refused");
    let shown = err.renamed(agora_core::config::env::variable).to_string();
    assert!(
        shown.starts_with(&format!(
            "AGORA_DATABASE_URL: the directory {} (of the SQLite database",
            missing.display()
        )),
        "{shown}"
    );
    assert!(files_in(dir.path()).is_empty(), "no directory created");
}
