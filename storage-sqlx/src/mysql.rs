//! The MySQL / MariaDB backend. Written for MySQL 8 and MariaDB 10.5+
//! (no `RETURNING`: inserted ids come from `LAST_INSERT_ID()`); tested on MariaDB.

use std::str::FromStr;
use std::time::Duration;

use agora_core::domain::{Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, User, UserId};
use agora_core::storage::{PostStore, StorageError, StorageResult, Store, UserStore, VoteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};
use sqlx::{AssertSqlSafe, MySqlConnection, MySqlPool};

use crate::error::map;
use crate::list::ListSql;
use crate::rows::{PostRow, UserRow};
use crate::{ConnectError, PoolConfig};

/// Post listings. The pattern is a bound value, so LIKE's default escape `\`
/// applies. MySQL has no index for substring search: it walks posts newest
/// first until the page is full (search terms are as short as titles).
const LIST: ListSql = ListSql {
    all: crate::list::POSITIONAL_ALL,
    search: select_post_page!(
        "SELECT id FROM posts WHERE (published OR owner_id = ?) AND id < ? \
         AND LOWER(title) LIKE LOWER(?) ORDER BY id DESC LIMIT ? OFFSET ?"
    ),
};

/// Agora's storage on MySQL or MariaDB.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`; the
    /// scheme `mariadb://` works too) and runs the migrations.
    pub async fn connect(url: &str, pool: &PoolConfig) -> Result<Self, ConnectError> {
        let options = MySqlConnectOptions::from_str(url)?.charset("utf8mb4");
        // Migrations run on a connection of their own, free of the statement
        // timeout (an index build may take longer than any request should).
        let migrating = crate::pool::migration_pool::<sqlx::MySql>(options.clone(), pool).await?;
        sqlx::migrate!("./migrations/mysql").run(&migrating).await?;
        migrating.close().await;
        let (limit, idle) = (pool.statement_timeout, pool.session_idle_timeout());
        let pool = crate::pool::options(pool)
            .after_connect(move |conn, _| Box::pin(limit_session(conn, limit, idle)))
            .connect_with(options)
            .await?;
        Ok(MySqlStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

/// Has the server cancel any statement of this session that runs past
/// `limit` (MariaDB's `max_statement_time`, seconds, every statement; else
/// MySQL's `max_execution_time`, milliseconds, read-only `SELECT`s only) and
/// close the session after `idle` without a statement (`wait_timeout`, see
/// `PoolConfig::session_idle_timeout`).
async fn limit_session(
    conn: &mut MySqlConnection,
    limit: Duration,
    idle: Duration,
) -> Result<(), sqlx::Error> {
    let seconds = limit.as_secs_f64().max(0.001);
    let idle = idle.as_secs().max(1);
    let mariadb = format!("SET SESSION max_statement_time = {seconds:.3}, wait_timeout = {idle}");
    match sqlx::raw_sql(AssertSqlSafe(mariadb))
        .execute(&mut *conn)
        .await
    {
        // 1193: unknown system variable, i.e. MySQL.
        Err(sqlx::Error::Database(e))
            if e.try_downcast_ref::<MySqlDatabaseError>()
                .is_some_and(|e| e.number() == 1193) =>
        {
            let millis = limit.as_millis().max(1);
            let mysql = format!("SET SESSION max_execution_time = {millis}, wait_timeout = {idle}");
            sqlx::raw_sql(AssertSqlSafe(mysql))
                .execute(conn)
                .await
                .map(drop)
        }
        done => done.map(drop),
    }
}

fn inserted_id(result: &sqlx::mysql::MySqlQueryResult) -> StorageResult<i64> {
    i64::try_from(result.last_insert_id()).map_err(|e| StorageError::Other(Box::new(e)))
}

#[async_trait]
impl UserStore for MySqlStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        let done =
            sqlx::query("INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)")
                .bind(email.as_str())
                .bind(password_hash)
                .bind(created_at)
                .execute(&self.pool)
                .await
                .map_err(map)?;
        Ok(User {
            id: UserId(inserted_id(&done)?),
            email: Some(email.clone()),
            created_at,
        })
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
impl PostStore for MySqlStore {
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post> {
        let done = sqlx::query(
            "INSERT INTO posts (title, content, published, created_at, owner_id) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&draft.title)
        .bind(&draft.content)
        .bind(draft.published)
        .bind(created_at)
        .bind(owner.id.0)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(Post::new(
            PostId(inserted_id(&done)?),
            draft,
            created_at,
            owner,
        ))
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
        // Lock the row first: MySQL reports "rows changed", not "rows matched",
        // so an update writing identical values would look like a miss.
        let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM posts WHERE id = ? FOR UPDATE")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map)?;
        if exists.is_none() {
            return Ok(None);
        }
        sqlx::query("UPDATE posts SET title = ?, content = ?, published = ? WHERE id = ?")
            .bind(&draft.title)
            .bind(&draft.content)
            .bind(draft.published)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
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
impl VoteStore for MySqlStore {
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

crate::sessions::impl_session_store!(MySqlStore, sqlx::MySql, crate::sessions::MYSQL);

#[async_trait]
impl Store for MySqlStore {
    async fn ping(&self) -> StorageResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "mysql"
    }
}
