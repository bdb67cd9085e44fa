//! Credentials, the session store and the account token store, written
//! once for every backend: each backend instantiates [`impl_session_store!`] (through
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

/// `impl SessionStore` and `impl AccountTokenStore for $store` over a pool of `$db`, with `$sql`'s
/// statements. `$store` must have a `pool` field.
macro_rules! impl_session_store {
    ($store:ident, $db:ty, $sql:expr) => {
        mod session_store {
            use agora_core::domain::{
                Email, RefreshClaim, RefreshTokenRecord, Session, User, UserCredentials, UserId,
            };
            use agora_core::mail::MailKind;
            use agora_core::storage::{
                AccountToken, AccountTokenStore, SessionStore, StorageError, StorageResult,
                TokenIssue,
            };
            use agora_core::throttle::Limit;
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};

            use super::$store;
            use crate::error::map;
            use crate::rows::{CredentialsRow, RefreshRow, SessionRow, SessionUserRow, UserRow};
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
                    debug_assert_eq!(refresh.session_id, session.id);
                    let insert_session = |statement| {
                        sqlx::query(statement)
                            .bind(&session.id)
                            .bind(session.created_at)
                            .bind(session.last_used_at)
                            .bind(session.expires_at)
                            .bind(session.user_agent.as_deref())
                            .bind(session.ip.as_deref())
                            .bind(refresh_key)
                            .bind(session.user_id.0)
                            .bind(credential_generation)
                    };
                    let created = retrying(|| async {
                        if let Some(statement) = $sql.create_session_with_refresh {
                            let inserted = insert_session(statement)
                                .bind(&refresh.token_hash)
                                .bind(refresh.created_at)
                                .bind(refresh.expires_at)
                                .execute(&self.pool)
                                .await?;
                            return Ok(inserted.rows_affected() == 1);
                        }
                        let mut tx = self.pool.begin().await?;
                        let inserted = insert_session($sql.create_session)
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
                        let ended =
                            end_sessions_in(&mut tx, user, keep, new_password_hash, now).await?;
                        tx.commit().await?;
                        Ok(ended)
                    })
                    .await
                }
            }

            #[async_trait]
            impl AccountTokenStore for $store {
                async fn issue_token(
                    &self,
                    email: &Email,
                    token: &AccountToken,
                    cap: Limit,
                ) -> StorageResult<TokenIssue> {
                    let window =
                        chrono::Duration::from_std(cap.window).unwrap_or(chrono::Duration::MAX);
                    let window_start = token.created_at - window;
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        // The user's row first: issues for one account queue here.
                        let locked: Option<(i64,)> = sqlx::query_as($sql.lock_user_by_email)
                            .bind(email.as_str())
                            .fetch_optional(&mut *tx)
                            .await?;
                        let credentials: Option<CredentialsRow> = match locked {
                            Some(_) => {
                                sqlx::query_as($sql.find_credentials)
                                    .bind(email.as_str())
                                    .fetch_optional(&mut *tx)
                                    .await?
                            }
                            None => None,
                        };
                        let Some(credentials) = credentials.map(UserCredentials::from) else {
                            return Ok(TokenIssue::NoAccount);
                        };
                        let user = credentials.user;
                        if token.purpose == MailKind::VerifyEmail && user.email_verified {
                            return Ok(TokenIssue::AlreadyVerified);
                        }
                        sqlx::query($sql.prune_tokens)
                            .bind(user.id.0)
                            .bind(window_start)
                            .bind(token.created_at)
                            .execute(&mut *tx)
                            .await?;
                        let (recent,): (i64,) = sqlx::query_as($sql.count_recent_tokens)
                            .bind(user.id.0)
                            .bind(window_start)
                            .fetch_one(&mut *tx)
                            .await?;
                        if u64::try_from(recent).unwrap_or(u64::MAX) >= cap.max {
                            return Ok(TokenIssue::Capped);
                        }
                        let address = user.email.as_ref().map_or("", |e| e.as_str());
                        sqlx::query($sql.insert_token)
                            .bind(&token.token_hash)
                            .bind(token.purpose.as_str())
                            .bind(user.id.0)
                            .bind(address)
                            .bind(credentials.credential_generation)
                            .bind(token.created_at)
                            .bind(token.expires_at)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(TokenIssue::Issued(user))
                    })
                    .await
                }

                async fn live_token(
                    &self,
                    token_hash: &str,
                    purpose: MailKind,
                    now: DateTime<Utc>,
                ) -> StorageResult<Option<UserId>> {
                    let live: Option<(i64,)> = sqlx::query_as(live_statement(purpose))
                        .bind(token_hash)
                        .bind(purpose.as_str())
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(live.map(|(id,)| UserId(id)))
                }

                async fn reset_password(
                    &self,
                    token_hash: &str,
                    new_password_hash: &str,
                    now: DateTime<Utc>,
                ) -> StorageResult<Option<(UserId, u64)>> {
                    let Some(user) = self.token_user(token_hash).await? else {
                        return Ok(None);
                    };
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        if !use_token(&mut tx, user, token_hash, MailKind::PasswordReset, now)
                            .await?
                        {
                            return Ok(None);
                        }
                        let ended =
                            end_sessions_in(&mut tx, user, None, Some(new_password_hash), now)
                                .await?;
                        tx.commit().await?;
                        Ok(Some((user, ended)))
                    })
                    .await
                }

                async fn verify_email(
                    &self,
                    token_hash: &str,
                    now: DateTime<Utc>,
                ) -> StorageResult<Option<User>> {
                    let Some(user) = self.token_user(token_hash).await? else {
                        return Ok(None);
                    };
                    retrying(|| async {
                        let mut tx = self.pool.begin().await?;
                        if !use_token(&mut tx, user, token_hash, MailKind::VerifyEmail, now).await?
                        {
                            return Ok(None);
                        }
                        sqlx::query($sql.mark_email_verified)
                            .bind(user.0)
                            .execute(&mut *tx)
                            .await?;
                        let row: Option<UserRow> = sqlx::query_as($sql.get_user)
                            .bind(user.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(row.map(User::from))
                    })
                    .await
                }
            }

            impl $store {
                /// The user a token was issued to, whatever its state.
                async fn token_user(&self, token_hash: &str) -> StorageResult<Option<UserId>> {
                    let row: Option<(i64,)> = sqlx::query_as($sql.token_user)
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(map)?;
                    Ok(row.map(|(id,)| UserId(id)))
                }
            }

            fn live_statement(purpose: MailKind) -> &'static str {
                match purpose {
                    MailKind::PasswordReset => $sql.live_reset_token,
                    MailKind::VerifyEmail => $sql.live_verify_token,
                }
            }

            /// Locks `user`'s row, then uses the token if it is live for
            /// `purpose`; whether it was.
            async fn use_token(
                tx: &mut Tx<'_>,
                user: UserId,
                token_hash: &str,
                purpose: MailKind,
                now: DateTime<Utc>,
            ) -> Result<bool, sqlx::Error> {
                let locked: Option<(i64,)> = sqlx::query_as($sql.lock_user)
                    .bind(user.0)
                    .fetch_optional(&mut **tx)
                    .await?;
                if locked.is_none() {
                    return Ok(false);
                }
                let live: Option<(i64,)> = sqlx::query_as(live_statement(purpose))
                    .bind(token_hash)
                    .bind(purpose.as_str())
                    .bind(now)
                    .fetch_optional(&mut **tx)
                    .await?;
                if live.is_none_or(|(owner,)| owner != user.0) {
                    return Ok(false);
                }
                let used = sqlx::query($sql.use_token)
                    .bind(now)
                    .bind(token_hash)
                    .execute(&mut **tx)
                    .await?;
                Ok(used.rows_affected() == 1)
            }

            /// [`SessionStore::end_sessions`] inside `tx`.
            async fn end_sessions_in(
                tx: &mut Tx<'_>,
                user: UserId,
                keep: Option<&str>,
                new_password_hash: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<u64, sqlx::Error> {
                // The user's row first (see the lock order above).
                match new_password_hash {
                    Some(hash) => {
                        sqlx::query($sql.bump_generation_with_password)
                            .bind(hash)
                            .bind(user.0)
                            .execute(&mut **tx)
                            .await?
                    }
                    None => {
                        sqlx::query($sql.bump_generation)
                            .bind(user.0)
                            .execute(&mut **tx)
                            .await?
                    }
                };
                if let Some(keep) = keep {
                    sqlx::query($sql.carry_session_over)
                        .bind(keep)
                        .bind(user.0)
                        .bind(user.0)
                        .execute(&mut **tx)
                        .await?;
                }
                // Session ids are never empty, so "" keeps nothing.
                Ok(sqlx::query($sql.revoke_sessions)
                    .bind(now)
                    .bind(user.0)
                    .bind(now)
                    .bind(keep.unwrap_or(""))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
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
