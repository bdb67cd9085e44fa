//! `agora-ceiling`: the ceiling Agora's read routes are measured against.
//!
//! Bare axum + sqlx on the same database, running for each route the SQL
//! Agora's storage runs for it: the user look-up by id that authentication
//! does, then the route's own statement. No token, no validation, no serde:
//! raw rows written to a minimal hand-made JSON. Anything Agora does on top
//! (JWT verification, query and path parsing, visibility rules, typed
//! responses, tracing layers) is what the ratio measures.
//!
//! The SQL below is a copy of the SQLite, PostgreSQL and MySQL/MariaDB
//! statements of `storage-sqlx/src/sql.rs` (`session_user`, or `get_user` on
//! a schema without sessions; `get_post`, `list_posts`): keep it in step
//! when those change.
//!
//! Configuration, as for the example server: `AGORA_DATABASE_URL`,
//! `AGORA_BIND` (default 127.0.0.1:8001), `AGORA_DB_MAX_CONNECTIONS`
//! (default 10, Agora's default). Routes: `GET /health`, `GET /posts/{id}`,
//! `GET /posts?limit=&skip=&search=`. `AGORA_DATABASE_URL` may be
//! `sqlite:`, `postgres:` or `mysql:` (MariaDB or MySQL).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row as _};
use sqlx::{MySqlPool, PgPool, SqlitePool};

/// Who the authentication look-up is for: the newest active session in the
/// database (the bench's logins made it) and its user, or user 1 by id on a
/// schema without sessions.
struct Auth {
    user: i64,
    session: Option<String>,
}

#[derive(Clone)]
struct App {
    db: Db,
    auth: Arc<Auth>,
}

/// One backend's statements.
struct Sql {
    user: &'static str,
    session_user: &'static str,
    newest_session: &'static str,
    get_post: &'static str,
    /// The listing without its page, then `list_page` (a bound limit and
    /// offset), as Agora's storage has it.
    list: &'static str,
    list_page: &'static str,
    /// PostgreSQL only: the cursor's condition in `list`. Its first pages
    /// take a literal `LIMIT <n>` instead of `list_page`, and its newest
    /// page leaves this condition out, so that they keep a generic plan as
    /// Agora's first pages do (theirs cap the walk with a literal and bind
    /// the size on top: the same plan for the one page size the bench
    /// asks). SQLite and MariaDB bind every page's size and keep the
    /// condition, as Agora does.
    list_before: Option<&'static str>,
    search: &'static str,
    /// The pattern `search` binds for a search term, as Agora's
    /// `title_pattern` makes it.
    search_pattern: fn(&str) -> String,
    /// Whether `list` and `search` bind the viewer twice (`?` placeholders
    /// cannot be reused: MySQL), else once.
    viewer_twice: bool,
}

macro_rules! session_columns {
    () => {
        "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at, s.user_agent, s.ip"
    };
}

/// The post columns Agora reads (with its owner's profile, its tags
/// joined by char 31, its votes and whether the viewer, bound first as
/// `$viewer`, voted), then `$tail`.
macro_rules! select_posts {
    ($tags:literal, $viewer:literal, $tail:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.published, p.created_at, p.owner_id, ",
            "p.description, p.updated_at, u.email AS owner_email, u.created_at AS owner_created_at, ",
            "u.username, u.bio, u.image, ",
            $tags,
            ", (SELECT COUNT(*) FROM votes v WHERE v.post_id = p.id) AS votes, ",
            "(SELECT COUNT(*) FROM votes vv WHERE vv.post_id = p.id AND vv.user_id = ",
            $viewer,
            ") AS voted FROM posts p JOIN users u ON u.id = p.owner_id ",
            $tail
        )
    };
}

const SQLITE: Sql = Sql {
    user: "SELECT id, email, created_at FROM users WHERE id = ?",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at, \
         u.username, u.bio, u.image \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?"
    ),
    newest_session: "SELECT id, user_id FROM sessions WHERE revoked_at IS NULL \
                     ORDER BY created_at DESC LIMIT 1",
    get_post: select_posts!(
        "(SELECT group_concat(pt.tag, char(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "?1",
        "WHERE p.id = ?2"
    ),
    list: select_posts!(
        "(SELECT group_concat(pt.tag, char(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "?1",
        "WHERE (p.published OR p.owner_id = ?1) AND p.id < ?2 \
         ORDER BY p.id DESC"
    ),
    list_page: " LIMIT ?3 OFFSET ?4",
    list_before: None,
    search: select_posts!(
        "(SELECT group_concat(pt.tag, char(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "?1",
        "WHERE (p.published OR p.owner_id = ?1) AND p.id < ?2 \
         AND p.title REGEXP ?3 ORDER BY p.id DESC LIMIT ?4 OFFSET ?5"
    ),
    search_pattern: regexp_pattern,
    viewer_twice: false,
};

const POSTGRES: Sql = Sql {
    user: "SELECT id, email, created_at FROM users WHERE id = $1",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at, \
         u.username, u.bio, u.image \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2"
    ),
    newest_session: "SELECT id, user_id FROM sessions WHERE revoked_at IS NULL \
                     ORDER BY created_at DESC LIMIT 1",
    get_post: select_posts!(
        "(SELECT string_agg(pt.tag, chr(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "$1",
        "WHERE p.id = $2"
    ),
    list: select_posts!(
        "(SELECT string_agg(pt.tag, chr(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "$1",
        "WHERE (p.published OR p.owner_id = $1) AND p.id < $2 \
         ORDER BY p.id DESC"
    ),
    list_page: " LIMIT $3 OFFSET $4",
    list_before: Some(" AND p.id < $2"),
    search: select_posts!(
        "(SELECT string_agg(pt.tag, chr(31)) FROM post_tags pt WHERE pt.post_id = p.id)",
        "$1",
        "WHERE (p.published OR p.owner_id = $1) AND p.id < $2 \
         AND p.title ILIKE $3 ORDER BY p.id DESC LIMIT $4 OFFSET $5"
    ),
    search_pattern: like_pattern,
    viewer_twice: false,
};

/// Agora's SQLite search pattern (`regexp_pattern` in
/// `storage-sqlx/src/sql.rs`): the term anywhere, case folded as Unicode.
fn regexp_pattern(term: &str) -> String {
    format!("(?i){}", regex::escape(term))
}

/// Agora's `LIKE` pattern, the term anywhere (`like_pattern` in
/// `storage-sqlx/src/rows.rs` also escapes `%`, `_` and `\`, which the
/// bench's terms do not hold).
fn like_pattern(term: &str) -> String {
    format!("%{term}%")
}

const MYSQL: Sql = Sql {
    user: "SELECT id, email, created_at FROM users WHERE id = ?",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at, \
         u.username, u.bio, u.image \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?"
    ),
    newest_session: "SELECT id, user_id FROM sessions WHERE revoked_at IS NULL \
                     ORDER BY created_at DESC LIMIT 1",
    get_post: select_posts!(
        "(SELECT GROUP_CONCAT(pt.tag SEPARATOR '\u{1f}') FROM post_tags pt WHERE pt.post_id = p.id)",
        "?",
        "WHERE p.id = ?"
    ),
    list: select_posts!(
        "(SELECT GROUP_CONCAT(pt.tag SEPARATOR '\u{1f}') FROM post_tags pt WHERE pt.post_id = p.id)",
        "?",
        "WHERE (p.published OR p.owner_id = ?) AND p.id < ? \
         ORDER BY p.id DESC"
    ),
    list_page: " LIMIT ? OFFSET ?",
    list_before: None,
    search: select_posts!(
        "(SELECT GROUP_CONCAT(pt.tag SEPARATOR '\u{1f}') FROM post_tags pt WHERE pt.post_id = p.id)",
        "?",
        "WHERE (p.published OR p.owner_id = ?) AND p.id < ? \
         AND LOWER(p.title) LIKE LOWER(?) ORDER BY p.id DESC LIMIT ? OFFSET ?"
    ),
    search_pattern: like_pattern,
    viewer_twice: true,
};

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
    My(MySqlPool),
}

/// Runs `$body` with `$pool` bound to the pool and `$sql` to that backend's
/// statements: the body is written once and compiled per backend.
macro_rules! on_db {
    ($db:expr, $pool:ident, $sql:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                let $sql = &SQLITE;
                $body
            }
            Db::Pg($pool) => {
                let $sql = &POSTGRES;
                $body
            }
            Db::My($pool) => {
                let $sql = &MYSQL;
                $body
            }
        }
    };
}

/// Appends a post row as JSON (column order of `select_posts!`).
macro_rules! write_post {
    ($out:expr, $row:expr) => {{
        let row = $row;
        let id: i64 = row.try_get(0)?;
        let title: &str = row.try_get(1)?;
        let content: &str = row.try_get(2)?;
        let published: bool = row.try_get(3)?;
        let created_at: DateTime<Utc> = row.try_get(4)?;
        let owner_id: i64 = row.try_get(5)?;
        let description: Option<&str> = row.try_get(6)?;
        let updated_at: Option<DateTime<Utc>> = row.try_get(7)?;
        let owner_email: &str = row.try_get(8)?;
        let owner_created_at: DateTime<Utc> = row.try_get(9)?;
        let username: Option<&str> = row.try_get(10)?;
        let bio: Option<&str> = row.try_get(11)?;
        let image: Option<&str> = row.try_get(12)?;
        let tags: Option<&str> = row.try_get(13)?;
        let votes: i64 = row.try_get(14)?;
        let voted: i64 = row.try_get(15)?;
        let out: &mut String = $out;
        let _ = write!(out, "{{\"id\":{id},\"title\":");
        json_str(out, title);
        out.push_str(",\"content\":");
        json_str(out, content);
        let _ = write!(
            out,
            ",\"published\":{published},\"created_at\":\"{}\",\"owner_id\":{owner_id},\"owner_email\":",
            created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        );
        json_str(out, owner_email);
        let _ = write!(
            out,
            ",\"owner_created_at\":\"{}\"",
            owner_created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        );
        for (name, value) in [("description", description), ("username", username), ("bio", bio), ("image", image)] {
            let _ = write!(out, ",\"{name}\":");
            match value {
                Some(text) => json_str(out, text),
                None => out.push_str("null"),
            }
        }
        match updated_at {
            Some(at) => {
                let _ = write!(out, ",\"updated_at\":\"{}\"", at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            }
            None => out.push_str(",\"updated_at\":null"),
        }
        out.push_str(",\"tags\":[");
        let mut tags: Vec<&str> = tags.map(|t| t.split('\u{1f}').collect()).unwrap_or_default();
        tags.sort_unstable();
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, tag);
        }
        let _ = write!(out, "],\"votes\":{votes},\"voted\":{}}}", voted > 0);
    }};
}

/// The look-up authentication does (its row is fetched and dropped).
macro_rules! authenticate {
    ($pool:expr, $sql:expr, $auth:expr) => {{
        let auth: &Auth = $auth;
        match &auth.session {
            Some(session) => {
                sqlx::query($sql.session_user)
                    .bind(session.as_str())
                    .bind(auth.user)
                    .fetch_optional($pool)
                    .await?
            }
            None => {
                sqlx::query($sql.user)
                    .bind(auth.user)
                    .fetch_optional($pool)
                    .await?
            }
        }
    }};
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn failure(e: sqlx::Error) -> Response {
    eprintln!("database error: {e}");
    (StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response()
}

async fn health(State(app): State<App>) -> Response {
    let result =
        on_db!(&app.db, pool, _sql => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()));
    match result {
        Ok(()) => json("{\"status\":\"ok\"}".to_owned()),
        Err(e) => failure(e),
    }
}

/// The bare no-auth ceiling of an authenticated read: the route's own
/// statement alone (Agora folds its session check into that statement).
async fn get_post(State(app): State<App>, Path(id): Path<i64>) -> Response {
    let auth = &*app.auth;
    let result: Result<Option<String>, sqlx::Error> = on_db!(&app.db, pool, sql => async {
        let Some(row) = sqlx::query(sql.get_post).bind(auth.user).bind(id).fetch_optional(pool).await? else {
            return Ok(None);
        };
        let mut out = String::with_capacity(512);
        write_post!(&mut out, &row);
        Ok(Some(out))
    }.await);
    match result {
        Ok(Some(body)) => json(body),
        Ok(None) => (StatusCode::NOT_FOUND, "{}").into_response(),
        Err(e) => failure(e),
    }
}

async fn list_posts(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let auth = &*app.auth;
    let (mut limit, mut skip, mut before, mut search) = (10i64, 0i64, i64::MAX, None::<String>);
    for pair in query.as_deref().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("limit", v)) => limit = v.parse().unwrap_or(10),
            Some(("skip", v)) => skip = v.parse().unwrap_or(0),
            Some(("after", v)) => before = v.parse().unwrap_or(i64::MAX),
            Some(("search", v)) if !v.is_empty() => search = Some(v.to_owned()),
            _ => {}
        }
    }
    let result: Result<String, sqlx::Error> = on_db!(&app.db, pool, sql => async {
        authenticate!(pool, sql, auth);
        let rows = match &search {
            None => {
                let first_page = skip == 0 && sql.list_before.is_some();
                let (list, newest) = match sql.list_before {
                    Some(cursor) if first_page && before == i64::MAX => {
                        (sql.list.replacen(cursor, "", 1), true)
                    }
                    _ => (sql.list.to_owned(), false),
                };
                let statement = if first_page {
                    format!("{list} LIMIT {limit}")
                } else {
                    format!("{list}{}", sql.list_page)
                };
                let mut query = sqlx::query(AssertSqlSafe(statement)).bind(auth.user);
                if sql.viewer_twice {
                    query = query.bind(auth.user);
                }
                if !newest {
                    query = query.bind(before);
                }
                if !first_page {
                    query = query.bind(limit).bind(skip);
                }
                query.fetch_all(pool).await?
            }
            Some(term) => {
                let pattern = (sql.search_pattern)(term);
                let mut query = sqlx::query(sql.search).bind(auth.user);
                if sql.viewer_twice {
                    query = query.bind(auth.user);
                }
                query
                    .bind(before)
                    .bind(pattern)
                    .bind(limit)
                    .bind(skip)
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut out = String::with_capacity(512 * rows.len() + 2);
        out.push('[');
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_post!(&mut out, row);
        }
        out.push(']');
        Ok(out)
    }.await);
    match result {
        Ok(body) => json(body),
        Err(e) => failure(e),
    }
}

async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
    let acquire = Duration::from_secs(3);
    if url.starts_with("sqlite:") {
        // Agora's SQLite options (storage-sqlx/src/sqlite.rs).
        let options = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(acquire)
            .with_regexp();
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        // Agora's MySQL options (storage-sqlx/src/mysql.rs), and the length of
        // GROUP_CONCAT it sets on each session (a post's tags, whole).
        let url = url.replacen("mariadb:", "mysql:", 1);
        let options = MySqlConnectOptions::from_str(&url)?.charset("utf8mb4");
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("SET SESSION group_concat_max_len = 65536")
                        .execute(conn)
                        .await
                        .map(drop)
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db::My(pool))
    } else {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .connect(url)
            .await?;
        Ok(Db::Pg(pool))
    }
}

/// The example server's allocator (jemalloc), so that the ratio measures
/// what Agora does, not which allocator it runs on.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("AGORA_DATABASE_URL").unwrap_or_else(|_| "sqlite://agora.db".into());
    let bind = std::env::var("AGORA_BIND").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let max_connections = std::env::var("AGORA_DB_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let db = match connect(&url, max_connections).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: connecting to the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let session: Result<Option<(String, i64)>, sqlx::Error> = on_db!(&db, pool, sql => {
        sqlx::query_as(sql.newest_session).fetch_optional(pool).await
    });
    let auth = match session {
        Ok(Some((session, user))) => Auth {
            user,
            session: Some(session),
        },
        _ => Auth {
            user: 1,
            session: None,
        },
    };
    println!(
        "authentication look-up: {}",
        if auth.session.is_some() {
            "session + user"
        } else {
            "user by id"
        }
    );
    let app = Router::new()
        .route("/health", get(health))
        .route("/posts", get(list_posts))
        .route("/posts/{id}", get(get_post))
        .with_state(App {
            db,
            auth: Arc::new(auth),
        });
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: binding {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("agora-ceiling listening on http://{bind}");
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
