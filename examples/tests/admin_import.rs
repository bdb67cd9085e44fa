//! `cargo run --example admin -- import-fastapi SOURCE_URL`, run as the
//! built binary: a FastAPI database (SQLite, made with the original app's
//! DDL and a passlib-style bcrypt hash) copied into Agora's, refused while
//! a row is invalid, then imported with `--skip-invalid`, then run again;
//! an imported user then logs in through Agora with the old password.
//! (The library's own tests, `storage-sqlx/tests/import.rs`, cover every
//! pair of backends.)

use agora_contract::harness::admin_binary;
use std::process::{Command, Output};
use std::str::FromStr;

use agora_core::config::JwtSecret;
use agora_core::domain::ClientInfo;
use agora_core::schema::LoginRequest;
use agora_core::{Config, UserId};
use agora_sqlx::testing::FASTAPI_SQLITE_DDL;
use sqlx::{AssertSqlSafe, Connection};

const PASSWORD: &str = "the old fastapi password";

/// Runs `admin import-fastapi` with `args` on Agora's database `target`
/// (and no other `AGORA_*` variable): exit code, stdout, stderr.
fn import(target: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = Command::new(admin_binary());
    command.arg("import-fastapi").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AGORA_") {
            command.env_remove(name);
        }
    }
    command.env("AGORA_DATABASE_URL", target);
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("admin runs");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (status.code(), text(stdout), text(stderr))
}

#[tokio::test]
async fn import_fastapi_refuses_invalid_rows_then_imports_the_rest_once() {
    let dir = tempfile::tempdir().expect("a directory");
    let source = format!("sqlite://{}", dir.path().join("fastapi.db").display());
    let target = format!("sqlite://{}", dir.path().join("agora.db").display());

    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    let sql = format!(
        "{FASTAPI_SQLITE_DDL}
        INSERT INTO users (id, email, password, created_at) VALUES
            (4, 'Ada@Example.com', '{hash}', '2021-08-29 23:04:56.038967'),
            (7, 'not-an-email', '{hash}', '2021-08-30 10:00:00.000001');
        INSERT INTO posts (id, title, content, published, created_at, owner_id) VALUES
            (12, 'Hello', 'first post', 1, '2021-08-31 08:00:00.123456', 4),
            (15, 'Mine', 'by the invalid user', 0, '2021-09-01 08:00:00.000000', 7);
        INSERT INTO votes (user_id, post_id) VALUES (4, 12), (7, 12);"
    );
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&source)
        .expect("a SQLite URL")
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("the source opens");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("the source is filled");
    conn.close().await.expect("closed");

    // Refused, each row named with its reason, nothing written.
    let (code, stdout, stderr) = import(&target, &[&source]);
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("users id 7: the email \"not-an-email\" is not a valid address"),
        "{stdout}"
    );
    assert!(
        stdout.contains("posts id 15: user 7 is not imported"),
        "{stdout}"
    );
    assert!(
        stdout.contains("votes user_id 7 post_id 12: user 7 is not imported"),
        "{stdout}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(stderr.contains("--skip-invalid"), "{stderr}");

    // The rest imported; stderr (not a terminal here) has no progress bar.
    let (code, stdout, stderr) = import(&target, &["--skip-invalid", "--batch-size", "1", &source]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    for line in [
        "users: 2 read, 1 imported, 0 already present, 1 skipped",
        "posts: 2 read, 1 imported, 0 already present, 1 skipped",
        "votes: 2 read, 1 imported, 0 already present, 1 skipped",
        "users id 7: the email \"not-an-email\" is not a valid address",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }

    // Once only.
    let (code, stdout, stderr) = import(&target, &["--skip-invalid", &source]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for line in [
        "users: 2 read, 0 imported, 1 already present, 1 skipped",
        "posts: 2 read, 0 imported, 1 already present, 1 skipped",
        "votes: 2 read, 0 imported, 1 already present, 1 skipped",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }

    // Ada logs in to Agora with her FastAPI password, as user 4.
    let mut config = Config::default();
    config.tokens.secret = Some(JwtSecret::generate());
    config.server.database_url = target;
    let agora = agora_sqlx::open(&config).await.expect("Agora opens");
    let login = LoginRequest {
        email: "ada@example.com".to_owned(),
        password: PASSWORD.to_owned(),
    };
    let token = agora
        .login(login, &ClientInfo::default())
        .await
        .expect("the old password works");
    let caller = agora
        .authenticate(&token.access_token)
        .await
        .expect("the token works");
    assert_eq!(caller.id(), UserId(4));
    let post = agora
        .get_post(Some(&caller), agora_core::PostId(12))
        .await
        .expect("post 12 imported");
    assert_eq!((post.votes, post.voted), (1, true));
    assert_eq!(
        post.post.created_at.to_rfc3339(),
        "2021-08-31T08:00:00.123456+00:00"
    );
}
