//! `agora_sqlx::import`: the FastAPI app's database (PostgreSQL or SQLite,
//! built with the original app's DDL and passlib-style bcrypt hashes)
//! copied into Agora's on every backend. PostgreSQL and MySQL cases skip
//! with one printed line when `AGORA_TEST_POSTGRES_URL` /
//! `AGORA_TEST_MYSQL_URL` are unset.

use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agora_core::config::{JwtSecret, TokenConfig};
use agora_core::domain::{ClientInfo, PostWithVotes};
use agora_core::schema::{LoginRequest, PostCreate, UserCreate};
use agora_core::storage::Store;
use agora_core::{Agora, Caller, Config, Email, PostId, User, UserId};
use agora_sqlx::import::{
    ImportOptions, ImportProgress, NoProgress, RowKey, SkipReason, SkippedRow, Stage, Table,
    TableCounts,
};
use agora_sqlx::testing::{FASTAPI_POSTGRES_DDL, FASTAPI_SQLITE_DDL, TestDatabase};
use agora_sqlx::{Backend, ImportError, import_fastapi};
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Connection};

/// A user of the source: id, email, password (hashed with bcrypt).
struct SourceUser {
    id: i64,
    email: &'static str,
    password: String,
}

/// The rows of a source database.
struct Fixture {
    users: Vec<SourceUser>,
    /// id, title, content, published, owner.
    posts: Vec<(i64, &'static str, &'static str, bool, i64)>,
    /// user, post.
    votes: Vec<(i64, i64)>,
}

fn user(id: i64, email: &'static str) -> SourceUser {
    SourceUser {
        id,
        email,
        password: format!("the old fastapi password of {id}"),
    }
}

/// Five users, five posts (one unpublished), six votes; ids with gaps.
fn fixture() -> Fixture {
    Fixture {
        users: vec![
            user(2, "ada@example.com"),
            user(3, "grace@example.com"),
            user(5, "Linus@Example.com"),
            user(8, "barbara@example.org"),
            user(13, "edsger@example.net"),
        ],
        posts: vec![
            (10, "Hello", "first post", true, 2),
            (11, "Draft", "not yet", false, 2),
            (20, "Compilers", "and such", true, 3),
            (21, "Kernels", "monolithic", true, 5),
            (30, "Goto", "considered harmful", true, 13),
        ],
        votes: vec![(2, 20), (3, 10), (3, 21), (5, 10), (8, 10), (13, 30)],
    }
}

/// A user's `created_at` in the source: a distinct time with microseconds.
fn user_created(id: i64) -> DateTime<Utc> {
    at(2021, id, id * 37_017)
}

/// A post's `created_at` in the source.
fn post_created(id: i64) -> DateTime<Utc> {
    at(2022, id, id * 12_345 + 1)
}

fn at(year: i32, id: i64, micros: i64) -> DateTime<Utc> {
    let text = format!(
        "{year}-08-{:02}T{:02}:04:56.{:06}Z",
        id % 28 + 1,
        id % 24,
        micros % 1_000_000
    );
    DateTime::parse_from_rfc3339(&text)
        .expect("a time")
        .with_timezone(&Utc)
}

/// The SQL literal of a time, as each source stores it.
fn time_literal(backend: Backend, at: DateTime<Utc>) -> String {
    match backend {
        // SQLAlchemy's text form on SQLite, without a zone.
        Backend::Sqlite => format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f")),
        _ => format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f+00")),
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A FastAPI database on `backend` holding `fixture`.
async fn source(backend: Backend, fixture: &Fixture) -> Option<TestDatabase> {
    let db = TestDatabase::create(backend).await?;
    let mut sql = String::from(match backend {
        Backend::Sqlite => FASTAPI_SQLITE_DDL,
        _ => FASTAPI_POSTGRES_DDL,
    });
    for u in &fixture.users {
        let hash = bcrypt::hash(&u.password, 4).expect("bcrypt");
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        sql.push_str(&format!(
            "\nINSERT INTO users (id, email, password, created_at) VALUES ({}, {}, {}, {});",
            u.id,
            quoted(u.email),
            quoted(&hash),
            time_literal(backend, user_created(u.id))
        ));
    }
    for (id, title, content, published, owner) in &fixture.posts {
        sql.push_str(&format!(
            "\nINSERT INTO posts (id, title, content, published, created_at, owner_id) \
             VALUES ({id}, {}, {}, {}, {}, {owner});",
            quoted(title),
            quoted(content),
            if *published { "TRUE" } else { "FALSE" },
            time_literal(backend, post_created(*id))
        ));
    }
    for (user, post) in &fixture.votes {
        sql.push_str(&format!(
            "\nINSERT INTO votes (user_id, post_id) VALUES ({user}, {post});"
        ));
    }
    run_sql(&db, &sql).await;
    Some(db)
}

/// Runs statements on a source database (creating a SQLite file).
async fn run_sql(db: &TestDatabase, sql: &str) {
    match db.backend() {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
                .expect("a SQLite URL")
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("the source opens");
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .expect("the source is filled");
        }
        _ => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("the source opens");
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .expect("the source is filled");
        }
    }
}

/// The configuration of an import into `target`.
fn config(target: &TestDatabase) -> Config {
    let mut config = Config {
        tokens: TokenConfig {
            secret: Some(JwtSecret::generate()),
            ..TokenConfig::default()
        },
        ..Config::default()
    };
    config.server.database_url = target.url().to_owned();
    config
}

fn options(batch_size: usize, skip_invalid: bool) -> ImportOptions {
    ImportOptions {
        batch_size,
        skip_invalid,
    }
}

/// Stops the import after its first committed batch, as a crash would.
#[derive(Default)]
struct StopAfterFirstBatch {
    copied: AtomicUsize,
}

impl ImportProgress for StopAfterFirstBatch {
    fn advance(&self, stage: Stage, _table: Table, _rows: u64) -> ControlFlow<()> {
        if stage == Stage::Copying && self.copied.fetch_add(1, Ordering::SeqCst) == 0 {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

fn counts(read: u64, imported: u64, already_present: u64, skipped: u64) -> TableCounts {
    TableCounts {
        read,
        imported,
        already_present,
        skipped,
    }
}

async fn store(target: &TestDatabase) -> Arc<dyn Store> {
    agora_sqlx::connect(target.url(), &agora_sqlx::PoolConfig::default())
        .await
        .expect("Agora's database opens")
}

/// Everything of the fixture's rows as Agora's store shows them: each
/// user with their password hash, each post as each user sees it.
async fn dump(store: &dyn Store, fixture: &Fixture) -> (Vec<(User, String)>, Vec<PostWithVotes>) {
    let mut users = Vec::new();
    for u in &fixture.users {
        let user = store
            .get_user(UserId(u.id))
            .await
            .expect("get_user")
            .unwrap_or_else(|| panic!("user {} imported", u.id));
        let email = user.email.clone().expect("an email");
        let credentials = store
            .find_credentials(&email)
            .await
            .expect("find_credentials")
            .expect("credentials");
        users.push((user, credentials.password_hash));
    }
    let mut posts = Vec::new();
    for (id, ..) in &fixture.posts {
        for u in &fixture.users {
            let post = store
                .get_post(PostId(*id), Some(UserId(u.id)))
                .await
                .expect("get_post")
                .unwrap_or_else(|| panic!("post {id} imported"));
            posts.push(post);
        }
    }
    (users, posts)
}

/// Users, posts and votes of the fixture, exactly.
async fn assert_imported(store: &dyn Store, fixture: &Fixture) {
    for u in &fixture.users {
        let user = store
            .get_user(UserId(u.id))
            .await
            .expect("get_user")
            .unwrap_or_else(|| panic!("user {} imported", u.id));
        let email = Email::parse(u.email).expect("a valid email");
        assert_eq!(user.email.as_ref(), Some(&email), "user {}", u.id);
        assert_eq!(user.created_at, user_created(u.id), "user {}", u.id);
        let hash = store
            .find_credentials(&email)
            .await
            .expect("find_credentials")
            .expect("credentials")
            .password_hash;
        assert!(hash.starts_with("$2b$04$"), "bcrypt hash kept: {hash}");
    }
    for (id, title, content, published, owner) in &fixture.posts {
        for u in &fixture.users {
            let seen = store
                .get_post(PostId(*id), Some(UserId(u.id)))
                .await
                .expect("get_post")
                .unwrap_or_else(|| panic!("post {id} imported"));
            let post = &seen.post;
            assert_eq!(
                (post.title.as_str(), post.content.as_str(), post.published),
                (*title, *content, *published),
                "post {id}"
            );
            assert_eq!(post.created_at, post_created(*id), "post {id}");
            assert_eq!(post.owner_id, UserId(*owner), "post {id}");
            let votes = fixture.votes.iter().filter(|(_, p)| p == id).count();
            assert_eq!(
                seen.votes,
                i64::try_from(votes).expect("small"),
                "post {id}"
            );
            let voted = fixture.votes.contains(&(u.id, *id));
            assert_eq!(seen.voted, voted, "vote of user {} on post {id}", u.id);
        }
    }
}

/// The whole story on one pair of backends: a run stopped after its first
/// batch, completed by the next; everything kept; a third run finds all of
/// it present and changes nothing; an imported user logs in with the old
/// password (the hash becomes argon2id); new users and posts get new ids.
async fn scenario(from: Backend, into: Backend) {
    let fixture = fixture();
    let Some(source) = source(from, &fixture).await else {
        return;
    };
    let Some(target) = TestDatabase::create(into).await else {
        return;
    };
    let config = config(&target);

    let stopper = StopAfterFirstBatch::default();
    let first = import_fastapi(source.url(), &config, &options(2, false), &stopper)
        .await
        .expect("the first run");
    assert!(first.stopped, "stopped after one batch");
    assert_eq!(first.users, counts(2, 2, 0, 0));
    assert_eq!(first.posts, TableCounts::default());

    let second = import_fastapi(source.url(), &config, &options(2, false), &NoProgress)
        .await
        .expect("the second run");
    assert!(!second.stopped);
    assert_eq!(second.users, counts(5, 3, 2, 0));
    assert_eq!(second.posts, counts(5, 5, 0, 0));
    assert_eq!(second.votes, counts(6, 6, 0, 0));
    assert!(second.skipped.is_empty(), "{:?}", second.skipped);

    let store = store(&target).await;
    assert_imported(&*store, &fixture).await;

    let before = dump(&*store, &fixture).await;
    let third = import_fastapi(
        source.url(),
        &config,
        &ImportOptions::default(),
        &NoProgress,
    )
    .await
    .expect("the third run");
    assert_eq!(
        (third.users, third.posts, third.votes),
        (counts(5, 0, 5, 0), counts(5, 0, 5, 0), counts(6, 0, 6, 0))
    );
    assert!(third.skipped.is_empty(), "{:?}", third.skipped);
    assert_eq!(
        dump(&*store, &fixture).await,
        before,
        "a second import changes nothing"
    );

    let agora = Agora::new(store.clone(), &config).expect("Agora");
    let client = ClientInfo::default();
    let login = LoginRequest {
        email: "LINUS@example.com".to_owned(),
        password: fixture.users[2].password.clone(),
    };
    let token = agora
        .login(login, &client)
        .await
        .expect("the old password works");
    let caller = agora
        .authenticate(&token.access_token)
        .await
        .expect("the token works");
    assert_eq!(caller.id(), UserId(5));
    let email = Email::parse("linus@example.com").expect("email");
    let hash = store
        .find_credentials(&email)
        .await
        .expect("find_credentials")
        .expect("credentials")
        .password_hash;
    assert!(hash.starts_with("$argon2id$"), "upgraded at login: {hash}");

    let newcomer = agora
        .register(
            UserCreate {
                email: "newcomer@example.com".to_owned(),
                password: "a brand new passphrase 42".to_owned(),
                username: None,
            },
            &client,
        )
        .await
        .expect("a registration after the import");
    assert!(
        newcomer.id.0 > 13,
        "new user id {} after the imported",
        newcomer.id
    );
    let post = agora
        .create_post(
            &Caller::acting_for(newcomer),
            PostCreate {
                title: "New".to_owned(),
                content: "after the import".to_owned(),
                published: true,
                description: None,
                tags: None,
            },
        )
        .await
        .expect("a post after the import");
    assert!(post.id.0 > 30, "new post id {} after the imported", post.id);
}

#[tokio::test]
async fn postgres_source_into_sqlite() {
    scenario(Backend::Postgres, Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_source_into_postgres() {
    scenario(Backend::Postgres, Backend::Postgres).await;
}

#[tokio::test]
async fn postgres_source_into_mysql() {
    scenario(Backend::Postgres, Backend::MySql).await;
}

#[tokio::test]
async fn sqlite_source_into_sqlite() {
    scenario(Backend::Sqlite, Backend::Sqlite).await;
}

#[tokio::test]
async fn sqlite_source_into_postgres() {
    scenario(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_source_into_mysql() {
    scenario(Backend::Sqlite, Backend::MySql).await;
}

/// A source with rows Agora refuses, and the rows that depend on them.
fn invalid_fixture() -> Fixture {
    Fixture {
        users: vec![
            user(1, "Ada@Example.com"),
            user(2, "grace@example.com"),
            user(3, "ada@example.COM"),
            user(4, "not-an-email"),
        ],
        posts: vec![
            (1, "Hello", "fine", true, 1),
            (2, "   ", "a blank title", true, 2),
            (3, "By a duplicate", "skipped with its owner", true, 3),
            (4, "Fine too", "kept", true, 2),
        ],
        votes: vec![(1, 4), (2, 1), (2, 2), (3, 1), (4, 4)],
    }
}

fn expected_invalid() -> Vec<SkippedRow> {
    let skipped = |row, reason| SkippedRow { row, reason };
    vec![
        skipped(
            RowKey::User(3),
            SkipReason::DuplicateEmail {
                email: "ada@example.COM".to_owned(),
                same_as: 1,
            },
        ),
        skipped(
            RowKey::User(4),
            SkipReason::InvalidEmail {
                email: "not-an-email".to_owned(),
            },
        ),
        skipped(
            RowKey::Post(2),
            SkipReason::InvalidPost {
                problems: vec!["title: String should not be empty or blank".to_owned()],
            },
        ),
        skipped(RowKey::Post(3), SkipReason::UserNotImported(3)),
        skipped(
            RowKey::Vote {
                user_id: 2,
                post_id: 2,
            },
            SkipReason::PostNotImported(2),
        ),
        skipped(
            RowKey::Vote {
                user_id: 3,
                post_id: 1,
            },
            SkipReason::UserNotImported(3),
        ),
        skipped(
            RowKey::Vote {
                user_id: 4,
                post_id: 4,
            },
            SkipReason::UserNotImported(4),
        ),
    ]
}

async fn invalid_rows(from: Backend) {
    let fixture = invalid_fixture();
    let Some(source) = source(from, &fixture).await else {
        return;
    };
    let target = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    let config = config(&target);

    let refused = import_fastapi(source.url(), &config, &options(2, false), &NoProgress).await;
    match refused {
        Err(ImportError::Invalid(rows)) => assert_eq!(rows, expected_invalid()),
        other => panic!("invalid rows refused, got {other:?}"),
    }
    let store = store(&target).await;
    for id in 1..=4 {
        assert!(
            store
                .get_user(UserId(id))
                .await
                .expect("get_user")
                .is_none(),
            "nothing written"
        );
    }

    let report = import_fastapi(source.url(), &config, &options(2, true), &NoProgress)
        .await
        .expect("the valid rows are imported");
    assert_eq!(report.skipped, expected_invalid());
    assert_eq!(report.users, counts(4, 2, 0, 2));
    assert_eq!(report.posts, counts(4, 2, 0, 2));
    assert_eq!(report.votes, counts(5, 2, 0, 3));
    let ada = store.get_user(UserId(1)).await.expect("get_user");
    assert_eq!(
        ada.and_then(|u| u.email).map(|e| e.as_str().to_owned()),
        Some("ada@example.com".to_owned()),
        "the earliest of the look-alike addresses is kept, normalised"
    );
    assert!(store.get_user(UserId(3)).await.expect("get_user").is_none());
    let post = store
        .get_post(PostId(4), Some(UserId(1)))
        .await
        .expect("get_post");
    let post = post.expect("post 4 imported");
    assert_eq!((post.votes, post.voted), (1, true));
    assert!(
        store
            .get_post(PostId(3), None)
            .await
            .expect("get_post")
            .is_none()
    );
}

#[tokio::test]
async fn invalid_rows_from_postgres_are_refused_unless_skipped() {
    invalid_rows(Backend::Postgres).await;
}

#[tokio::test]
async fn invalid_rows_from_sqlite_are_refused_unless_skipped() {
    invalid_rows(Backend::Sqlite).await;
}

#[tokio::test]
async fn rows_that_conflict_with_agora_are_reported_not_overwritten() {
    let fixture = fixture();
    let source = source(Backend::Sqlite, &fixture).await.expect("SQLite");
    let target = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    let config = config(&target);
    let store = store(&target).await;
    let agora = Agora::new(store.clone(), &config).expect("Agora");
    // Registered in Agora before the import: id 1, then 2 (the source's Ada).
    for email in ["someone@example.com", "grace@example.com"] {
        let request = UserCreate {
            email: email.to_owned(),
            password: "a brand new passphrase 42".to_owned(),
            username: None,
        };
        agora
            .register(request, &ClientInfo::default())
            .await
            .expect("registered");
    }

    let report = import_fastapi(
        source.url(),
        &config,
        &ImportOptions::default(),
        &NoProgress,
    )
    .await
    .expect("the import runs");
    let conflicts: Vec<_> = report.conflicts().cloned().collect();
    assert_eq!(
        conflicts,
        [
            SkippedRow {
                row: RowKey::User(2),
                reason: SkipReason::Conflict {
                    differs: vec!["email", "created_at"]
                },
            },
            SkippedRow {
                row: RowKey::User(3),
                reason: SkipReason::EmailTaken { agora_user: 2 },
            },
        ]
    );
    // Their posts and votes are not imported either, and say why.
    assert!(report.skipped.contains(&SkippedRow {
        row: RowKey::Post(10),
        reason: SkipReason::UserNotImported(2),
    }));
    assert!(report.skipped.contains(&SkippedRow {
        row: RowKey::Vote {
            user_id: 8,
            post_id: 10
        },
        reason: SkipReason::PostNotImported(10),
    }));
    assert_eq!(report.users, counts(5, 3, 0, 2));
    assert_eq!(report.posts, counts(5, 2, 0, 3));
    assert_eq!(report.votes, counts(6, 1, 0, 5));
    let agoras = store.get_user(UserId(2)).await.expect("get_user");
    assert_eq!(
        agoras.and_then(|u| u.email).map(|e| e.as_str().to_owned()),
        Some("grace@example.com".to_owned()),
        "Agora's user 2 is left as it was"
    );
}

#[tokio::test]
async fn unusable_sources_are_explained() {
    let target = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    let config = config(&target);
    let run = |url: String| {
        let config = config.clone();
        async move {
            import_fastapi(&url, &config, &ImportOptions::default(), &NoProgress)
                .await
                .expect_err("refused")
        }
    };

    let unreachable = run("postgres://postgres:secret@127.0.0.1:1/fastapi".to_owned()).await;
    let message = unreachable.to_string();
    assert!(
        matches!(unreachable, ImportError::Source { .. }),
        "{message}"
    );
    assert!(
        message.contains("cannot connect to 127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");

    let dir = tempfile::tempdir().expect("a directory");
    let missing = format!("sqlite://{}", dir.path().join("fastapi.db").display());
    let err = run(missing).await;
    assert!(matches!(err, ImportError::SourceMissing(_)), "{err}");

    let empty = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    run_sql(&empty, "CREATE TABLE users (id INTEGER PRIMARY KEY)").await;
    let err = run(empty.url().to_owned()).await;
    match &err {
        ImportError::NotFastapi { missing, .. } => assert_eq!(missing, &["posts", "votes"]),
        other => panic!("tables missing, got {other:?}"),
    }
    assert!(
        err.to_string().contains("no table posts, no table votes"),
        "{err}"
    );

    let err = run("mysql://root@127.0.0.1:1/fastapi".to_owned()).await;
    assert!(matches!(err, ImportError::UnsupportedSource(_)), "{err}");
}
