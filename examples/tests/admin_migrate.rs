//! `admin migrate`, run as the built binary (`examples/admin`) on a fresh
//! database of every backend (SQLite always; PostgreSQL and MySQL when
//! `AGORA_TEST_POSTGRES_URL` / `AGORA_TEST_MYSQL_URL` are set): it prints
//! each migration it applies and exits 0; run again, it applies nothing;
//! an unusable database exits 1 with the reason.

use agora_contract::harness::admin_binary;
use std::path::Path;
use std::process::{Command, Output};

use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// Runs `admin migrate` with `AGORA_DATABASE_URL` set to `url` (and no
/// other `AGORA_*` variable); returns its exit status, standard output and
/// standard error.
fn migrate(url: &str) -> (bool, String, String) {
    let mut command = Command::new(admin_binary());
    command.arg("migrate");
    for (name, _) in std::env::vars() {
        if name.starts_with("AGORA_") && !name.starts_with("AGORA_TEST_") {
            command.env_remove(name);
        }
    }
    command
        .env("AGORA_DATABASE_URL", url)
        .env("AGORA_DB_ACQUIRE_TIMEOUT", "1s");
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("admin runs");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The lines `migrate` prints for this release's migrations of `backend`
/// (`applied 0001 init`, ...), from their files' names.
fn applied_lines(backend: Backend) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../storage-sqlx/migrations")
        .join(backend.name());
    let mut lines: Vec<String> = std::fs::read_dir(dir)
        .expect("migrations")
        .map(|entry| {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            let stem = name.strip_suffix(".sql").expect("an .sql file");
            let (version, description) = stem.split_once('_').expect("version_description");
            format!("applied {version} {}", description.replace('_', " "))
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn migrate_applies_every_migration_then_nothing() {
    for backend in TestDatabase::backends() {
        let Some(db) = TestDatabase::create(backend).await else {
            continue;
        };
        let url = db.url().to_owned();
        let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || migrate(&url))
            .await
            .expect("runs");
        assert!(ok, "{backend:?}: {stdout}{stderr}");
        let expected = applied_lines(backend);
        let applied: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("applied "))
            .collect();
        assert_eq!(applied, expected, "{backend:?}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "database migrated: {} migrations applied",
                expected.len()
            )),
            "{stdout}"
        );

        let url = db.url().to_owned();
        let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || migrate(&url))
            .await
            .expect("runs");
        assert!(ok, "{backend:?}: {stdout}{stderr}");
        assert_eq!(
            stdout.trim(),
            "nothing to apply: the database is up to date",
            "{backend:?}"
        );
    }
}

#[test]
fn migrate_on_an_unusable_database_exits_1_naming_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no/such");
    let (ok, stdout, stderr) = migrate(&format!("sqlite://{}/agora.db", missing.display()));
    assert!(!ok, "{stdout}");
    assert!(
        stderr.starts_with(&format!(
            "error: AGORA_DATABASE_URL: the directory {} (of the SQLite database",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(!stdout.contains("applied"), "{stdout}");
}
