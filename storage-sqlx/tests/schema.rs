//! `server.pool.schema` (`AGORA_DB_SCHEMA`): Agora's tables, its migrations
//! table and migration lock kept apart from an app's own tables of the same
//! names in the same database (a PostgreSQL schema; a MySQL/MariaDB database
//! on the same server). PostgreSQL and MySQL cases skip with one printed line
//! when `AGORA_TEST_POSTGRES_URL` / `AGORA_TEST_MYSQL_URL` are unset; SQLite,
//! which refuses the setting, always runs.

use std::time::Duration;

use agora_core::config::{JwtSecret, TokenConfig};
use agora_core::domain::ClientInfo;
use agora_core::schema::{ListQuery, LoginRequest, PostCreate, UserCreate};
use agora_core::{Agora, Caller, Config};
use agora_sqlx::testing::{FASTAPI_POSTGRES_DDL, TestDatabase};
use agora_sqlx::{Backend, ConnectError, PoolConfig};
use sqlx::migrate::Migrate;
use sqlx::{AssertSqlSafe, Connection};

/// The FastAPI app's `users` and `posts` on MySQL: other columns than
/// Agora's (`password`, `phone_number`; `INT` ids).
const FASTAPI_MYSQL_DDL: &str = "
CREATE TABLE users (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    password VARCHAR(255) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    phone_number VARCHAR(32)
);
CREATE TABLE posts (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    owner_id INT NOT NULL,
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
)";

/// A connection to a test database, for the app's side of each test.
enum Conn {
    Postgres(sqlx::PgConnection),
    MySql(sqlx::MySqlConnection),
}

impl Conn {
    async fn open(db: &TestDatabase) -> Conn {
        match db.backend() {
            Backend::Postgres => Conn::Postgres(
                sqlx::PgConnection::connect(db.url())
                    .await
                    .expect("connect"),
            ),
            Backend::MySql => Conn::MySql(
                sqlx::MySqlConnection::connect(db.url())
                    .await
                    .expect("connect"),
            ),
            Backend::Sqlite => unreachable!("SQLite has no schemas"),
        }
    }

    /// Runs `sql`, statements separated by `;`.
    async fn run(&mut self, sql: &str) {
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            let statement = AssertSqlSafe(statement.to_owned());
            let done = match self {
                Conn::Postgres(c) => sqlx::raw_sql(statement).execute(c).await.map(drop),
                Conn::MySql(c) => sqlx::raw_sql(statement).execute(c).await.map(drop),
            };
            done.unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        }
    }

    /// The number `sql` (one `COUNT(*)`) answers.
    async fn count(&mut self, sql: &str) -> i64 {
        let query = AssertSqlSafe(sql.to_owned());
        let counted: Result<i64, sqlx::Error> = match self {
            Conn::Postgres(c) => sqlx::query_scalar(query).fetch_one(c).await,
            Conn::MySql(c) => sqlx::query_scalar(query).fetch_one(c).await,
        };
        counted.unwrap_or_else(|e| panic!("`{sql}`: {e}"))
    }

    /// How many tables named `table` `schema` has (a PostgreSQL schema, a
    /// MySQL database).
    async fn tables(&mut self, schema: &str, table: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = '{schema}' AND table_name = '{table}'"
        ))
        .await
    }

    /// Whether `schema.table` has the column `column`.
    async fn has_column(&mut self, schema: &str, table: &str, column: &str) -> bool {
        self.count(&format!(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = '{schema}' \
             AND table_name = '{table}' AND column_name = '{column}'"
        ))
        .await
            == 1
    }

    /// The app's own schema: `public`, or the test database on MySQL.
    async fn app_schema(&mut self) -> String {
        match self {
            Conn::Postgres(c) => {
                sqlx::query_scalar("SELECT current_schema()::text")
                    .fetch_one(c)
                    .await
            }
            Conn::MySql(c) => sqlx::query_scalar("SELECT DATABASE()").fetch_one(c).await,
        }
        .expect("the app's schema")
    }
}

/// Drops, at the end of a MySQL test, the databases Agora created for its
/// schemas (on PostgreSQL they are schemas of the test database, dropped
/// with it).
struct DropDatabases {
    url: String,
    names: Vec<String>,
}

impl Drop for DropDatabases {
    fn drop(&mut self) {
        if self.names.is_empty() {
            return;
        }
        let (url, names) = (self.url.clone(), std::mem::take(&mut self.names));
        // Drop may run inside a runtime, or while unwinding: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
                for name in names {
                    let drop = AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`"));
                    sqlx::raw_sql(drop).execute(&mut conn).await.expect("drop");
                }
            });
        })
        .join();
    }
}

/// A test database with the FastAPI app's tables and one row in each, and
/// the names of `n` Agora schemas unique to it (MySQL databases are
/// server-wide, so theirs start with the test database's name; they are
/// dropped with the guard).
async fn app_database(
    backend: Backend,
    n: usize,
) -> Option<(TestDatabase, Vec<String>, DropDatabases)> {
    let db = TestDatabase::create(backend).await?;
    let mut app = Conn::open(&db).await;
    let ddl = match backend {
        Backend::Postgres => FASTAPI_POSTGRES_DDL,
        _ => FASTAPI_MYSQL_DDL,
    };
    app.run(ddl).await;
    app.run(
        "INSERT INTO users (email, password) VALUES ('app@example.com', 'the app''s hash');
         INSERT INTO posts (title, content, owner_id) VALUES ('App post', 'by the app', 1)",
    )
    .await;
    let database = app.app_schema().await;
    let names: Vec<String> = (0..n)
        .map(|i| match backend {
            Backend::Postgres => format!("agora_{i}"),
            _ => format!("{database}_agora_{i}"),
        })
        .collect();
    let guard = DropDatabases {
        url: db.url().to_owned(),
        names: if backend == Backend::MySql {
            names.clone()
        } else {
            Vec::new()
        },
    };
    Some((db, names, guard))
}

/// A configuration for `db`, Agora's tables in `schema`.
fn config(db: &TestDatabase, schema: &str) -> Config {
    let mut config = Config {
        tokens: TokenConfig {
            secret: Some(JwtSecret::generate()),
            ..TokenConfig::default()
        },
        ..Config::default()
    };
    config.server.database_url = db.url().to_owned();
    config.server.pool.schema = Some(schema.to_owned());
    config
}

fn pool(schema: &str) -> PoolConfig {
    PoolConfig {
        schema: Some(schema.to_owned()),
        ..PoolConfig::default()
    }
}

/// Registers `email`, logs in, authenticates and posts on `agora`; the
/// caller.
async fn use_agora(agora: &Agora, email: &str, title: &str) -> Caller {
    let client = ClientInfo::default();
    let password = "a long enough passphrase 42".to_owned();
    agora
        .register(
            UserCreate {
                email: email.to_owned(),
                password: password.clone(),
                username: None,
            },
            &client,
        )
        .await
        .expect("registered");
    let token = agora
        .login(
            LoginRequest {
                email: email.to_owned(),
                password,
            },
            &client,
        )
        .await
        .expect("logged in");
    let caller = agora
        .authenticate(&token.access_token)
        .await
        .expect("the token works");
    agora
        .create_post(
            &caller,
            PostCreate {
                title: title.to_owned(),
                content: "in Agora's own tables".to_owned(),
                published: true,
                description: None,
                tags: None,
            },
        )
        .await
        .expect("posted");
    caller
}

/// The titles of the posts `agora` lists.
async fn titles(agora: &Agora) -> Vec<String> {
    agora
        .list_posts(None::<&Caller>, ListQuery::default())
        .await
        .expect("listed")
        .into_iter()
        .map(|p| p.post.title)
        .collect()
}

/// The app's `users` and `posts` keep their columns and rows while Agora,
/// in its schema, migrates, registers, logs in and posts; `migrate` and
/// `inspect_schema` (the admin commands) work in the schema too. Without
/// the schema, Agora cannot open that database at all.
async fn apps_tables_stay_untouched(backend: Backend) {
    let Some((db, names, _guard)) = app_database(backend, 1).await else {
        return;
    };
    let schema = &names[0];
    let config = config(&db, schema);
    let mut app = Conn::open(&db).await;
    let app_schema = app.app_schema().await;

    let before = agora_sqlx::inspect_schema(&config)
        .await
        .expect("inspected");
    assert!(before.applied.is_empty(), "{before:?}");
    assert!(!before.pending.is_empty(), "{before:?}");
    assert_eq!(
        app.tables(schema, "users").await,
        0,
        "inspecting creates nothing"
    );

    let agora = agora_sqlx::open(&config)
        .await
        .expect("Agora opens in its schema");
    use_agora(&agora, "ada@example.com", "Agora post").await;
    assert_eq!(titles(&agora).await, ["Agora post"]);

    // The app's tables: their columns, and only their rows.
    for column in ["password", "phone_number"] {
        assert!(
            app.has_column(&app_schema, "users", column).await,
            "{column}"
        );
    }
    assert!(!app.has_column(&app_schema, "users", "password_hash").await);
    assert!(!app.has_column(&app_schema, "posts", "description").await);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'app@example.com'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM posts").await, 1);
    assert_eq!(app.tables(&app_schema, "_sqlx_migrations").await, 0);
    assert_eq!(app.tables(&app_schema, "sessions").await, 0);

    // Agora's: in its schema, migrations table included.
    for table in ["users", "posts", "votes", "sessions", "_sqlx_migrations"] {
        assert_eq!(app.tables(schema, table).await, 1, "{schema}.{table}");
    }
    assert!(app.has_column(schema, "users", "password_hash").await);
    let agora_users =
        format!("SELECT COUNT(*) FROM {schema}.users WHERE email = 'ada@example.com'");
    assert_eq!(app.count(&agora_users).await, 1);

    // The admin commands: nothing left to apply, nothing pending.
    let migrated = agora_sqlx::migrate(&config).await.expect("migrated");
    assert!(migrated.applied.is_empty(), "{migrated:?}");
    let after = agora_sqlx::inspect_schema(&config)
        .await
        .expect("inspected");
    assert!(after.pending.is_empty(), "{after:?}");
    assert_eq!(after.applied.len(), before.pending.len());

    // Another start in the same schema finds its data.
    let again = agora_sqlx::open(&config).await.expect("reopened");
    assert_eq!(titles(&again).await, ["Agora post"]);

    // The problem the setting solves: without it, the app's `users` is in the way.
    let mut plain = config.clone();
    plain.server.pool.schema = None;
    let Err(refused) = agora_sqlx::open(&plain).await else {
        panic!("opened without a schema beside the app's tables");
    };
    assert!(
        matches!(refused, ConnectError::Migrate(_)),
        "without a schema: {refused}"
    );
}

#[tokio::test]
async fn apps_tables_stay_untouched_on_postgres() {
    apps_tables_stay_untouched(Backend::Postgres).await;
}

#[tokio::test]
async fn apps_tables_stay_untouched_on_mysql() {
    apps_tables_stay_untouched(Backend::MySql).await;
}

/// Two instances in two schemas of one database, opened together: the same
/// email registers in each, and each lists only its own posts.
async fn two_schemas_are_independent(backend: Backend) {
    let Some((db, names, _guard)) = app_database(backend, 2).await else {
        return;
    };
    let (a, b) = (config(&db, &names[0]), config(&db, &names[1]));
    let (a, b) = tokio::join!(agora_sqlx::open(&a), agora_sqlx::open(&b));
    let (a, b) = (a.expect("a opens"), b.expect("b opens"));
    use_agora(&a, "same@example.com", "In a").await;
    use_agora(&b, "same@example.com", "In b").await;
    assert_eq!(titles(&a).await, ["In a"]);
    assert_eq!(titles(&b).await, ["In b"]);
}

#[tokio::test]
async fn two_schemas_are_independent_on_postgres() {
    two_schemas_are_independent(Backend::Postgres).await;
}

#[tokio::test]
async fn two_schemas_are_independent_on_mysql() {
    two_schemas_are_independent(Backend::MySql).await;
}

/// Ten instances starting together in a schema that does not exist yet all
/// start (its creation and migrations happen once, under its lock), and
/// every migration is recorded once.
async fn concurrent_opens_of_a_new_schema(backend: Backend) {
    let Some((db, names, _guard)) = app_database(backend, 1).await else {
        return;
    };
    let opens: Vec<_> = (0..10)
        .map(|_| {
            let (url, pool) = (db.url().to_owned(), pool(&names[0]));
            tokio::spawn(async move { agora_sqlx::connect(&url, &pool).await.map(drop) })
        })
        .collect();
    for (i, opened) in opens.into_iter().enumerate() {
        let opened = opened.await.expect("task");
        opened.unwrap_or_else(|e| panic!("instance {i}: {e}"));
    }
    let mut app = Conn::open(&db).await;
    let recorded = app
        .count(&format!(
            "SELECT COUNT(*) FROM {}._sqlx_migrations",
            names[0]
        ))
        .await;
    let distinct = app
        .count(&format!(
            "SELECT COUNT(DISTINCT version) FROM {}._sqlx_migrations",
            names[0]
        ))
        .await;
    assert!(recorded > 0);
    assert_eq!(recorded, distinct);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_of_a_new_schema_on_postgres() {
    concurrent_opens_of_a_new_schema(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_of_a_new_schema_on_mysql() {
    concurrent_opens_of_a_new_schema(Backend::MySql).await;
}

/// Each schema migrates under its own lock: an instance in a schema does
/// not wait for the database-wide lock of instances without one (sqlx's
/// key), nor (MySQL, where the lock is named after the database) for
/// another schema's, but waits for its own schema's.
async fn schemas_lock_apart(backend: Backend) {
    let Some((db, names, _guard)) = app_database(backend, 2).await else {
        return;
    };
    let quick = |schema: &str| {
        let mut config = config(&db, schema);
        config.server.migration_lock_timeout = Duration::from_secs(2);
        config
    };
    // The lock of instances without a schema (sqlx's, on the URL's database).
    let mut holder = Conn::open(&db).await;
    match &mut holder {
        Conn::Postgres(c) => c.lock().await.expect("sqlx's lock"),
        Conn::MySql(c) => {
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT GET_LOCK(LOWER(HEX(0x3d32ad9e * CRC32(DATABASE()))), 0)",
            )
            .fetch_one(c)
            .await
            .expect("lock");
            assert_eq!(taken, Some(1));
        }
    }
    agora_sqlx::migrate(&quick(&names[0]))
        .await
        .expect("a schema does not wait for the database-wide lock");
    if let Conn::MySql(c) = &mut holder {
        // Schema 1's lock: its database's name.
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK(LOWER(HEX(0x3d32ad9e * CRC32(?))), 0)")
                .bind(&names[1])
                .fetch_one(c)
                .await
                .expect("lock");
        assert_eq!(taken, Some(1));
        let waited = agora_sqlx::migrate(&quick(&names[1])).await.err();
        assert!(
            matches!(waited, Some(ConnectError::MigrationLockTimeout { .. })),
            "{waited:?}"
        );
    }
}

#[tokio::test]
async fn schemas_lock_apart_on_postgres() {
    schemas_lock_apart(Backend::Postgres).await;
}

#[tokio::test]
async fn schemas_lock_apart_on_mysql() {
    schemas_lock_apart(Backend::MySql).await;
}

/// `pg_trgm` (one per database, in one schema) installed in a schema off
/// Agora's `search_path`, as another schema's instance may leave it: the
/// migrations still build the title index, and searches use it.
#[tokio::test]
async fn trigrams_in_another_schema_are_reached_on_postgres() {
    let Some((db, names, _guard)) = app_database(Backend::Postgres, 1).await else {
        return;
    };
    let mut app = Conn::open(&db).await;
    app.run("CREATE SCHEMA elsewhere; CREATE EXTENSION pg_trgm SCHEMA elsewhere")
        .await;
    let agora = agora_sqlx::open(&config(&db, &names[0]))
        .await
        .expect("opens with pg_trgm elsewhere");
    use_agora(&agora, "ada@example.com", "Trigrams").await;
    let found = agora
        .list_posts(
            None::<&Caller>,
            ListQuery {
                search: "GRAM".to_owned(),
                ..ListQuery::default()
            },
        )
        .await
        .expect("searched");
    assert_eq!(found.len(), 1);
    let index = format!(
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = '{}' \
         AND indexname = 'posts_title_trgm_idx'",
        names[0]
    );
    assert_eq!(app.count(&index).await, 1);
}

/// Names that are not plain identifiers are refused before connecting,
/// naming the setting (`AGORA_DB_SCHEMA` once renamed), on every backend;
/// on SQLite any schema is refused with the fix, and no file is created.
#[tokio::test]
async fn bad_names_and_sqlite_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("app.db");
    let sqlite = format!("sqlite://{}", file.display());
    // Unreachable servers: refused before any connection is tried.
    let urls = [
        "postgres://nobody@127.0.0.1:1/app",
        "mysql://nobody@127.0.0.1:1/app",
        sqlite.as_str(),
    ];
    for url in urls {
        for name in [
            "Agora",
            "agora-app",
            "agora; DROP TABLE users",
            "pg_agora",
            "",
        ] {
            let err = agora_sqlx::connect(url, &pool(name))
                .await
                .err()
                .expect("refused");
            assert!(
                matches!(err, ConnectError::Config(_)),
                "{url} {name:?}: {err}"
            );
            let shown = err.renamed(agora_core::config::env::variable).to_string();
            assert!(shown.contains("AGORA_DB_SCHEMA: "), "{shown}");
        }
    }
    let mut config = Config::default();
    config.server.database_url = sqlite.clone();
    config.server.pool.schema = Some("agora".to_owned());
    let refusals = [
        agora_sqlx::connect(&sqlite, &config.server.pool)
            .await
            .err(),
        agora_sqlx::open(&config).await.err(),
        agora_sqlx::migrate(&config).await.err(),
        agora_sqlx::inspect_schema(&config).await.err(),
    ];
    for err in refusals {
        let shown = err
            .expect("refused")
            .renamed(agora_core::config::env::variable)
            .to_string();
        assert!(
            shown.contains("AGORA_DB_SCHEMA: SQLite has no schemas")
                && shown.contains("AGORA_DATABASE_URL"),
            "{shown}"
        );
    }
    assert!(!file.exists(), "no SQLite file created");
}
