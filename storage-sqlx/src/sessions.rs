//! The session store, written once for every backend: the statements differ
//! only in their placeholders (`?` for SQLite and MySQL, `$n` for
//! PostgreSQL), so each backend instantiates [`impl_session_store!`] with
//! its [`SessionSql`].

/// The session store's statements in one placeholder style.
pub(crate) struct SessionSql {
    pub(crate) create_session: &'static str,
    pub(crate) insert_refresh: &'static str,
    pub(crate) session_user: &'static str,
    /// The atomic step of a claim: only one claimer changes the row.
    pub(crate) mark_refresh: &'static str,
    pub(crate) refresh_claim: &'static str,
    pub(crate) touch_session: &'static str,
    pub(crate) list_sessions: &'static str,
    pub(crate) revoke_session: &'static str,
    /// Session ids are never empty, so binding "" as the kept id keeps nothing.
    pub(crate) revoke_sessions: &'static str,
}

/// SQLite and MySQL/MariaDB (`?` placeholders).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) const POSITIONAL: SessionSql = SessionSql {
    create_session: "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
    insert_refresh: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?"
    ),
    mark_refresh: "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL",
    refresh_claim: concat!(
        "SELECT ",
        session_columns!(),
        ", t.expires_at AS token_expires_at, t.rotated_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ?"
    ),
    touch_session: "UPDATE sessions SET last_used_at = ? WHERE id = ?",
    list_sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions s WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? ORDER BY s.created_at DESC, s.id"
    ),
    revoke_session: "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?",
    revoke_sessions: "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?",
};

/// PostgreSQL (`$n` placeholders).
#[cfg(feature = "postgres")]
pub(crate) const NUMBERED: SessionSql = SessionSql {
    create_session: "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    insert_refresh: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2"
    ),
    mark_refresh: "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL",
    refresh_claim: concat!(
        "SELECT ",
        session_columns!(),
        ", t.expires_at AS token_expires_at, t.rotated_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1"
    ),
    touch_session: "UPDATE sessions SET last_used_at = $1 WHERE id = $2",
    list_sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 ORDER BY s.created_at DESC, s.id"
    ),
    revoke_session: "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $4",
    revoke_sessions: "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $3 AND id <> $4",
};

/// `impl SessionStore for $store` over a pool of `$db`, with `$sql`'s
/// statements. `$store` must have a `pool` field.
macro_rules! impl_session_store {
    ($store:ident, $db:ty, $sql:expr) => {
        mod session_store {
            use agora_core::domain::{RefreshClaim, RefreshTokenRecord, Session, User, UserId};
            use agora_core::storage::{SessionStore, StorageResult};
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};

            use super::$store;
            use crate::error::map;
            use crate::rows::{RefreshRow, SessionRow, SessionUserRow};

            #[async_trait]
            impl SessionStore for $store {
                async fn create_session(
                    &self,
                    session: &Session,
                    refresh: &RefreshTokenRecord,
                ) -> StorageResult<()> {
                    let mut tx = self.pool.begin().await.map_err(map)?;
                    sqlx::query($sql.create_session)
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
                    let row: Option<SessionUserRow> = sqlx::query_as($sql.session_user)
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
                    let marked = sqlx::query($sql.mark_refresh)
                        .bind(now)
                        .bind(token_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    let row: Option<RefreshRow> = sqlx::query_as($sql.refresh_claim)
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(|r| r.into_claim(marked.rows_affected() == 1)))
                }

                async fn add_refresh_token(
                    &self,
                    refresh: &RefreshTokenRecord,
                ) -> StorageResult<()> {
                    let mut tx = self.pool.begin().await.map_err(map)?;
                    insert_refresh(&mut tx, refresh).await?;
                    sqlx::query($sql.touch_session)
                        .bind(refresh.created_at)
                        .bind(&refresh.session_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map)?;
                    tx.commit().await.map_err(map)
                }

                async fn list_sessions(
                    &self,
                    user: UserId,
                    now: DateTime<Utc>,
                ) -> StorageResult<Vec<Session>> {
                    let rows: Vec<SessionRow> = sqlx::query_as($sql.list_sessions)
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
                    let done = sqlx::query($sql.revoke_session)
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
                    let done = sqlx::query($sql.revoke_sessions)
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
                tx: &mut sqlx::Transaction<'_, $db>,
                refresh: &RefreshTokenRecord,
            ) -> StorageResult<()> {
                sqlx::query($sql.insert_refresh)
                    .bind(&refresh.token_hash)
                    .bind(&refresh.session_id)
                    .bind(refresh.created_at)
                    .bind(refresh.expires_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(map)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_session_store;
