//! The PostgreSQL backend: for several stateless app servers sharing one database.

use std::str::FromStr;
use std::time::Duration;

use agora_core::domain::{Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, User, UserId};
use agora_core::storage::{PostStore, StorageResult, Store, UserStore, VoteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::error::map;
use crate::list::ListSql;
use crate::rows::{PostRow, UserRow};
use crate::{ConnectError, PoolConfig};

/// Post listings; `ILIKE` is served by the trigram index.
const LIST: ListSql = ListSql {
    all: select_post_page!(
        "SELECT id FROM posts WHERE (published OR owner_id = $1) AND id < $2 \
         ORDER BY id DESC LIMIT $3 OFFSET $4"
    ),
    search: select_post_page!(
        "SELECT id FROM posts WHERE (published OR owner_id = $1) AND id < $2 \
         AND title ILIKE $3 ORDER BY id DESC LIMIT $4 OFFSET $5"
    ),
};

/// Agora's storage on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and
    /// runs the migrations.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let options = PgConnectOptions::from_str(url)?.application_name("agora");
        // Migrations run on a connection of their own, free of the statement
        // timeout (an index build may take longer than any request should).
        let migrating =
            crate::pool::migration_pool::<sqlx::Postgres>(options.clone(), pool).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&migrating)
            .await?;
        migrating.close().await;
        // The server cancels a statement (or an idle transaction) that runs
        // past the timeout, freeing its connection and locks, and closes
        // sessions left idle (see `PoolConfig::session_idle_timeout`).
        let millis = |d: Duration| d.as_millis().max(1).to_string();
        let statement = millis(pool.statement_timeout);
        let options = options.options([
            ("statement_timeout", statement.as_str()),
            ("idle_in_transaction_session_timeout", statement.as_str()),
            (
                "idle_session_timeout",
                millis(pool.session_idle_timeout()).as_str(),
            ),
        ]);
        let pool = crate::pool::options(pool).connect_with(options).await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) \
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
            sqlx::query_as("SELECT id, email, created_at FROM users WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map)?;
        Ok(row.map(User::from))
    }

    async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl PostStore for PgStore {
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO posts (title, content, published, created_at, owner_id) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
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
        let row: Option<PostRow> = sqlx::query_as(select_posts!("WHERE p.id = $1"))
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
            sqlx::query("UPDATE posts SET title = $1, content = $2, published = $3 WHERE id = $4")
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
        let row: Option<PostRow> = sqlx::query_as(select_posts!("WHERE p.id = $1"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;
        Ok(row.map(|r| PostWithVotes::from(r).post))
    }

    async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM posts WHERE id = $1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl VoteStore for PgStore {
    async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()> {
        sqlx::query("INSERT INTO votes (post_id, user_id) VALUES ($1, $2)")
            .bind(post.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
    }

    async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool> {
        let done = sqlx::query("DELETE FROM votes WHERE post_id = $1 AND user_id = $2")
            .bind(post.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }
}

crate::sessions::impl_session_store!(PgStore, sqlx::Postgres, crate::sessions::POSTGRES);

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
