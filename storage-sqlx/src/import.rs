//! Copying the original FastAPI app's database into Agora's: its users
//! (with their passlib bcrypt hashes, which Agora verifies and upgrades to
//! argon2id at each user's next login), posts and votes, ids kept
//! (`cargo run --example admin -- import-fastapi SOURCE_URL`).
//!
//! [`import_fastapi`] reads the source (PostgreSQL, or SQLite) in one
//! read-only snapshot, in two passes:
//!
//! 1. **check**: every row goes through core's own rules ([`Email::parse`](agora_core::domain::Email::parse),
//!    [`PostCreate::into_draft`](agora_core::schema::PostCreate::into_draft)); an invalid email, an email equal to an
//!    earlier user's once normalised (case, Unicode look-alikes), or a post
//!    field core refuses makes the row rejected, and with it the posts and
//!    votes that depend on it. Unless [`ImportOptions::skip_invalid`], any
//!    rejected row stops the import here, before anything is written
//!    ([`ImportError::Invalid`]).
//! 2. **copy**: users, then posts, then votes, in batches of
//!    [`ImportOptions::batch_size`] rows, each batch one transaction of the
//!    target: a row whose id is absent is inserted; one present with the
//!    same content is counted as already there; one present with other
//!    content, or a user whose email an Agora user with another id already
//!    has, is a conflict: reported, never overwritten, and the rows that
//!    depend on it are skipped too (a user's password hash is not compared:
//!    Agora replaces it at the first login; a post edited in Agora since an
//!    earlier run shows as a conflict). A run stopped anywhere (a crash, a lost
//!    connection, [`ImportProgress::advance`] breaking) leaves whole batches
//!    only, and running it again completes it; a run over a complete import
//!    changes nothing.
//!
//! After each batch the id sequences are past every id present (PostgreSQL:
//! `setval` on the identity sequence, only ever forward; MySQL's
//! `AUTO_INCREMENT` and SQLite's `AUTOINCREMENT` move by themselves), so
//! users and posts created afterwards get new ids.
//!
//! Run it before Agora serves the database (or with its servers stopped):
//! a user registered in Agora meanwhile could take an id or an email the
//! import needs, which would then be reported as a conflict.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

use agora_core::Config;
use agora_core::domain::Email;
use agora_core::schema::PostCreate;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::QueryBuilder;
use sqlx::pool::PoolOptions;

use crate::{Backend, ConnectError, PoolConfig, redact_password};

/// The most rows in one batch: a batch of posts binds six values a row,
/// within every backend's limit on bound values (SQLite's 32,766).
pub const MAX_BATCH_SIZE: usize = 5_000;

/// How [`import_fastapi`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Rows per batch (one transaction each), 1 to [`MAX_BATCH_SIZE`]
    /// (values beyond are clamped); 500 by default.
    pub batch_size: usize,
    /// Import the rows Agora accepts and report the others, instead of
    /// refusing to start when any row is invalid.
    pub skip_invalid: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 500,
            skip_invalid: false,
        }
    }
}

/// A table of the FastAPI app's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `users(id, email, password, created_at)`.
    Users,
    /// `posts(id, title, content, published, created_at, owner_id)`.
    Posts,
    /// `votes(user_id, post_id)`.
    Votes,
}

impl Table {
    /// Every table, in the order they are copied.
    pub const ALL: [Table; 3] = [Table::Users, Table::Posts, Table::Votes];

    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Posts => "posts",
            Table::Votes => "votes",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The pass an import is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the source and checking every row (nothing is written).
    Checking,
    /// Copying into Agora's database, batch by batch.
    Copying,
}

/// What an import tells while it runs (a command maps it to a progress
/// bar); every method has a default that does nothing.
pub trait ImportProgress: Sync {
    /// A stage of `table` starts, over `rows` rows.
    fn start(&self, stage: Stage, table: Table, rows: u64) {
        let _ = (stage, table, rows);
    }

    /// `rows` more rows of `table` are done (while copying: committed).
    /// [`ControlFlow::Break`] stops the import here, as a crash would,
    /// with every batch so far committed: the report says
    /// [`ImportReport::stopped`], and a later run completes it.
    fn advance(&self, stage: Stage, table: Table, rows: u64) -> ControlFlow<()> {
        let _ = (stage, table, rows);
        ControlFlow::Continue(())
    }
}

/// An [`ImportProgress`] that tells nothing and never stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {}

/// A row of the source, by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKey {
    /// `users.id`.
    User(i64),
    /// `posts.id`.
    Post(i64),
    /// A vote, `votes(user_id, post_id)`.
    Vote {
        /// `votes.user_id`.
        user_id: i64,
        /// `votes.post_id`.
        post_id: i64,
    },
}

impl RowKey {
    /// The row's table.
    pub fn table(self) -> Table {
        match self {
            RowKey::User(_) => Table::Users,
            RowKey::Post(_) => Table::Posts,
            RowKey::Vote { .. } => Table::Votes,
        }
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowKey::User(id) => write!(f, "users id {id}"),
            RowKey::Post(id) => write!(f, "posts id {id}"),
            RowKey::Vote { user_id, post_id } => {
                write!(f, "votes user_id {user_id} post_id {post_id}")
            }
        }
    }
}

/// Why a row is not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The email is not an address Agora accepts ([`Email::parse`](agora_core::domain::Email::parse)).
    InvalidEmail {
        /// The email as the source has it.
        email: String,
    },
    /// The email is an earlier user's once normalised (it differs only in
    /// case or in look-alike characters): Agora keeps one account per
    /// address, the earliest.
    DuplicateEmail {
        /// The email as the source has it.
        email: String,
        /// The earlier user with the same address.
        same_as: i64,
    },
    /// Post fields core refuses ([`PostCreate::into_draft`](agora_core::schema::PostCreate::into_draft)), each as
    /// `field: message`.
    InvalidPost {
        /// The problems.
        problems: Vec<String>,
    },
    /// The user the row belongs to (a post's owner, a vote's voter) is not
    /// imported: skipped itself, or absent from the source.
    UserNotImported(i64),
    /// The post a vote is for is not imported.
    PostNotImported(i64),
    /// Agora's database already has a row with this key and other content
    /// (a conflict: the row is left as it is).
    Conflict {
        /// The columns that differ.
        differs: Vec<&'static str>,
    },
    /// Agora already has a user with another id and this email (a conflict).
    EmailTaken {
        /// That Agora user.
        agora_user: i64,
    },
}

impl SkipReason {
    /// Whether the row conflicts with what Agora's database holds (rather
    /// than being refused by Agora's rules, or depending on such a row).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            SkipReason::Conflict { .. } | SkipReason::EmailTaken { .. }
        )
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::InvalidEmail { email } => {
                write!(f, "the email {email:?} is not a valid address")
            }
            SkipReason::DuplicateEmail { email, same_as } => write!(
                f,
                "the email {email:?} is user {same_as}'s, ignoring case (Agora keeps one account per address)"
            ),
            SkipReason::InvalidPost { problems } => {
                write!(f, "refused by Agora: {}", problems.join("; "))
            }
            SkipReason::UserNotImported(id) => write!(f, "user {id} is not imported"),
            SkipReason::PostNotImported(id) => write!(f, "post {id} is not imported"),
            SkipReason::Conflict { differs } => write!(
                f,
                "conflict: Agora's database has a different row with this id ({} differ)",
                differs.join(", ")
            ),
            SkipReason::EmailTaken { agora_user } => write!(
                f,
                "conflict: Agora's user {agora_user} already has this email"
            ),
        }
    }
}

/// A row that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// The row.
    pub row: RowKey,
    /// Why.
    pub reason: SkipReason,
}

impl fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.row, self.reason)
    }
}

/// The counts of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    /// Rows read from the source.
    pub read: u64,
    /// Rows inserted into Agora's database by this run.
    pub imported: u64,
    /// Rows Agora's database already had, the same (an earlier run's).
    pub already_present: u64,
    /// Rows not imported (see [`ImportReport::skipped`]).
    pub skipped: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The counts of `users`.
    pub users: TableCounts,
    /// The counts of `posts`.
    pub posts: TableCounts,
    /// The counts of `votes`.
    pub votes: TableCounts,
    /// Every row not imported, with the reason, in the order found.
    pub skipped: Vec<SkippedRow>,
    /// The import was stopped ([`ImportProgress::advance`]) before the end:
    /// the counts cover what was done; running it again completes it.
    pub stopped: bool,
}

impl ImportReport {
    /// The counts of `table`.
    pub fn counts(&self, table: Table) -> &TableCounts {
        match table {
            Table::Users => &self.users,
            Table::Posts => &self.posts,
            Table::Votes => &self.votes,
        }
    }

    fn counts_mut(&mut self, table: Table) -> &mut TableCounts {
        match table {
            Table::Users => &mut self.users,
            Table::Posts => &mut self.posts,
            Table::Votes => &mut self.votes,
        }
    }

    /// The skipped rows that conflict with Agora's database.
    pub fn conflicts(&self) -> impl Iterator<Item = &SkippedRow> {
        self.skipped.iter().filter(|s| s.reason.is_conflict())
    }
}

/// Why [`import_fastapi`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source URL is neither `postgres://` nor `sqlite://`.
    #[error(
        "the FastAPI database must be PostgreSQL or SQLite (postgres://... or sqlite://...), not {0}"
    )]
    UnsupportedSource(String),
    /// The source database cannot be opened or reached.
    #[error("cannot open the FastAPI database {url}: {source}")]
    Source {
        /// The source URL, password redacted.
        url: String,
        /// What failed.
        source: ConnectError,
    },
    /// The source SQLite file does not exist.
    #[error("the FastAPI database {0} does not exist")]
    SourceMissing(String),
    /// The source lacks tables of the FastAPI app.
    #[error(
        "{url} is not the FastAPI app's database: it has no table {}",
        missing.join(", no table ")
    )]
    NotFastapi {
        /// The source URL, password redacted.
        url: String,
        /// The tables missing.
        missing: Vec<&'static str>,
    },
    /// Reading the source failed (a column missing or of another type, the
    /// connection lost).
    #[error("cannot read {table} from the FastAPI database: {source}")]
    Read {
        /// The table being read.
        table: Table,
        /// What failed.
        source: sqlx::Error,
    },
    /// Agora's database cannot be opened (the error names the setting:
    /// `server.database_url`, see [`ImportError::renamed`]).
    #[error(transparent)]
    Target(ConnectError),
    /// Writing into Agora's database failed: the batch was rolled back,
    /// the batches before it are committed, and running the import again
    /// goes on from there.
    #[error("cannot write {table} into Agora's database: {source}")]
    Write {
        /// The table being written.
        table: Table,
        /// What failed.
        source: sqlx::Error,
    },
    /// Rows Agora cannot accept, found before anything was written (retry
    /// with [`ImportOptions::skip_invalid`] to import the others).
    #[error("{} rows cannot be imported, nothing was written", .0.len())]
    Invalid(Vec<SkippedRow>),
}

impl ImportError {
    /// The same error with the setting it names (Agora's database,
    /// `server.database_url`) called `name(field path)`, as
    /// [`ConnectError::renamed`] does: `agora_core::config::env::variable`
    /// gives `AGORA_DATABASE_URL`.
    pub fn renamed(self, name: impl Fn(&'static str) -> &'static str) -> Self {
        match self {
            ImportError::Target(e) => ImportError::Target(e.renamed(name)),
            other => other,
        }
    }
}

/// Copies users, posts and votes from the FastAPI app's database at
/// `source_url` (`postgres://...` or `sqlite://...`, only read) into
/// Agora's database, `config.server.database_url` (migrated first), as the
/// [module documentation](self) describes; both connect within
/// `config.server.pool.acquire_timeout`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use agora_sqlx::import::{ImportOptions, NoProgress, import_fastapi};
/// let config = agora_core::Config::from_env()?;
/// let report = import_fastapi(
///     "postgres://app@old-db/fastapi",
///     &config,
///     &ImportOptions::default(),
///     &NoProgress,
/// )
/// .await?;
/// println!("{} users imported", report.users.imported);
/// # Ok(()) }
/// ```
pub async fn import_fastapi(
    source_url: &str,
    config: &Config,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportReport, ImportError> {
    let pool = &config.server.pool;
    let batch = options.batch_size.clamp(1, MAX_BATCH_SIZE);
    let mut source = Source::open(source_url, pool).await?;
    let missing = source
        .missing_tables()
        .await
        .map_err(|e| ImportError::Source {
            url: redact_password(source_url),
            source: e.into(),
        })?;
    if !missing.is_empty() {
        return Err(ImportError::NotFastapi {
            url: redact_password(source_url),
            missing,
        });
    }
    let mut totals = [0; 3];
    for (total, table) in totals.iter_mut().zip(Table::ALL) {
        *total = source.count(table).await.map_err(read(table))?;
    }
    let target = Target::open(&config.server.database_url, pool).await?;
    let mut report = ImportReport::default();
    let Some(plan) = check(&mut source, batch, &totals, progress, &mut report.skipped).await?
    else {
        report.stopped = true;
        return Ok(report);
    };
    if !report.skipped.is_empty() && !options.skip_invalid {
        return Err(ImportError::Invalid(report.skipped));
    }
    let mut copy = Copier {
        source,
        target,
        batch,
        plan,
        report,
        progress,
    };
    copy.run(&totals).await?;
    Ok(copy.report)
}

/// `users` as read from the source.
type UserRow = (i64, String, String, DateTime<Utc>);
/// `posts` as read from the source and from Agora's database.
type PostRow = (i64, String, String, bool, DateTime<Utc>, i64);
/// `votes` as read: user, post.
type VoteRow = (i64, i64);

/// The source's statements: `$n` placeholders work on PostgreSQL and on
/// SQLite. Ids come as BIGINT whatever their column's width.
const READ_USERS: &str = "SELECT CAST(id AS BIGINT), email, password, created_at FROM users \
                          WHERE id > $1 ORDER BY id LIMIT $2";
const READ_POSTS: &str = "SELECT CAST(id AS BIGINT), title, content, published, created_at, \
                          CAST(owner_id AS BIGINT) FROM posts WHERE id > $1 ORDER BY id LIMIT $2";
const READ_VOTES: &str = "SELECT CAST(user_id AS BIGINT), CAST(post_id AS BIGINT) FROM votes \
                          WHERE user_id > $1 OR (user_id = $1 AND post_id > $2) \
                          ORDER BY user_id, post_id LIMIT $3";

/// The error of reading `table`.
fn read(table: Table) -> impl Fn(sqlx::Error) -> ImportError {
    move |source| ImportError::Read { table, source }
}

/// The error of writing `table`.
fn write(table: Table) -> impl Fn(sqlx::Error) -> ImportError {
    move |source| ImportError::Write { table, source }
}

/// The source: one read-only transaction, so both passes see one snapshot.
enum Source {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$tx` the source's transaction, whatever its backend.
macro_rules! on_source {
    ($source:expr, $tx:ident => $body:expr) => {
        match $source {
            #[cfg(feature = "sqlite")]
            Source::Sqlite($tx) => $body,
            #[cfg(feature = "postgres")]
            Source::Postgres($tx) => $body,
        }
    };
}

impl Source {
    async fn open(url: &str, pool: &PoolConfig) -> Result<Source, ImportError> {
        let backend = Backend::from_url(url)
            .filter(|b| *b != Backend::MySql)
            .ok_or_else(|| ImportError::UnsupportedSource(redact_password(url)))?;
        let failed = |source| ImportError::Source {
            url: redact_password(url),
            source,
        };
        let opened = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| failed(e.into()))?
                    .read_only(true)
                    .busy_timeout(pool.acquire_timeout);
                if !url.contains(":memory:") && !options.get_filename().exists() {
                    return Err(ImportError::SourceMissing(redact_password(url)));
                }
                begin::<sqlx::SqliteConnection>(options, pool)
                    .await
                    .map(Source::Sqlite)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(|e| failed(e.into()))?
                    .application_name("agora-import")
                    .options([(
                        "statement_timeout",
                        pool.statement_timeout.as_millis().max(1).to_string(),
                    )]);
                match begin::<sqlx::PgConnection>(options, pool).await {
                    Ok(mut tx) => {
                        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                            .execute(&mut *tx)
                            .await
                            .map(|_| Source::Postgres(tx))
                    }
                    Err(e) => Err(e),
                }
            }
            #[allow(unreachable_patterns)]
            disabled => {
                return Err(failed(ConnectError::BackendDisabled(disabled.name())));
            }
        };
        match opened {
            Ok(source) => Ok(source),
            Err(e) => {
                let explained = crate::error::explain(backend, url, pool, e).await;
                Err(failed(explained.renamed(|_| "SOURCE_URL")))
            }
        }
    }

    /// The FastAPI tables the source lacks.
    async fn missing_tables(&mut self) -> Result<Vec<&'static str>, sqlx::Error> {
        let present: Vec<String> = match self {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(tx) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut **tx)
                    .await?
            }
            #[cfg(feature = "postgres")]
            Source::Postgres(tx) => {
                sqlx::query_scalar(
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                     WHERE table_schema = ANY (current_schemas(false))",
                )
                .fetch_all(&mut **tx)
                .await?
            }
        };
        Ok(Table::ALL
            .iter()
            .map(|t| t.name())
            .filter(|name| !present.iter().any(|p| p == name))
            .collect())
    }

    async fn count(&mut self, table: Table) -> Result<u64, sqlx::Error> {
        let sql = match table {
            Table::Users => "SELECT COUNT(*) FROM users",
            Table::Posts => "SELECT COUNT(*) FROM posts",
            Table::Votes => "SELECT COUNT(*) FROM votes",
        };
        let n: i64 = on_source!(self, tx => sqlx::query_scalar(sql).fetch_one(&mut **tx).await?);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// The next users after id `after`, by id.
    async fn users(&mut self, after: i64, limit: usize) -> Result<Vec<UserRow>, sqlx::Error> {
        let rows: Vec<UserRow> = on_source!(self, tx => sqlx::query_as(READ_USERS)
            .bind(after)
            .bind(limit_of(limit))
            .fetch_all(&mut **tx)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, email, password, created_at)| (id, email, password, micros(created_at)))
            .collect())
    }

    /// The next posts after id `after`, by id.
    async fn posts(&mut self, after: i64, limit: usize) -> Result<Vec<PostRow>, sqlx::Error> {
        let rows: Vec<PostRow> = on_source!(self, tx => sqlx::query_as(READ_POSTS)
            .bind(after)
            .bind(limit_of(limit))
            .fetch_all(&mut **tx)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, t, c, p, created_at, o)| (id, t, c, p, micros(created_at), o))
            .collect())
    }

    /// The next votes after `after`, by user then post.
    async fn votes(&mut self, after: VoteRow, limit: usize) -> Result<Vec<VoteRow>, sqlx::Error> {
        Ok(on_source!(self, tx => sqlx::query_as(READ_VOTES)
            .bind(after.0)
            .bind(after.1)
            .bind(limit_of(limit))
            .fetch_all(&mut **tx)
            .await?))
    }
}

/// A one-connection pool on `options` that connects within the acquire
/// timeout, and a transaction on it.
async fn begin<C: sqlx::Connection + 'static>(
    options: C::Options,
    pool: &PoolConfig,
) -> Result<sqlx::Transaction<'static, C::Database>, sqlx::Error> {
    PoolOptions::<C::Database>::new()
        .max_connections(1)
        .acquire_timeout(pool.acquire_timeout)
        .connect_with(options)
        .await?
        .begin()
        .await
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A time at the precision every backend stores (PostgreSQL's microseconds).
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// What the check found: the rows to copy.
struct Plan {
    users: HashSet<i64>,
    posts: HashSet<i64>,
}

/// The first pass: every row checked by core's rules, rejected rows (and
/// the rows depending on them) added to `skipped`; `None` when stopped.
async fn check(
    source: &mut Source,
    batch: usize,
    totals: &[u64; 3],
    progress: &dyn ImportProgress,
    skipped: &mut Vec<SkippedRow>,
) -> Result<Option<Plan>, ImportError> {
    let mut plan = Plan {
        users: HashSet::new(),
        posts: HashSet::new(),
    };
    let mut emails: HashMap<String, i64> = HashMap::new();
    let mut reject = |row, reason| skipped.push(SkippedRow { row, reason });

    progress.start(Stage::Checking, Table::Users, totals[0]);
    let mut after = i64::MIN;
    loop {
        let rows = source
            .users(after, batch)
            .await
            .map_err(read(Table::Users))?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, email, _, _) in &rows {
            match Email::parse(email) {
                Err(_) => reject(
                    RowKey::User(*id),
                    SkipReason::InvalidEmail {
                        email: email.clone(),
                    },
                ),
                Ok(normal) => match emails.get(normal.as_str()) {
                    Some(&same_as) => reject(
                        RowKey::User(*id),
                        SkipReason::DuplicateEmail {
                            email: email.clone(),
                            same_as,
                        },
                    ),
                    None => {
                        emails.insert(normal.as_str().to_owned(), *id);
                        plan.users.insert(*id);
                    }
                },
            }
        }
        if progress
            .advance(Stage::Checking, Table::Users, count(&rows))
            .is_break()
        {
            return Ok(None);
        }
    }
    drop(emails);

    progress.start(Stage::Checking, Table::Posts, totals[1]);
    let mut after = i64::MIN;
    loop {
        let rows = source
            .posts(after, batch)
            .await
            .map_err(read(Table::Posts))?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, title, content, published, _, owner) in &rows {
            if let Err(e) = post_draft(title, content, *published) {
                let problems = e
                    .field_errors()
                    .iter()
                    .map(|f| format!("{}: {}", f.loc.last().map_or("", String::as_str), f.msg))
                    .collect();
                reject(RowKey::Post(*id), SkipReason::InvalidPost { problems });
            } else if !plan.users.contains(owner) {
                reject(RowKey::Post(*id), SkipReason::UserNotImported(*owner));
            } else {
                plan.posts.insert(*id);
            }
        }
        if progress
            .advance(Stage::Checking, Table::Posts, count(&rows))
            .is_break()
        {
            return Ok(None);
        }
    }

    progress.start(Stage::Checking, Table::Votes, totals[2]);
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let rows = source
            .votes(after, batch)
            .await
            .map_err(read(Table::Votes))?;
        let Some(&last) = rows.last() else { break };
        after = last;
        for &(user_id, post_id) in &rows {
            let row = RowKey::Vote { user_id, post_id };
            if !plan.users.contains(&user_id) {
                reject(row, SkipReason::UserNotImported(user_id));
            } else if !plan.posts.contains(&post_id) {
                reject(row, SkipReason::PostNotImported(post_id));
            }
        }
        if progress
            .advance(Stage::Checking, Table::Votes, count(&rows))
            .is_break()
        {
            return Ok(None);
        }
    }
    Ok(Some(plan))
}

/// Core's check of a post's fields, as its API would make them.
fn post_draft(title: &str, content: &str, published: bool) -> agora_core::error::Result<()> {
    PostCreate {
        title: title.to_owned(),
        content: content.to_owned(),
        published,
        description: None,
        tags: None,
    }
    .into_draft()
    .map(drop)
}

fn count<T>(rows: &[T]) -> u64 {
    u64::try_from(rows.len()).unwrap_or(u64::MAX)
}

/// The second pass's state.
struct Copier<'p> {
    source: Source,
    target: Target,
    batch: usize,
    plan: Plan,
    report: ImportReport,
    progress: &'p dyn ImportProgress,
}

/// What became of a row in the target.
enum Outcome {
    Imported,
    Present,
    Conflict(SkipReason),
}

impl Copier<'_> {
    async fn run(&mut self, totals: &[u64; 3]) -> Result<(), ImportError> {
        // Rows whose user or post conflicted in this run, and so were not imported.
        let mut lost_users = HashSet::new();
        let mut lost_posts = HashSet::new();

        self.progress.start(Stage::Copying, Table::Users, totals[0]);
        let mut after = i64::MIN;
        loop {
            let rows = self
                .source
                .users(after, self.batch)
                .await
                .map_err(read(Table::Users))?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let n = count(&rows);
            let mut batch = Vec::new();
            for (id, email, hash, created_at) in rows {
                if !self.plan.users.contains(&id) {
                    self.report.users.skipped += 1;
                    continue;
                }
                // Checked: it parses.
                let email = Email::parse(&email).map_or(email, |e| e.as_str().to_owned());
                batch.push((id, email, hash, created_at));
            }
            let outcomes = self
                .target
                .write_users(&batch)
                .await
                .map_err(write(Table::Users))?;
            for (id, outcome) in outcomes {
                if self.record(Table::Users, RowKey::User(id), outcome) {
                    lost_users.insert(id);
                }
            }
            self.report.users.read += n;
            if self.stop(Table::Users, n) {
                return Ok(());
            }
        }

        self.progress.start(Stage::Copying, Table::Posts, totals[1]);
        let mut after = i64::MIN;
        loop {
            let rows = self
                .source
                .posts(after, self.batch)
                .await
                .map_err(read(Table::Posts))?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let n = count(&rows);
            let mut batch = Vec::new();
            for row in rows {
                let (id, owner) = (row.0, row.5);
                if !self.plan.posts.contains(&id) {
                    self.report.posts.skipped += 1;
                } else if lost_users.contains(&owner) {
                    lost_posts.insert(id);
                    let reason = SkipReason::UserNotImported(owner);
                    self.skip(RowKey::Post(id), reason);
                } else {
                    batch.push(row);
                }
            }
            let outcomes = self
                .target
                .write_posts(&batch)
                .await
                .map_err(write(Table::Posts))?;
            for (id, outcome) in outcomes {
                if self.record(Table::Posts, RowKey::Post(id), outcome) {
                    lost_posts.insert(id);
                }
            }
            self.report.posts.read += n;
            if self.stop(Table::Posts, n) {
                return Ok(());
            }
        }

        self.progress.start(Stage::Copying, Table::Votes, totals[2]);
        let mut after = (i64::MIN, i64::MIN);
        loop {
            let rows = self
                .source
                .votes(after, self.batch)
                .await
                .map_err(read(Table::Votes))?;
            let Some(&last) = rows.last() else { break };
            after = last;
            let n = count(&rows);
            let mut batch = Vec::new();
            for (user_id, post_id) in rows {
                let row = RowKey::Vote { user_id, post_id };
                if !self.plan.users.contains(&user_id) || !self.plan.posts.contains(&post_id) {
                    self.report.votes.skipped += 1;
                } else if lost_users.contains(&user_id) {
                    self.skip(row, SkipReason::UserNotImported(user_id));
                } else if lost_posts.contains(&post_id) {
                    self.skip(row, SkipReason::PostNotImported(post_id));
                } else {
                    batch.push((user_id, post_id));
                }
            }
            let outcomes = self
                .target
                .write_votes(&batch)
                .await
                .map_err(write(Table::Votes))?;
            for ((user_id, post_id), outcome) in outcomes {
                self.record(Table::Votes, RowKey::Vote { user_id, post_id }, outcome);
            }
            self.report.votes.read += n;
            if self.stop(Table::Votes, n) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Counts a row's outcome; whether it conflicted.
    fn record(&mut self, table: Table, row: RowKey, outcome: Outcome) -> bool {
        let counts = self.report.counts_mut(table);
        match outcome {
            Outcome::Imported => counts.imported += 1,
            Outcome::Present => counts.already_present += 1,
            Outcome::Conflict(reason) => {
                self.skip(row, reason);
                return true;
            }
        }
        false
    }

    fn skip(&mut self, row: RowKey, reason: SkipReason) {
        self.report.counts_mut(row.table()).skipped += 1;
        self.report.skipped.push(SkippedRow { row, reason });
    }

    /// Tells the progress; whether it stops the import.
    fn stop(&mut self, table: Table, rows: u64) -> bool {
        let stop = self
            .progress
            .advance(Stage::Copying, table, rows)
            .is_break();
        self.report.stopped = stop;
        stop
    }
}

/// Agora's database.
enum Target {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// What the dialects of Agora's database do differently here.
struct Dialect {
    /// Between an insert's columns and its values, so that explicit ids
    /// go into identity columns.
    explicit_ids: &'static str,
    /// `users`' email as its unique index compares it (bound emails are
    /// normalised, hence in lower case).
    email_key: &'static str,
    /// Moves the sequences of `users` and `posts` past their largest id,
    /// never back (where inserting an id does not).
    advance_ids: Option<[&'static str; 2]>,
}

#[cfg(feature = "sqlite")]
const SQLITE: Dialect = Dialect {
    explicit_ids: "",
    email_key: "email",
    advance_ids: None,
};

/// `pg_sequence_last_value` is NULL before the sequence's first use.
#[cfg(feature = "postgres")]
macro_rules! advance_sequence {
    ($table:literal) => {
        concat!(
            "SELECT setval(CAST(q.s AS regclass), q.m) FROM (SELECT pg_get_serial_sequence('",
            $table,
            "', 'id') AS s, (SELECT MAX(id) FROM ",
            $table,
            ") AS m) q WHERE q.m > COALESCE(pg_sequence_last_value(CAST(q.s AS regclass)), 0)"
        )
    };
}

#[cfg(feature = "postgres")]
const POSTGRES: Dialect = Dialect {
    explicit_ids: "OVERRIDING SYSTEM VALUE ",
    email_key: "lower(email)",
    advance_ids: Some([advance_sequence!("users"), advance_sequence!("posts")]),
};

#[cfg(feature = "mysql")]
const MYSQL: Dialect = Dialect {
    explicit_ids: "",
    email_key: "email_lower",
    advance_ids: None,
};

/// Runs `$body` with `$pool` the target's pool, `$dialect` its [`Dialect`]
/// and `Db` its sqlx database type.
macro_rules! on_target {
    ($target:expr, $pool:ident, $dialect:ident => $body:expr) => {
        match $target {
            #[cfg(feature = "sqlite")]
            Target::Sqlite($pool) => {
                type Db = sqlx::Sqlite;
                let $dialect = &SQLITE;
                $body
            }
            #[cfg(feature = "postgres")]
            Target::Postgres($pool) => {
                type Db = sqlx::Postgres;
                let $dialect = &POSTGRES;
                $body
            }
            #[cfg(feature = "mysql")]
            Target::MySql($pool) => {
                type Db = sqlx::MySql;
                let $dialect = &MYSQL;
                $body
            }
        }
    };
}

impl Target {
    /// Opens and migrates Agora's database, as [`crate::connect`] does.
    async fn open(url: &str, pool: &PoolConfig) -> Result<Target, ImportError> {
        let backend = Backend::from_url(url).ok_or_else(|| {
            ImportError::Target(ConnectError::UnsupportedUrl(redact_password(url)))
        })?;
        let opened = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => crate::sqlite::SqliteStore::connect(url, pool)
                .await
                .map(|s| Target::Sqlite(s.pool().clone())),
            #[cfg(feature = "postgres")]
            Backend::Postgres => crate::postgres::PgStore::connect(url, pool)
                .await
                .map(|s| Target::Postgres(s.pool().clone())),
            #[cfg(feature = "mysql")]
            Backend::MySql => crate::mysql::MySqlStore::connect(url, pool)
                .await
                .map(|s| Target::MySql(s.pool().clone())),
            #[allow(unreachable_patterns)]
            disabled => Err(ConnectError::BackendDisabled(disabled.name())),
        };
        match opened {
            Ok(target) => Ok(target),
            Err(ConnectError::Database(e)) => Err(ImportError::Target(
                crate::error::explain(backend, url, pool, e).await,
            )),
            Err(e) => Err(ImportError::Target(e)),
        }
    }

    /// Inserts the users (id, normalised email, hash, created_at) absent by
    /// id, in one transaction; the others are present or in conflict.
    async fn write_users(&self, rows: &[UserRow]) -> Result<Vec<(i64, Outcome)>, sqlx::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        on_target!(self, pool, dialect => {
            let mut tx = pool.begin().await?;
            let mut q = QueryBuilder::<Db>::new("SELECT id, email, created_at FROM users WHERE id IN (");
            let mut ids = q.separated(", ");
            for row in rows {
                ids.push_bind(row.0);
            }
            q.push(")");
            let by_id: HashMap<i64, (String, DateTime<Utc>)> = q
                .build_query_as::<(i64, String, DateTime<Utc>)>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id, email, at)| (id, (email, at)))
                .collect();
            let mut q = QueryBuilder::<Db>::new("SELECT id, email FROM users WHERE ");
            q.push(dialect.email_key).push(" IN (");
            let mut emails = q.separated(", ");
            for row in rows {
                emails.push_bind(row.1.as_str());
            }
            q.push(")");
            let by_email: HashMap<String, i64> = q
                .build_query_as::<(i64, String)>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id, email)| (normal(&email), id))
                .collect();
            let mut outcomes = Vec::with_capacity(rows.len());
            let mut new = Vec::new();
            for row in rows {
                let (id, email, _, created_at) = row;
                let outcome = if let Some((their_email, their_at)) = by_id.get(id) {
                    let mut differs = Vec::new();
                    if normal(their_email) != *email {
                        differs.push("email");
                    }
                    if micros(*their_at) != *created_at {
                        differs.push("created_at");
                    }
                    if differs.is_empty() {
                        Outcome::Present
                    } else {
                        Outcome::Conflict(SkipReason::Conflict { differs })
                    }
                } else if let Some(&agora_user) = by_email.get(email) {
                    Outcome::Conflict(SkipReason::EmailTaken { agora_user })
                } else {
                    new.push(row);
                    Outcome::Imported
                };
                outcomes.push((*id, outcome));
            }
            if !new.is_empty() {
                let mut q = QueryBuilder::<Db>::new("INSERT INTO users (id, email, password_hash, created_at) ");
                q.push(dialect.explicit_ids);
                q.push_values(new, |mut b, (id, email, hash, created_at)| {
                    b.push_bind(*id).push_bind(email.as_str()).push_bind(hash.as_str()).push_bind(*created_at);
                });
                q.build().execute(&mut *tx).await?;
                if let Some([users, _]) = dialect.advance_ids {
                    sqlx::query(users).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// Inserts the posts absent by id, in one transaction.
    async fn write_posts(&self, rows: &[PostRow]) -> Result<Vec<(i64, Outcome)>, sqlx::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        on_target!(self, pool, dialect => {
            let mut tx = pool.begin().await?;
            let mut q = QueryBuilder::<Db>::new(
                "SELECT id, title, content, published, created_at, owner_id FROM posts WHERE id IN (",
            );
            let mut ids = q.separated(", ");
            for row in rows {
                ids.push_bind(row.0);
            }
            q.push(")");
            let present: HashMap<i64, PostRow> = q
                .build_query_as::<PostRow>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|row| (row.0, row))
                .collect();
            let mut outcomes = Vec::with_capacity(rows.len());
            let mut new = Vec::new();
            for row in rows {
                let outcome = match present.get(&row.0) {
                    Some(theirs) => {
                        let differs: Vec<&'static str> = [
                            ("title", theirs.1 != row.1),
                            ("content", theirs.2 != row.2),
                            ("published", theirs.3 != row.3),
                            ("created_at", micros(theirs.4) != row.4),
                            ("owner_id", theirs.5 != row.5),
                        ]
                        .into_iter()
                        .filter_map(|(column, differ)| differ.then_some(column))
                        .collect();
                        if differs.is_empty() {
                            Outcome::Present
                        } else {
                            Outcome::Conflict(SkipReason::Conflict { differs })
                        }
                    }
                    None => {
                        new.push(row);
                        Outcome::Imported
                    }
                };
                outcomes.push((row.0, outcome));
            }
            if !new.is_empty() {
                let mut q = QueryBuilder::<Db>::new(
                    "INSERT INTO posts (id, title, content, published, created_at, owner_id) ",
                );
                q.push(dialect.explicit_ids);
                q.push_values(new, |mut b, (id, title, content, published, created_at, owner)| {
                    b.push_bind(*id)
                        .push_bind(title.as_str())
                        .push_bind(content.as_str())
                        .push_bind(*published)
                        .push_bind(*created_at)
                        .push_bind(*owner);
                });
                q.build().execute(&mut *tx).await?;
                if let Some([_, posts]) = dialect.advance_ids {
                    sqlx::query(posts).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// Inserts the votes absent, in one transaction (a vote has no other
    /// content: one present is the same).
    async fn write_votes(&self, rows: &[VoteRow]) -> Result<Vec<(VoteRow, Outcome)>, sqlx::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        on_target!(self, pool, _dialect => {
            let mut tx = pool.begin().await?;
            let mut q = QueryBuilder::<Db>::new("SELECT user_id, post_id FROM votes WHERE (user_id, post_id) IN (");
            let mut pairs = q.separated(", ");
            for (user_id, post_id) in rows {
                pairs.push("(").push_bind_unseparated(*user_id);
                pairs.push_unseparated(", ").push_bind_unseparated(*post_id).push_unseparated(")");
            }
            q.push(")");
            let present: HashSet<VoteRow> = q
                .build_query_as::<VoteRow>()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
            let new: Vec<&VoteRow> = rows.iter().filter(|v| !present.contains(*v)).collect();
            if !new.is_empty() {
                let mut q = QueryBuilder::<Db>::new("INSERT INTO votes (user_id, post_id) ");
                q.push_values(new, |mut b, (user_id, post_id)| {
                    b.push_bind(*user_id).push_bind(*post_id);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(rows
                .iter()
                .map(|v| {
                    let outcome = if present.contains(v) { Outcome::Present } else { Outcome::Imported };
                    (*v, outcome)
                })
                .collect())
        })
    }
}

/// An email as Agora keys it: its normal form ([`Email::parse`](agora_core::domain::Email::parse)), or, for
/// one that does not parse, itself in lower case.
fn normal(email: &str) -> String {
    Email::parse(email).map_or_else(|_| email.to_lowercase(), |e| e.as_str().to_owned())
}
