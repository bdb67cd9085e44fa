//! The MySQL / MariaDB backend. Written for MySQL 8 and MariaDB 10.5+
//! (no `RETURNING`: inserted ids come from `LAST_INSERT_ID()`); tested on MariaDB.

use std::str::FromStr;

use agora_core::domain::{
    Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, RefreshClaim, RefreshTokenRecord,
    Session, User, UserCredentials, UserId,
};
use agora_core::storage::{
    PostStore, SessionStore, StorageError, StorageResult, Store, UserStore, VoteStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use crate::error::map;
use crate::rows::{
    CredentialsRow, PostRow, RefreshRow, SessionRow, SessionUserRow, UserRow, like_pattern,
};
use crate::{ConnectError, PoolConfig};

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
        let pool = MySqlPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/mysql").run(&pool).await?;
        Ok(MySqlStore { pool })
    }

    /// The underlying pool, for apps that add their own tables.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
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

    async fn find_credentials(&self, email: &Email) -> StorageResult<Option<UserCredentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(
            "SELECT id, email, created_at, password_hash FROM users WHERE email_lower = LOWER(?)",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        Ok(row.map(UserCredentials::from))
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StorageResult<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map)?;
        Ok(())
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
        // The pattern is a bound value, so LIKE's default escape `\` applies.
        // MySQL has no index for substring search: it walks posts newest
        // first until the page is full.
        let query = match &filter.search {
            None => sqlx::query_as(select_posts!(
                "STRAIGHT_JOIN",
                "WHERE (p.published OR p.owner_id = ?) AND p.id < ? \
                 ORDER BY p.id DESC LIMIT ? OFFSET ?"
            ))
            .bind(filter.viewer.0)
            .bind(filter.before),
            Some(search) => sqlx::query_as(select_posts!(
                "STRAIGHT_JOIN",
                "WHERE (p.published OR p.owner_id = ?) AND p.id < ? \
                 AND LOWER(p.title) LIKE LOWER(?) ORDER BY p.id DESC LIMIT ? OFFSET ?"
            ))
            .bind(filter.viewer.0)
            .bind(filter.before)
            .bind(like_pattern(search)),
        };
        let rows: Vec<PostRow> = query
            .bind(i64::from(filter.limit))
            .bind(i64::try_from(filter.skip).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(map)?;
        Ok(rows.into_iter().map(PostWithVotes::from).collect())
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

#[async_trait]
impl SessionStore for MySqlStore {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshTokenRecord,
    ) -> StorageResult<()> {
        let mut tx = self.pool.begin().await.map_err(map)?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(session.user_id.0)
        .bind(session.created_at)
        .bind(session.last_used_at)
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(map)?;
        insert_refresh(&mut tx, refresh).await?;
        tx.commit().await.map_err(map)
    }

    async fn session_user(
        &self,
        user: UserId,
        session_id: &str,
    ) -> StorageResult<Option<(User, Session)>> {
        let row: Option<SessionUserRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            ", u.email AS user_email, u.created_at AS user_created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?"
        ))
        .bind(session_id)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        Ok(row.map(Into::into))
    }

    async fn claim_refresh_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<RefreshClaim>> {
        // The conditional UPDATE is the atomic step: only one claimer changes the row.
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        let row: Option<RefreshRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            ", t.expires_at AS token_expires_at, t.rotated_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map)?;
        Ok(row.map(|r| r.into_claim(marked.rows_affected() == 1)))
    }

    async fn add_refresh_token(&self, refresh: &RefreshTokenRecord) -> StorageResult<()> {
        let mut tx = self.pool.begin().await.map_err(map)?;
        insert_refresh(&mut tx, refresh).await?;
        sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
            .bind(refresh.created_at)
            .bind(&refresh.session_id)
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)
    }

    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StorageResult<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? \
             ORDER BY s.created_at DESC, s.id"
        ))
        .bind(user.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map)?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(session_id)
        .bind(user.0)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        now: DateTime<Utc>,
    ) -> StorageResult<u64> {
        // Session ids are never empty, so "" keeps nothing.
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ? \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?",
        )
        .bind(now)
        .bind(user.0)
        .bind(now)
        .bind(keep.unwrap_or(""))
        .execute(&self.pool)
        .await
        .map_err(map)?;
        Ok(done.rows_affected())
    }
}

async fn insert_refresh(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    refresh: &RefreshTokenRecord,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(&refresh.token_hash)
    .bind(&refresh.session_id)
    .bind(refresh.created_at)
    .bind(refresh.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(map)?;
    Ok(())
}

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
