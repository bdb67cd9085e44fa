//! Credentials and the session store, written once for every backend: the
//! statements differ only in their placeholders (`?` or `$n`), the
//! database's clock, the case-insensitive email look-up and the "insert
//! unless present" syntax, so each backend instantiates
//! [`impl_session_store!`] with its [`SessionSql`].
//!
//! Lock order, the same in every transaction, so none can deadlock another:
//! the user's row first (password change, logout everywhere, and a login's
//! session insert, which reads it), then the session's row, then refresh
//! tokens. Deadlocks and serialization failures the database reports anyway
//! are retried a few times (see [`retrying`]).

/// The session store's statements in one dialect.
pub(crate) struct SessionSql {
    pub(crate) find_credentials: &'static str,
    /// Compare-and-set of the password hash.
    pub(crate) upgrade_password_hash: &'static str,
    /// Inserts a session only while the user exists at the given credential generation.
    pub(crate) create_session: &'static str,
    pub(crate) insert_refresh: &'static str,
    /// Inserts a refresh token unless one with its hash exists.
    pub(crate) insert_refresh_once: &'static str,
    pub(crate) session_user: &'static str,
    /// The atomic step of a claim: only one claimer changes the row; the time is the database's.
    pub(crate) mark_refresh: &'static str,
    pub(crate) refresh_claim: &'static str,
    pub(crate) touch_session: &'static str,
    pub(crate) list_sessions: &'static str,
    pub(crate) revoke_session: &'static str,
    pub(crate) bump_generation: &'static str,
    pub(crate) bump_generation_with_password: &'static str,
    /// Moves the kept session to the new generation, only if it was of the previous one.
    pub(crate) carry_session_over: &'static str,
    /// Session ids are never empty, so binding "" as the kept id keeps nothing.
    pub(crate) revoke_sessions: &'static str,
}

/// `INSERT INTO sessions ... SELECT ... FROM users`, in a placeholder style.
macro_rules! create_session_sql {
    ($id:literal, $created:literal, $used:literal, $expires:literal, $ua:literal, $ip:literal, $key:literal, $user:literal, $generation:literal) => {
        concat!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, refresh_key, credential_generation) ",
            "SELECT ", $id, ", id, ", $created, ", ", $used, ", ", $expires, ", ", $ua, ", ", $ip, ", ", $key,
            ", credential_generation FROM users WHERE id = ", $user, " AND credential_generation = ", $generation
        )
    };
}

/// The claim query with the database's clock as `checked_at`.
macro_rules! refresh_claim_sql {
    ($now:literal, $hash:literal) => {
        concat!(
            "SELECT ",
            session_columns!(),
            ", s.refresh_key, t.expires_at AS token_expires_at, t.rotated_at, ",
            $now,
            " AS checked_at FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id ",
            "WHERE t.token_hash = ",
            $hash,
            " AND s.credential_generation = u.credential_generation"
        )
    };
}

/// Statements shared by SQLite and MySQL/MariaDB (`?` placeholders).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod positional {
    pub(crate) const UPGRADE_PASSWORD_HASH: &str =
        "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?";
    pub(crate) const CREATE_SESSION: &str =
        create_session_sql!("?", "?", "?", "?", "?", "?", "?", "?", "?");
    pub(crate) const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)";
    pub(crate) const SESSION_USER: &str = concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at FROM sessions s JOIN users u ON u.id = s.user_id ",
        "WHERE s.id = ? AND s.user_id = ? AND s.credential_generation = u.credential_generation"
    );
    pub(crate) const TOUCH_SESSION: &str = "UPDATE sessions SET last_used_at = ? WHERE id = ?";
    pub(crate) const LIST_SESSIONS: &str = concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? ",
        "AND s.credential_generation = u.credential_generation ORDER BY s.created_at DESC, s.id"
    );
    pub(crate) const REVOKE_SESSION: &str = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?";
    pub(crate) const BUMP_GENERATION: &str =
        "UPDATE users SET credential_generation = credential_generation + 1 WHERE id = ?";
    pub(crate) const BUMP_GENERATION_WITH_PASSWORD: &str = "UPDATE users SET credential_generation = credential_generation + 1, password_hash = ? WHERE id = ?";
    pub(crate) const CARRY_SESSION_OVER: &str = "UPDATE sessions SET credential_generation = credential_generation + 1 WHERE id = ? AND user_id = ? AND credential_generation = (SELECT credential_generation - 1 FROM users WHERE id = ?)";
    pub(crate) const REVOKE_SESSIONS: &str = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?";
}

/// SQLite: emails are `COLLATE NOCASE`; the clock is the one the file is on.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: SessionSql = SessionSql {
    find_credentials: "SELECT id, email, created_at, password_hash, credential_generation FROM users WHERE email = ?",
    upgrade_password_hash: positional::UPGRADE_PASSWORD_HASH,
    create_session: positional::CREATE_SESSION,
    insert_refresh: positional::INSERT_REFRESH,
    insert_refresh_once: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING",
    session_user: positional::SESSION_USER,
    mark_refresh: "UPDATE refresh_tokens SET rotated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE token_hash = ? AND rotated_at IS NULL",
    refresh_claim: refresh_claim_sql!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", "?"),
    touch_session: positional::TOUCH_SESSION,
    list_sessions: positional::LIST_SESSIONS,
    revoke_session: positional::REVOKE_SESSION,
    bump_generation: positional::BUMP_GENERATION,
    bump_generation_with_password: positional::BUMP_GENERATION_WITH_PASSWORD,
    carry_session_over: positional::CARRY_SESSION_OVER,
    revoke_sessions: positional::REVOKE_SESSIONS,
};

/// MySQL/MariaDB: emails through the stored `email_lower` column.
#[cfg(feature = "mysql")]
pub(crate) const MYSQL: SessionSql = SessionSql {
    find_credentials: "SELECT id, email, created_at, password_hash, credential_generation FROM users WHERE email_lower = LOWER(?)",
    upgrade_password_hash: positional::UPGRADE_PASSWORD_HASH,
    create_session: positional::CREATE_SESSION,
    insert_refresh: positional::INSERT_REFRESH,
    insert_refresh_once: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE token_hash = token_hash",
    session_user: positional::SESSION_USER,
    mark_refresh: "UPDATE refresh_tokens SET rotated_at = UTC_TIMESTAMP(6) WHERE token_hash = ? AND rotated_at IS NULL",
    refresh_claim: refresh_claim_sql!("UTC_TIMESTAMP(6)", "?"),
    touch_session: positional::TOUCH_SESSION,
    list_sessions: positional::LIST_SESSIONS,
    revoke_session: positional::REVOKE_SESSION,
    bump_generation: positional::BUMP_GENERATION,
    bump_generation_with_password: positional::BUMP_GENERATION_WITH_PASSWORD,
    carry_session_over: positional::CARRY_SESSION_OVER,
    revoke_sessions: positional::REVOKE_SESSIONS,
};

/// PostgreSQL (`$n` placeholders).
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: SessionSql = SessionSql {
    find_credentials: "SELECT id, email, created_at, password_hash, credential_generation FROM users WHERE lower(email) = lower($1)",
    upgrade_password_hash: "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
    create_session: create_session_sql!("$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"),
    insert_refresh: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    insert_refresh_once: "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING",
    session_user: concat!(
        "SELECT ",
        session_columns!(),
        ", u.email AS user_email, u.created_at AS user_created_at FROM sessions s JOIN users u ON u.id = s.user_id ",
        "WHERE s.id = $1 AND s.user_id = $2 AND s.credential_generation = u.credential_generation"
    ),
    mark_refresh: "UPDATE refresh_tokens SET rotated_at = clock_timestamp() WHERE token_hash = $1 AND rotated_at IS NULL",
    refresh_claim: refresh_claim_sql!("clock_timestamp()", "$1"),
    touch_session: "UPDATE sessions SET last_used_at = $1 WHERE id = $2",
    list_sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 ",
        "AND s.credential_generation = u.credential_generation ORDER BY s.created_at DESC, s.id"
    ),
    revoke_session: "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $4",
    bump_generation: "UPDATE users SET credential_generation = credential_generation + 1 WHERE id = $1",
    bump_generation_with_password: "UPDATE users SET credential_generation = credential_generation + 1, password_hash = $1 WHERE id = $2",
    carry_session_over: "UPDATE sessions SET credential_generation = credential_generation + 1 WHERE id = $1 AND user_id = $2 AND credential_generation = (SELECT credential_generation - 1 FROM users WHERE id = $3)",
    revoke_sessions: "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $3 AND id <> $4",
};

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
