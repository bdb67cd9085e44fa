//! Credentials and the session store, written once for every backend: each
//! backend instantiates [`impl_session_store!`] (through
//! `crate::store::impl_store!`) with its dialect's [`crate::sql::Sql`].
//!
//! Lock order, the same in every transaction, so none can deadlock another:
//! the user's row first (password change, logout everywhere, and a login's
//! session insert, which reads it), then the session's row, then refresh
//! tokens. Deadlocks and serialization failures the database reports anyway
//! are retried a few times (see [`retrying`]).

/// Runs `op` (one transaction or statement) again, up to three more times
/// after a short pause, when the database aborted it as a deadlock victim
/// or for a serialization failure: the work is sound, only its timing lost.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> agora_core::storage::StorageResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut retries = 0u32;
    loop {
        match op().await {
            Err(e) if retries < 3 && crate::error::is_retryable(&e) => {
                retries += 1;
                tracing::debug!(error = %e, retries, "retrying after a deadlock or serialization failure");
                tokio::time::sleep(std::time::Duration::from_millis(5u64 << retries)).await;
            }
            other => return other.map_err(crate::error::map),
        }
    }
}

/// `impl SessionStore for $store` over a pool of `$db`, with `$sql`'s
/// statements. `$store` must have a `pool` field.
macro_rules! impl_session_store {
    ($store:ident, $db:ty, $sql:expr) => {
        mod session_store {
            use agora_core::domain::{
                Email, RefreshClaim, RefreshTokenRecord, Session, User, UserCredentials, UserId,
            };
            use agora_core::storage::{SessionStore, StorageError, StorageResult};
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};

            use super::$store;
            use crate::error::map;
            use crate::rows::{CredentialsRow, RefreshRow, SessionRow, SessionUserRow};
            use crate::sessions::retrying;

            type Tx<'c> = sqlx::Transaction<'c, $db>;

            #[async_trait]
            impl SessionStore for $store {
                async fn find_credentials(
                    &self,
                    email: &Email,
                ) -> StorageResult<Option<UserCredentials>> {
                    let row: Option<CredentialsRow> = sqlx::query_as($sql.find_credentials)
                        .bind(email.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(UserCredentials::from))
                }

                async fn upgrade_password_hash(
                    &self,
                    user: UserId,
                    verified_hash: &str,
                    new_hash: &str,
                ) -> StorageResult<bool> {
                    let done = sqlx::query($sql.upgrade_password_hash)
                        .bind(new_hash)
                        .bind(user.0)
                        .bind(verified_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn create_session(
                    &self,
                    session: &Session,
                    refresh_key: &str,
                    credential_generation: i64,
                    refresh: &RefreshTokenRecord,
                ) -> StorageResult<bool> {
                    let created = retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        let inserted = sqlx::query($sql.create_session)
                            .bind(&session.id)
                            .bind(session.created_at)
                            .bind(session.last_used_at)
                            .bind(session.expires_at)
                            .bind(session.user_agent.as_deref())
                            .bind(session.ip.as_deref())
                            .bind(refresh_key)
                            .bind(session.user_id.0)
                            .bind(credential_generation)
                            .execute(&mut *tx)
                            .await?;
                        if inserted.rows_affected() == 0 {
                            return Ok(false);
                        }
                        insert_refresh(&mut tx, $sql.insert_refresh, refresh).await?;
                        tx.commit().await?;
                        Ok(true)
                    })
                    .await;
                    match created {
                        // The user was deleted between the read and the insert.
                        Err(StorageError::MissingReference { .. }) => Ok(false),
                        other => other,
                    }
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
                ) -> StorageResult<Option<RefreshClaim>> {
                    // The conditional UPDATE is the atomic step: only one claimer changes the row.
                    let marked = retrying(|| {
                        sqlx::query($sql.mark_refresh)
                            .bind(token_hash)
                            .execute(&self.pool)
                    })
                    .await?;
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
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        // The session's row first: concurrent exchanges queue on it
                        // instead of deadlocking on the refresh token's foreign key.
                        sqlx::query($sql.touch_session)
                            .bind(refresh.created_at)
                            .bind(&refresh.session_id)
                            .execute(&mut *tx)
                            .await?;
                        insert_refresh(&mut tx, $sql.insert_refresh_once, refresh).await?;
                        tx.commit().await
                    })
                    .await
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

                async fn end_sessions(
                    &self,
                    user: UserId,
                    keep: Option<&str>,
                    new_password_hash: Option<&str>,
                    now: DateTime<Utc>,
                ) -> StorageResult<u64> {
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        // The user's row first (see the lock order above).
                        match new_password_hash {
                            Some(hash) => {
                                sqlx::query($sql.bump_generation_with_password)
                                    .bind(hash)
                                    .bind(user.0)
                                    .execute(&mut *tx)
                                    .await?
                            }
                            None => {
                                sqlx::query($sql.bump_generation)
                                    .bind(user.0)
                                    .execute(&mut *tx)
                                    .await?
                            }
                        };
                        if let Some(keep) = keep {
                            sqlx::query($sql.carry_session_over)
                                .bind(keep)
                                .bind(user.0)
                                .bind(user.0)
                                .execute(&mut *tx)
                                .await?;
                        }
                        // Session ids are never empty, so "" keeps nothing.
                        let ended = sqlx::query($sql.revoke_sessions)
                            .bind(now)
                            .bind(user.0)
                            .bind(now)
                            .bind(keep.unwrap_or(""))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        tx.commit().await?;
                        Ok(ended)
                    })
                    .await
                }
            }

            async fn insert_refresh(
                tx: &mut Tx<'_>,
                statement: &'static str,
                refresh: &RefreshTokenRecord,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(statement)
                    .bind(&refresh.token_hash)
                    .bind(&refresh.session_id)
                    .bind(refresh.created_at)
                    .bind(refresh.expires_at)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_session_store;
