//! Throwaway databases for tests (feature `testing`): each test gets its own
//! fresh, migrated database, dropped when the guard goes out of scope, so
//! tests run in parallel and leave nothing behind.
//!
//! SQLite always works (a temporary file). PostgreSQL and MySQL need a server:
//! set `AGORA_TEST_POSTGRES_URL` / `AGORA_TEST_MYSQL_URL` to a URL whose user
//! may create databases, e.g. `postgres://postgres@127.0.0.1:5432/test` and
//! `mysql://root@127.0.0.1:3306/test`. When unset, [`TestDatabase::create`]
//! returns `None` and prints one "skipped" line per backend and process.

use std::io::Write;
use std::sync::Once;

use sqlx::Connection;

use crate::Backend;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "AGORA_TEST_POSTGRES_URL";
/// The variable naming the MySQL/MariaDB server for tests.
pub const MYSQL_ENV: &str = "AGORA_TEST_MYSQL_URL";

/// A fresh database that is dropped (or deleted) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    backend: Backend,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

static SKIP_POSTGRES: Once = Once::new();
static SKIP_MYSQL: Once = Once::new();

/// Says once per process that a backend's tests are skipped. Written to the
/// process's stderr directly, past the test harness's output capture, so the
/// line shows in a normal `cargo test` run.
fn announce_skip(once: &Once, backend: &str, var: &str) {
    once.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {backend} tests (set {var} to run them against a server)"
        );
    });
}

impl TestDatabase {
    /// Every backend whose server is configured (SQLite always).
    pub fn backends() -> Vec<Backend> {
        let mut backends = vec![Backend::Sqlite];
        for (backend, var, once) in [
            (Backend::Postgres, POSTGRES_ENV, &SKIP_POSTGRES),
            (Backend::MySql, MYSQL_ENV, &SKIP_MYSQL),
        ] {
            if admin_url(var).is_some() {
                backends.push(backend);
            } else {
                announce_skip(once, backend.name(), var);
            }
        }
        backends
    }

    /// A fresh, empty database for `backend` (not yet migrated: connecting
    /// with [`crate::connect`] migrates it), or `None` when that backend's
    /// server is not configured.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        let name = format!("agora_test_{}", random_hex(8));
        match backend {
            Backend::Sqlite => {
                #[allow(clippy::expect_used)]
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("agora.db").display());
                Some(TestDatabase {
                    url,
                    backend,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres | Backend::MySql => {
                let (var, once) = match backend {
                    Backend::Postgres => (POSTGRES_ENV, &SKIP_POSTGRES),
                    _ => (MYSQL_ENV, &SKIP_MYSQL),
                };
                let Some(admin) = admin_url(var) else {
                    announce_skip(once, backend.name(), var);
                    return None;
                };
                run_admin(backend, &admin, &format!("CREATE DATABASE {name}")).await;
                let url = with_database(&admin, &name);
                Some(TestDatabase {
                    url,
                    backend,
                    admin_url: Some(admin),
                    name,
                    _dir: None,
                })
            }
        }
    }

    /// The database's URL, for [`crate::connect`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin) = self.admin_url.clone() else {
            return;
        };
        let sql = match self.backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let backend = self.backend;
        // Drop may run inside a tokio runtime (which cannot block), or while
        // unwinding from a failed test: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(run_admin(backend, &admin, &sql)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {}",
                self.name
            );
        }
    }
}

fn admin_url(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Runs one administrative statement on the server; panics with the reason
/// (a test cannot go on without its database).
#[allow(clippy::panic)]
async fn run_admin(backend: Backend, admin_url: &str, sql: &str) {
    let result = match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => match sqlx::PgConnection::connect(admin_url).await {
            Ok(mut conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        #[cfg(feature = "mysql")]
        Backend::MySql => match sqlx::MySqlConnection::connect(admin_url).await {
            Ok(mut conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map(drop),
            Err(e) => Err(e),
        },
        #[allow(unreachable_patterns)]
        other => panic!("{} support is not compiled in", other.name()),
    };
    if let Err(e) = result {
        panic!(
            "`{sql}` failed on {}: {e}",
            crate::redact_password(admin_url)
        );
    }
}

/// `scheme://user@host:port/anything?query` with the database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut url = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("OS random numbers");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn test_database_urls_replace_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306", "x"),
            "mysql://root@h:3306/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
