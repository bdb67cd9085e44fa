//! The operator command, `cargo run --example admin -- <command>`, run as
//! the built binary (`examples/admin`) against real databases: SQLite
//! always, PostgreSQL when `AGORA_TEST_POSTGRES_URL` is set (skipped with a
//! line on stderr otherwise), Redis for `check-config` when
//! `AGORA_TEST_REDIS_URL` is set. What the commands did is checked through
//! Agora itself, on the same database: logins, access and refresh tokens.

use agora_contract::harness::admin_binary;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use agora_core::config::JwtSecret;
use agora_core::domain::ClientInfo;
use agora_core::schema::{LoginRequest, RefreshRequest, Token};
use agora_core::{Agora, Config, Error};
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// A secret good enough to start with.
const SECRET: &str = "3f6c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const PASSWORD: &str = "plum orchard at dusk";
const NEW_PASSWORD: &str = "lanterns over the harbour";
const ADA: &str = "ada@example.com";

/// Runs `admin args...` in `dir` with `vars` (and no other `AGORA_*`
/// variable), `stdin` on its standard input.
fn admin(dir: &Path, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(admin_binary());
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("AGORA_") && !name.starts_with("AGORA_TEST_") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    let mut child = command.spawn().expect("admin runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("admin ends")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The output of a command that succeeded.
fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The `error: ...` line of a command that failed.
fn failed(output: Output) -> String {
    assert!(!output.status.success(), "succeeded: {}", stdout(&output));
    let stderr = stderr(&output);
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"))
        .to_owned()
}

/// Agora on the database at `url`, as a server would open it.
async fn agora(url: &str) -> Agora {
    let mut config = Config::default();
    config.server.database_url = url.to_owned();
    config.tokens.secret = Some(JwtSecret::new(SECRET).expect("secret"));
    config.throttle.enabled = false;
    agora_sqlx::open(&config).await.expect("opened")
}

async fn login(agora: &Agora, password: &str) -> Result<Token, Error> {
    let request = LoginRequest {
        email: ADA.to_owned(),
        password: password.to_owned(),
    };
    agora.login(request, &ClientInfo::default()).await
}

/// Whether the access token and the refresh token of `token` are both refused.
async fn both_refused(agora: &Agora, token: &Token) -> bool {
    let refresh = RefreshRequest {
        refresh_token: token.refresh_token.clone(),
    };
    matches!(
        agora.authenticate(&token.access_token).await,
        Err(Error::Unauthorized)
    ) && matches!(
        agora.refresh(refresh, &ClientInfo::default()).await,
        Err(Error::Unauthorized)
    )
}

/// Every user command on `backend`, checked through Agora on the same database.
async fn user_commands_on(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return; // skipped, said on stderr
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = [("AGORA_DATABASE_URL", db.url())];
    let run = |args: &[&str], stdin: &str| admin(dir.path(), &vars, args, stdin);
    let with_password = |password: &str| format!("{password}\n");

    // create-user prints the new id; the user logs in through Agora.
    let created = succeeded(run(
        &["create-user", ADA, "--username", "ada", "--password-stdin"],
        &with_password(PASSWORD),
    ));
    let id: i64 = created.trim().parse().expect("the new id alone");
    let agora = agora(db.url()).await;
    let first = login(&agora, PASSWORD).await.expect("logs in");
    let caller = agora.authenticate(&first.access_token).await.expect("ok");
    assert_eq!(caller.id().0, id);
    assert_eq!(
        caller.user().username.as_ref().map(|u| u.to_string()),
        Some("ada".to_owned())
    );

    // A taken address, the password policy, a malformed address.
    let taken = failed(run(
        &["create-user", "ADA@example.com", "--password-stdin"],
        &with_password(NEW_PASSWORD),
    ));
    assert_eq!(taken, "User with email: ada@example.com already exists");
    let weak = failed(run(
        &["create-user", "bob@example.com", "--password-stdin"],
        &with_password("password"),
    ));
    assert!(weak.starts_with("password: "), "{weak}");
    let malformed = failed(run(
        &["create-user", "bob", "--password-stdin"],
        &with_password(PASSWORD),
    ));
    assert!(malformed.starts_with("email: "), "{malformed}");
    // No password on standard input: refused, nothing created.
    let empty = failed(run(
        &["create-user", "bob@example.com", "--password-stdin"],
        "",
    ));
    assert_eq!(empty, "--password-stdin: standard input is empty");

    // set-password: the policy applies; then every session ends.
    let second = login(&agora, PASSWORD).await.expect("logs in");
    let weak = failed(run(
        &["set-password", ADA, "--password-stdin"],
        &with_password("short"),
    ));
    assert!(weak.starts_with("password: "), "{weak}");
    agora
        .authenticate(&first.access_token)
        .await
        .expect("a refused password changes nothing");
    let output = run(
        &["set-password", ADA, "--password-stdin"],
        &with_password(NEW_PASSWORD),
    );
    // Audited on stderr, without the password.
    let log = stderr(&output);
    assert!(
        log.contains(&format!(
            "agora::audit: event=\"admin_set_password\" user_id={id} sessions_ended=2"
        )),
        "{log}"
    );
    assert!(!log.contains(NEW_PASSWORD), "{log}");
    let set = succeeded(output);
    assert_eq!(
        set.trim(),
        format!("password set for user {id}; ended 2 session(s)")
    );
    assert!(both_refused(&agora, &first).await);
    assert!(both_refused(&agora, &second).await);
    assert!(matches!(
        login(&agora, PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));

    // revoke-sessions ends every session and says how many.
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(login(&agora, NEW_PASSWORD).await.expect("new password"));
    }
    let revoked = succeeded(run(&["revoke-sessions", ADA], ""));
    assert_eq!(revoked.trim(), format!("ended 3 session(s) of user {id}"));
    for token in &sessions {
        assert!(both_refused(&agora, token).await);
    }
    login(&agora, NEW_PASSWORD)
        .await
        .expect("the password is unchanged");

    // An address no account has.
    for args in [
        &["set-password", "nobody@example.com", "--password-stdin"][..],
        &["revoke-sessions", "nobody@example.com"][..],
    ] {
        let error = failed(run(args, &with_password(NEW_PASSWORD)));
        assert_eq!(
            error, "no account has the address \"nobody@example.com\"",
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn user_commands_on_sqlite() {
    user_commands_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn user_commands_on_postgres() {
    user_commands_on(Backend::Postgres).await;
}

/// The value of `NAME=value` in the output of gen-key.
fn setting<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn gen_key_writes_private_keys_that_sign_agoras_tokens() {
    for (kind, algorithm) in [("ed25519", "EdDSA"), ("es256", "ES256")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("keys/signing.pem");
        std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
        let out_arg = out.to_str().expect("path");
        let printed = succeeded(admin(
            dir.path(),
            &[],
            &["gen-key", kind, "--out", out_arg],
            "",
        ));
        assert_eq!(mode(&out), 0o600, "{kind}");
        let pem = std::fs::read_to_string(&out).expect("key");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        // Only the key itself is left in the directory.
        assert_eq!(
            std::fs::read_dir(out.parent().expect("dir"))
                .expect("ls")
                .count(),
            1
        );

        // Never overwritten without --force; replaced with it.
        let refused = failed(admin(
            dir.path(),
            &[],
            &["gen-key", kind, "--out", out_arg],
            "",
        ));
        assert!(refused.contains("exists: not overwritten"), "{refused}");
        assert_eq!(std::fs::read_to_string(&out).expect("key"), pem);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let printed_again = succeeded(admin(
            dir.path(),
            &[],
            &["gen-key", kind, "--out", out_arg, "--force"],
            "",
        ));
        assert_ne!(std::fs::read_to_string(&out).expect("key"), pem);
        assert_eq!(mode(&out), 0o600, "a replaced key is 0600 too");
        assert_ne!(printed, printed_again, "a new key, a new key id");

        // The variables it prints configure a server that signs with it.
        assert_eq!(setting(&printed_again, "AGORA_JWT_ALGORITHM"), algorithm);
        let key_file = setting(&printed_again, "AGORA_JWT_PRIVATE_KEY_FILE").to_owned();
        let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
        let vars = [
            ("AGORA_JWT_ALGORITHM", algorithm.to_owned()),
            ("AGORA_JWT_PRIVATE_KEY_FILE", key_file),
            ("AGORA_DATABASE_URL", db.url().to_owned()),
        ];
        let config = Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
        .expect("configuration");
        let agora = agora_sqlx::open(&config).await.expect("opened");
        agora
            .admin_create_user(agora_core::schema::UserCreate {
                email: ADA.to_owned(),
                password: PASSWORD.to_owned(),
                username: None,
            })
            .await
            .expect("created");
        let token = login(&agora, PASSWORD).await.expect("logs in");
        agora
            .authenticate(&token.access_token)
            .await
            .expect("the token verifies");
        let jwks = agora.jwks().expect("published public key");
        let kid = jwks["keys"][0]["kid"].as_str().expect("kid");
        assert!(
            printed_again.contains(&format!("key id {kid}")),
            "{printed_again}"
        );
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Runs check-config with `vars`; its exit status and standard output.
fn check(dir: &Path, vars: &[(&str, &str)]) -> (bool, String) {
    let output = admin(dir, vars, &["check-config", "--timeout", "5s"], "");
    let out = stdout(&output);
    eprintln!("{out}");
    (output.status.success(), out)
}

/// The line of `check`, which must be there.
fn line<'a>(output: &'a str, check: &str) -> &'a str {
    output
        .lines()
        .find(|l| l[5.min(l.len())..].starts_with(&format!("{check}: ")))
        .unwrap_or_else(|| panic!("no {check} line in {output}"))
}

/// Migrates the database at `url` as `admin migrate` does; this release's
/// migrations, newest last.
async fn migrated(url: &str) -> Vec<agora_sqlx::MigrationInfo> {
    let mut config = Config::default();
    config.server.database_url = url.to_owned();
    agora_sqlx::migrate(&config)
        .await
        .expect("migrates")
        .applied
}

#[tokio::test]
async fn check_config_passes_on_a_good_setup_and_prints_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agora.db").display());
    let all = migrated(&url).await.len();
    let redis = std::env::var("AGORA_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let mut vars = vec![
        ("AGORA_DATABASE_URL", url.as_str()),
        ("AGORA_JWT_SECRET", SECRET),
    ];
    match &redis {
        Some(redis) => vars.push(("AGORA_REDIS_URL", redis)),
        None => eprintln!("skipped: the Redis check (set AGORA_TEST_REDIS_URL to run it)"),
    }
    let (passed, out) = check(dir.path(), &vars);
    assert!(passed, "{out}");
    for name in ["configuration", "signing keys", "mail", "database"] {
        assert!(line(&out, name).starts_with("ok   "), "{out}");
    }
    assert!(line(&out, "signing keys").contains("HS256 from AGORA_JWT_SECRET"));
    assert_eq!(
        line(&out, "database"),
        format!("ok   database: reachable ({url}; {all} migrations applied, 0 pending)")
    );
    if redis.is_some() {
        assert!(line(&out, "redis").ends_with("answers PING"), "{out}");
    }
    assert_eq!(out.lines().last(), Some("all checks passed"));
    assert!(!out.contains(SECRET));

    // Without a secret on SQLite: the server would generate one; the check
    // writes no secret file.
    let (passed, out) = check(dir.path(), &[("AGORA_DATABASE_URL", url.as_str())]);
    assert!(passed, "{out}");
    assert!(
        line(&out, "signing keys").contains("a server generates"),
        "{out}"
    );
    assert!(!dir.path().join("agora.db.jwt-secret").exists());
}

#[test]
fn check_config_fails_naming_a_bad_variable_or_database_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (passed, out) = check(dir.path(), &[("AGORA_DB_ACQUIRE_TIMEOUT", "soon")]);
    assert!(!passed);
    assert!(
        line(&out, "configuration").starts_with("FAIL configuration: AGORA_DB_ACQUIRE_TIMEOUT: "),
        "{out}"
    );

    let (passed, out) = check(
        dir.path(),
        &[
            ("AGORA_DATABASE_URL", "oracle://app:s3cret@db/agora"),
            ("AGORA_JWT_SECRET", SECRET),
        ],
    );
    assert!(!passed);
    assert!(
        line(&out, "database").starts_with("FAIL database: unsupported database URL"),
        "{out}"
    );
    assert!(!out.contains("s3cret"), "{out}");
    assert_eq!(out.lines().last(), Some("1 check(s) failed"));

    // PostgreSQL without a secret: refused, and no secret file written.
    let port = closed_port();
    let url = format!("postgres://app:s3cret@127.0.0.1:{port}/agora");
    let (passed, out) = check(dir.path(), &[("AGORA_DATABASE_URL", &url)]);
    assert!(!passed);
    assert!(
        line(&out, "signing keys").starts_with("FAIL signing keys: AGORA_JWT_SECRET: not set"),
        "{out}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}

#[test]
fn check_config_fails_naming_an_unreachable_database_or_redis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = closed_port();
    let url = format!("postgres://app:s3cret@127.0.0.1:{port}/agora");
    let (passed, out) = check(
        dir.path(),
        &[("AGORA_DATABASE_URL", &url), ("AGORA_JWT_SECRET", SECRET)],
    );
    assert!(!passed);
    assert_eq!(
        line(&out, "database"),
        format!(
            "FAIL database: AGORA_DATABASE_URL: cannot connect to 127.0.0.1:{port} (connection \
             refused): is the database running, and are the host and port in the URL right?"
        )
    );
    assert!(!out.contains("s3cret"), "{out}");
    // The user commands say the same.
    let error = failed(admin(
        dir.path(),
        &[("AGORA_DATABASE_URL", &url)],
        &["revoke-sessions", ADA],
        "",
    ));
    assert_eq!(
        error,
        format!(
            "AGORA_DATABASE_URL: cannot connect to 127.0.0.1:{port} (connection refused): is the \
             database running, and are the host and port in the URL right?"
        )
    );

    // An empty file: an empty SQLite database (migrations pending).
    std::fs::write(dir.path().join("agora.db"), "").expect("empty database");
    let sqlite = format!("sqlite://{}", dir.path().join("agora.db").display());
    let redis = format!("redis://:hunter2@127.0.0.1:{}", closed_port());
    let (passed, out) = check(
        dir.path(),
        &[
            ("AGORA_DATABASE_URL", &sqlite),
            ("AGORA_JWT_SECRET", SECRET),
            ("AGORA_REDIS_URL", &redis),
        ],
    );
    assert!(!passed);
    assert!(line(&out, "database").starts_with("ok   "), "{out}");
    let redis_line = line(&out, "redis");
    assert!(
        redis_line.starts_with("FAIL redis: AGORA_REDIS_URL: redis://:***@127.0.0.1:"),
        "{out}"
    );
    assert!(redis_line.contains("Redis does not answer"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn check_config_fails_on_a_missing_sqlite_file_and_creates_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("agora.db");
    let url = format!("sqlite://{}", file.display());
    let (passed, out) = check(
        dir.path(),
        &[("AGORA_DATABASE_URL", &url), ("AGORA_JWT_SECRET", SECRET)],
    );
    assert!(!passed, "{out}");
    assert_eq!(
        line(&out, "database"),
        format!(
            "FAIL database: AGORA_DATABASE_URL: the SQLite database {} does not exist: a \
             server's first start creates it (and migrates it), as a migration run does; or fix \
             the URL",
            file.display()
        )
    );
    assert_eq!(out.lines().last(), Some("1 check(s) failed"));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "no file created"
    );
}

#[tokio::test]
async fn check_config_on_an_empty_postgres_database_passes_reports_pending_and_migrates_nothing() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return; // skipped, said on stderr
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (passed, out) = check(
        dir.path(),
        &[
            ("AGORA_DATABASE_URL", db.url()),
            ("AGORA_JWT_SECRET", SECRET),
        ],
    );
    assert!(passed, "{out}");
    let pending = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage-sqlx/migrations/postgres"),
    )
    .expect("migrations")
    .count();
    assert_eq!(
        line(&out, "database"),
        format!(
            "ok   database: reachable ({}; 0 migrations applied, {pending} pending): \
             `admin migrate` or a server start applies them",
            db.url()
        )
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db.url())
        .await
        .expect("connect");
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(table, None, "nothing migrated");
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&mut conn)
    .await
    .expect("query");
    assert_eq!(tables, 0, "no table created");
}

#[tokio::test]
async fn check_config_fails_on_a_database_a_newer_release_marked_too_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agora.db").display());
    let newest = migrated(&url).await.last().expect("a migration").version;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    sqlx::query("UPDATE agora_schema_compat SET min_schema_version = 99")
        .execute(&mut conn)
        .await
        .expect("marker raised");
    drop(conn);
    let (passed, out) = check(
        dir.path(),
        &[("AGORA_DATABASE_URL", &url), ("AGORA_JWT_SECRET", SECRET)],
    );
    assert!(!passed, "{out}");
    let database = line(&out, "database");
    assert!(
        database.starts_with(&format!(
            "FAIL database: AGORA_DATABASE_URL: {url}: the database needs a newer release"
        )),
        "{out}"
    );
    assert!(
        database.contains("newest migration is 99 or later")
            && database.contains(&format!("this one's newest is {newest}")),
        "{out}"
    );
}
