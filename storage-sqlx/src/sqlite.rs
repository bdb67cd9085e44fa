//! The SQLite backend: one file, WAL mode, foreign keys on.

use std::str::FromStr;

use agora_core::domain::{Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, User, UserId};
use agora_core::storage::{PostStore, StorageResult, Store, UserStore, VoteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use crate::error::map;
use crate::list::ListSql;
use crate::rows::{PostRow, UserRow};
use crate::{ConnectError, PoolConfig};

/// Post listings. SQLite's LIKE is case-insensitive for ASCII letters.
const LIST: ListSql = ListSql {
    all: crate::list::POSITIONAL_ALL,
    search: select_post_page!(
        "SELECT id FROM posts WHERE (published OR owner_id = ?) AND id < ? \
         AND title LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ? OFFSET ?"
    ),
};

/// Agora's storage on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`
    /// (`sqlite://path/to/file.db`, or `sqlite::memory:` for a private
    /// in-memory database on a single connection).
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(pool.acquire_timeout);
        // Every connection to ":memory:" would be a different database.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private_file(options.get_filename());
        }
        let max_connections = if in_memory { 1 } else { pool.max_connections };
        let pool = crate::pool::options(pool)
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Creates a missing database file empty, readable and writable by its owner
/// only (0600 on Unix; SQLite then gives its `-wal` and `-shm` files the
/// same mode), where SQLite would create it 0644. An existing file keeps the
/// mode its owner gave it. Failures are left for SQLite to report.
fn create_private_file(path: &std::path::Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Err(e) = options.open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        tracing::debug!(path = %path.display(), error = %e, "database file not pre-created");
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?) \
             RETURNING id, email, created_at",
        )
        .bind(email.as_str())
        .bind(password_hash)
        .bind(created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        Ok(row.into())
    }

    async fn get_user(&self, id: UserId) -> StorageResult<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as("SELECT id, email, created_at FROM users WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
        Ok(row.map(User::from))
    }

    async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO posts (title, content, published, created_at, owner_id) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&draft.title)
        .bind(&draft.content)
        .bind(draft.published)
        .bind(created_at)
        .bind(owner.id.0)
        .fetch_one(&self.pool)
        .await
        .map_err(map)?;
        Ok(Post::new(PostId(id), draft, created_at, owner))
    }

    async fn get_post(&self, id: PostId) -> StorageResult<Option<PostWithVotes>> {
        let row: Option<PostRow> = sqlx::query_as(select_posts!("WHERE p.id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map)?;
        Ok(row.map(PostWithVotes::from))
    }

    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>> {
        crate::list::list_posts(&self.pool, &LIST, filter).await
    }

    async fn update_post(&self, id: PostId, draft: &PostDraft) -> StorageResult<Option<Post>> {
        let mut tx = self.pool.begin().await.map_err(map)?;
        let updated =
            sqlx::query("UPDATE posts SET title = ?, content = ?, published = ? WHERE id = ?")
                .bind(&draft.title)
                .bind(&draft.content)
                .bind(draft.published)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(map)?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let row: Option<PostRow> = sqlx::query_as(select_posts!("WHERE p.id = ?"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(row.map(|r| PostWithVotes::from(r).post))
    }

    async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM posts WHERE id = ?")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl VoteStore for SqliteStore {
    async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()> {
        sqlx::query("INSERT INTO votes (post_id, user_id) VALUES (?, ?)")
            .bind(post.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
    }

    async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM votes WHERE post_id = ? AND user_id = ?")
            .bind(post.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

crate::sessions::impl_session_store!(SqliteStore, sqlx::Sqlite, crate::sessions::SQLITE);

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
