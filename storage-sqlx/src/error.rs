//! sqlx errors to core's typed [`StorageError`], and start-up errors to
//! a [`ConnectError`] that says what to do.

use agora_core::storage::StorageError;

use crate::{Backend, ConnectError, DatabaseProblem, PoolConfig};

/// The setting start-up errors name (front ends rename it:
/// `AGORA_DATABASE_URL`).
const DATABASE_URL: &str = "server.database_url";

/// The [`Target`] of PostgreSQL or MySQL connect options (their getters
/// have the same names).
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! target {
    ($backend:expr, $options:expr) => {
        Target {
            backend: $backend,
            host: $options.get_socket().map_or_else(
                || $options.get_host().to_owned(),
                |socket| socket.display().to_string(),
            ),
            port: $options.get_port(),
            user: $options.get_username().to_owned(),
            database: $options.get_database().unwrap_or_default().to_owned(),
        }
    };
}

/// The error of connecting to `url` (on `backend`, with `pool`) that failed
/// with `err`: a [`ConnectError::Unusable`] naming the setting and the fix
/// when the cause is recognised (a missing SQLite directory or database, a
/// server that refuses the connection, does not answer, or refuses the
/// login), else the driver's error as it is.
///
/// A pool that could not connect within its acquire timeout reports only
/// that (sqlx retries refused connections until then and keeps no error),
/// so one more connection is tried alone, within the same timeout, to learn
/// why.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unused_variables)
)]
pub(crate) async fn explain(
    backend: Backend,
    url: &str,
    pool: &PoolConfig,
    err: sqlx::Error,
) -> ConnectError {
    let explained: Explained = match backend {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => match missing_directory(url) {
            Some(problem) => Ok((problem, Some(err))),
            None => Err(err),
        },
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            match <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url) {
                Ok(options) => {
                    let target = target!(backend, options);
                    server_problem::<sqlx::PgConnection>(err, &target, &options, pool).await
                }
                Err(_) => Err(err),
            }
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            match <sqlx::mysql::MySqlConnectOptions as std::str::FromStr>::from_str(url) {
                Ok(options) => {
                    let target = target!(backend, options);
                    server_problem::<sqlx::MySqlConnection>(err, &target, &options, pool).await
                }
                Err(_) => Err(err),
            }
        }
        #[allow(unreachable_patterns)]
        _ => Err(err),
    };
    match explained {
        Ok((problem, source)) => ConnectError::Unusable {
            setting: DATABASE_URL,
            problem: Box::new(problem),
            source,
        },
        Err(err) => ConnectError::Database(err),
    }
}

/// What [`explain`] found: the problem and the driver's error, or the
/// error it could not explain.
type Explained = Result<(DatabaseProblem, Option<sqlx::Error>), sqlx::Error>;

/// A missing (or non-directory) directory of the SQLite file `url` names.
#[cfg(feature = "sqlite")]
fn missing_directory(url: &str) -> Option<DatabaseProblem> {
    use std::str::FromStr as _;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let database = options.get_filename();
    let directory = database.parent().filter(|d| !d.as_os_str().is_empty())?;
    (!directory.is_dir()).then(|| DatabaseProblem::MissingDirectory {
        directory: directory.to_owned(),
        database: database.to_owned(),
        not_a_directory: directory.exists(),
    })
}

/// The server a URL names, for messages.
#[cfg(any(feature = "postgres", feature = "mysql"))]
struct Target {
    backend: Backend,
    host: String,
    port: u16,
    user: String,
    database: String,
}

/// [`explain`] for a database server: classifies `err`, or when the pool
/// timed out, the error of one more connection tried alone.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn server_problem<C: sqlx::Connection>(
    err: sqlx::Error,
    target: &Target,
    options: &C::Options,
    pool: &PoolConfig,
) -> Explained {
    let err = if matches!(err, sqlx::Error::PoolTimedOut) {
        match tokio::time::timeout(pool.acquire_timeout, C::connect_with(options)).await {
            Err(_) => {
                let problem = DatabaseProblem::Unreachable {
                    server: format!("{}:{}", target.host, target.port),
                    why: format!("no answer within {:?}", pool.acquire_timeout),
                };
                return Ok((problem, Some(err)));
            }
            Ok(Err(alone)) => alone,
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Err(err);
            }
        }
    } else {
        err
    };
    match classify(&err, target) {
        Some(problem) => Ok((problem, Some(err))),
        None => Err(err),
    }
}

/// The [`DatabaseProblem`] a driver error connecting to `target` means, if
/// recognised.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn classify(err: &sqlx::Error, target: &Target) -> Option<DatabaseProblem> {
    let server = || format!("{}:{}", target.host, target.port);
    match err {
        sqlx::Error::Io(e) => Some(DatabaseProblem::Unreachable {
            server: server(),
            why: match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => e.to_string(),
            },
        }),
        sqlx::Error::Database(db) => {
            let code = db.code();
            let number = mysql_number(db.as_ref());
            if code.as_deref() == Some("3D000") || number == Some(1049) {
                Some(DatabaseProblem::MissingDatabase {
                    backend: target.backend,
                    database: target.database.clone(),
                    host: target.host.clone(),
                    port: target.port,
                    user: target.user.clone(),
                })
            } else if matches!(code.as_deref(), Some("28P01" | "28000"))
                || matches!(number, Some(1044 | 1045))
            {
                Some(DatabaseProblem::LoginRefused {
                    server: server(),
                    user: target.user.clone(),
                    why: db.message().to_owned(),
                })
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A MySQL error's number (1049: unknown database), if it is one.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn mysql_number(db: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    #[cfg(feature = "mysql")]
    {
        db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(sqlx::mysql::MySqlDatabaseError::number)
    }
    #[cfg(not(feature = "mysql"))]
    {
        let _ = db;
        None
    }
}

/// Maps a sqlx error: constraint violations by kind (with the constraint's
/// name), connection trouble to `Unavailable`, the rest to `Other`.
pub(crate) fn map(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Database(db) => {
            let constraint = || {
                db.constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| constraint_from_message(db.message()))
            };
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => StorageError::Conflict {
                    constraint: constraint(),
                },
                sqlx::error::ErrorKind::ForeignKeyViolation => StorageError::MissingReference {
                    constraint: constraint(),
                },
                _ if is_transient(db.code().as_deref())
                    || is_mysql_transient(db.as_ref())
                    || is_sqlite_unavailable(db.as_ref()) =>
                {
                    StorageError::Unavailable(Box::new(err))
                }
                _ => StorageError::Other(Box::new(err)),
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StorageError::Unavailable(Box::new(err)),
        _ => StorageError::Other(Box::new(err)),
    }
}

/// PostgreSQL reports constraint names; SQLite and MySQL only put something
/// in the message. Recover the names the migrations give:
/// - SQLite: `UNIQUE constraint failed: users.email` (or `users.username`,
///   the column of `users_username_key`), `FOREIGN KEY constraint failed`;
/// - MariaDB: `Duplicate entry 'x' for key 'users_email_key'` (MySQL 8:
///   `'users.users_email_key'`); every primary key is called `PRIMARY`, and
///   the only one a write can collide on is `votes_pkey`;
/// - MySQL foreign keys: `... CONSTRAINT `votes_post_id_fkey` FOREIGN KEY ...`.
fn constraint_from_message(message: &str) -> String {
    if let Some(key) = message
        .split(" for key '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
    {
        let key = key.rsplit('.').next().unwrap_or(key);
        return if key == "PRIMARY" { "votes_pkey" } else { key }.to_owned();
    }
    if let Some(name) = message
        .split("CONSTRAINT `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        return name.to_owned();
    }
    match message.rsplit(": ").next().unwrap_or_default() {
        "users.email" => "users_email_key".to_owned(),
        "users.username" => "users_username_key".to_owned(),
        "votes.post_id, votes.user_id" => "votes_pkey".to_owned(),
        other => other.to_owned(),
    }
}

/// Errors that mean "try again later" rather than a bug: SQLite busy or
/// locked past the busy timeout; PostgreSQL connection failures (class 08),
/// a statement cancelled by `statement_timeout` (57014), admin shutdown
/// (57P01..57P03) and too many connections (53300); a statement interrupted
/// by MariaDB's `max_statement_time` (SQLSTATE 70100). MySQL errors that
/// only their number tells apart are [`is_mysql_transient`]'s.
fn is_transient(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    code.starts_with("08")
        || matches!(
            code,
            "5" | "6"
                | "261"
                | "262"
                | "517"
                | "57014"
                | "57P01"
                | "57P02"
                | "57P03"
                | "53300"
                | "70100"
        )
}

/// SQLite cannot reach its file after start-up: an I/O error (`SQLITE_IOERR`,
/// 10, with any extended code: a failing or vanished disk, a network file
/// system that went away) or a file it cannot open (`SQLITE_CANTOPEN`, 14:
/// a deleted directory, no descriptors left). Both pass (503), unlike a bug.
fn is_sqlite_unavailable(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "sqlite")]
    {
        db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
            && db
                .code()
                .is_some_and(|code| sqlite_code_is_unavailable(&code))
    }
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = db;
        false
    }
}

/// Whether SQLite's (extended) result code `code` is an I/O error or a
/// file it cannot open: its primary code, the low byte, is 10 or 14.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn sqlite_code_is_unavailable(code: &str) -> bool {
    code.parse::<u32>()
        .is_ok_and(|code| matches!(code & 0xff, 10 | 14))
}

/// A deadlock victim or serialization failure, which succeeds when run
/// again: PostgreSQL 40001 and 40P01, MySQL/MariaDB 1213, and SQLite's
/// stale WAL snapshot (517, which the busy timeout does not wait out).
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("40001" | "40P01" | "1213" | "517")
    )
}

/// MySQL errors that mean "try again later" whose SQLSTATE (HY000, which
/// sqlx reports as the code) does not tell: too many connections (1040), a
/// lock wait timeout (1205), and MySQL 8's `max_execution_time` cancelling
/// the statement (3024).
fn is_mysql_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    {
        db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1040 | 1205 | 3024))
    }
    #[cfg(not(feature = "mysql"))]
    {
        let _ = db;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::constraint_from_message;

    #[test]
    fn sqlite_io_and_open_errors_are_unavailable_and_others_are_not() {
        // IOERR, IOERR_READ, IOERR_SHORT_READ, IOERR_FSYNC; CANTOPEN, CANTOPEN_ISDIR.
        for code in ["10", "266", "522", "1034", "14", "526"] {
            assert!(super::sqlite_code_is_unavailable(code), "{code}");
        }
        // ERROR, READONLY, CORRUPT, CONSTRAINT_UNIQUE, a PostgreSQL SQLSTATE.
        for code in ["1", "8", "11", "2067", "22012", "08006"] {
            assert!(!super::sqlite_code_is_unavailable(code), "{code}");
        }
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_sqlite_file_that_cannot_be_opened_is_unavailable_not_a_failure() {
        use sqlx::ConnectOptions as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let err = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("gone/agora.db"))
            .create_if_missing(false)
            .connect()
            .await
            .expect_err("no such directory");
        let code = match &err {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            other => panic!("{other:?}"),
        };
        assert_eq!(code.as_deref(), Some("14"), "{err:?}");
        assert!(
            matches!(
                super::map(err),
                agora_core::storage::StorageError::Unavailable(_)
            ),
            "CANTOPEN maps to Unavailable"
        );
    }

    #[test]
    fn constraint_names_are_recovered_from_each_backends_messages() {
        let cases = [
            ("UNIQUE constraint failed: users.email", "users_email_key"),
            (
                "UNIQUE constraint failed: votes.post_id, votes.user_id",
                "votes_pkey",
            ),
            (
                "Duplicate entry 'a@b.co' for key 'users_email_key'",
                "users_email_key",
            ),
            (
                "Duplicate entry 'a@b.co' for key 'users.users_email_key'",
                "users_email_key",
            ),
            ("Duplicate entry '1-2' for key 'PRIMARY'", "votes_pkey"),
            (
                "UNIQUE constraint failed: users.username",
                "users_username_key",
            ),
            (
                "Duplicate entry 'ada' for key 'users_username_key'",
                "users_username_key",
            ),
            (
                "Duplicate entry 'ada' for key 'users.users_username_key'",
                "users_username_key",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`follows`, \
                 CONSTRAINT `follows_followee_id_fkey` FOREIGN KEY (`followee_id`) REFERENCES `users` (`id`) ON DELETE CASCADE)",
                "follows_followee_id_fkey",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`comments`, \
                 CONSTRAINT `comments_post_id_fkey` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE)",
                "comments_post_id_fkey",
            ),
            (
                "Cannot add or update a child row: a foreign key constraint fails (`t`.`votes`, \
                 CONSTRAINT `votes_post_id_fkey` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`))",
                "votes_post_id_fkey",
            ),
        ];
        for (message, name) in cases {
            assert_eq!(constraint_from_message(message), name, "{message}");
        }
    }
}

/// Start-up errors: each misconfiguration says what is wrong, names the
/// setting and the fix, and never shows the password.
#[cfg(test)]
mod startup_tests {
    use std::time::Duration;

    use crate::{ConnectError, DatabaseProblem, PoolConfig, connect};

    /// A short acquire timeout, so unreachable servers fail fast.
    fn quick() -> PoolConfig {
        PoolConfig {
            acquire_timeout: Duration::from_millis(300),
            ..PoolConfig::default()
        }
    }

    async fn refused(url: &str) -> ConnectError {
        connect(url, &quick()).await.err().expect("refused")
    }

    /// `AGORA_*` names, as the example servers show them.
    fn shown(err: ConnectError) -> String {
        err.renamed(agora_core::config::env::variable).to_string()
    }

    /// A port nothing listens on.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    /// `url` with its database (the path) replaced by `name`.
    fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let (server, _) = base.rsplit_once('/').expect("a path");
        match query {
            Some(q) => format!("{server}/{name}?{q}"),
            None => format!("{server}/{name}"),
        }
    }

    fn server_url(var: &str) -> Option<String> {
        let url = std::env::var(var).ok().filter(|u| !u.trim().is_empty());
        if url.is_none() {
            eprintln!("skipped: set {var} to run this test against a server");
        }
        url
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_missing_sqlite_directory_is_named_with_the_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("no/such");
        let url = format!("sqlite://{}/agora.db", missing.display());
        let err = refused(&url).await;
        assert!(
            matches!(
                &err,
                ConnectError::Unusable { problem, .. } if matches!(
                    **problem,
                    DatabaseProblem::MissingDirectory { not_a_directory: false, .. }
                )
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "server.database_url: the directory {0} (of the SQLite database {0}/agora.db) \
                 does not exist: create it (`mkdir -p {0}`) or fix the URL",
                missing.display()
            )
        );
        assert!(shown(err).starts_with("AGORA_DATABASE_URL: the directory "));
        assert!(!missing.exists(), "nothing is created");
        // A file where the directory should be.
        let file = dir.path().join("plain");
        std::fs::write(&file, "").expect("write");
        let err = shown(refused(&format!("sqlite://{}/agora.db", file.display())).await);
        assert!(err.contains("is not a directory: fix the URL"), "{err}");
    }

    #[cfg(all(feature = "postgres", feature = "mysql"))]
    #[tokio::test]
    async fn a_server_that_refuses_connections_is_named_not_a_pool_timeout() {
        let port = closed_port();
        for (scheme, backend) in [("postgres", "PostgreSQL"), ("mysql", "MySQL")] {
            let url = format!("{scheme}://app:s3cret@127.0.0.1:{port}/agora");
            let err = shown(refused(&url).await);
            assert_eq!(
                err,
                format!(
                    "AGORA_DATABASE_URL: cannot connect to 127.0.0.1:{port} (connection refused): \
                     is the database running, and are the host and port in the URL right?"
                ),
                "{backend}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[cfg(all(feature = "postgres", feature = "mysql"))]
    #[tokio::test]
    async fn a_server_that_never_answers_times_out_with_its_address() {
        // Accepts connections and says nothing, as a dead host behind a
        // load balancer would.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = tokio::spawn(async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                sockets.push(socket);
            }
        });
        for scheme in ["postgres", "mysql"] {
            let url = format!("{scheme}://app:s3cret@127.0.0.1:{port}/agora");
            let started = std::time::Instant::now();
            let err = shown(refused(&url).await);
            assert_eq!(
                err,
                format!(
                    "AGORA_DATABASE_URL: cannot connect to 127.0.0.1:{port} (no answer within \
                     300ms): is the database running, and are the host and port in the URL right?"
                ),
                "{scheme}"
            );
            assert!(started.elapsed() < Duration::from_secs(5), "{scheme}");
        }
        held.abort();
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_missing_postgres_database_says_how_to_create_it() {
        let Some(url) = server_url("AGORA_TEST_POSTGRES_URL") else {
            return;
        };
        let url = with_database(&url, "agora_no_such_db");
        let err = refused(&url).await;
        assert!(
            matches!(
                &err,
                ConnectError::Unusable { problem, .. }
                    if matches!(**problem, DatabaseProblem::MissingDatabase { .. })
            ),
            "{err:?}"
        );
        let err = shown(err);
        assert!(
            err.starts_with("AGORA_DATABASE_URL: database \"agora_no_such_db\" does not exist on "),
            "{err}"
        );
        assert!(err.contains("create it (`createdb -h "), "{err}");
        assert!(err.ends_with(" agora_no_such_db`) or fix the URL"), "{err}");
        assert!(!err.contains("line"), "{err}");
    }

    #[cfg(feature = "mysql")]
    #[tokio::test]
    async fn a_missing_mysql_database_says_how_to_create_it() {
        let Some(url) = server_url("AGORA_TEST_MYSQL_URL") else {
            return;
        };
        let url = with_database(&url, "agora_no_such_db");
        let err = shown(refused(&url).await);
        assert!(
            err.starts_with("AGORA_DATABASE_URL: database \"agora_no_such_db\" does not exist on "),
            "{err}"
        );
        assert!(
            err.contains("-e 'CREATE DATABASE agora_no_such_db'`) or fix the URL"),
            "{err}"
        );
    }

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[tokio::test]
    async fn an_unknown_user_is_refused_naming_the_user_not_the_password() {
        for var in ["AGORA_TEST_POSTGRES_URL", "AGORA_TEST_MYSQL_URL"] {
            let Some(url) = server_url(var) else {
                continue;
            };
            let (scheme, rest) = url.split_once("://").expect("scheme");
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let url = format!("{scheme}://agora_no_such_user:s3cret@{host}");
            let err = shown(refused(&url).await);
            assert!(
                err.contains("refused user \"agora_no_such_user\""),
                "{var}: {err}"
            );
            assert!(
                err.ends_with("fix the user or password in the URL"),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
