//! Sessions: refresh-token rotation with reuse detection, logout, and the
//! user's list of sessions.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Agora;
use super::audit::Audit;
use super::auth::session_of;
use crate::crypto::{random_hex, token_hash};
use crate::domain::{Caller, ClientInfo, RefreshTokenRecord, Session, User, UserId, now};
use crate::error::{Error, Result};
use crate::schema::{RefreshRequest, SessionInfo, Token};

/// Refresh tokens longer than this are not looked up.
const MAX_REFRESH_TOKEN_LEN: usize = 256;

fn duration(std: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(std).unwrap_or(chrono::Duration::MAX)
}

/// The one successor of a refresh token: HMAC-SHA256 under the session's
/// secret key. Every exchange of a token, concurrent retries included, gets
/// the same successor, so a session never has more than one chain of
/// refresh tokens; without the key, a token says nothing about its successor.
fn successor(refresh_key: &str, token: &str) -> Option<String> {
    if refresh_key.is_empty() {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(refresh_key.as_bytes()).ok()?;
    mac.update(token.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

impl Agora {
    /// Starts a session for `user`, whose credentials were read at
    /// `credential_generation`, and returns its first token pair; `None`
    /// when the credentials changed (or the user went) since they were read.
    pub(super) async fn start_session(
        &self,
        user: &User,
        credential_generation: i64,
        client: &ClientInfo,
    ) -> Result<Option<Token>> {
        let now = now();
        let session = Session {
            id: random_hex(16),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + duration(self.inner.sessions.lifetime),
            revoked_at: None,
            user_agent: client.user_agent.clone(),
            ip: client.ip.map(|ip| ip.to_string()),
        };
        let refresh_token = random_hex(32);
        let record = self.refresh_record(&session, &refresh_token, now);
        if !self
            .inner
            .store
            .create_session(&session, &random_hex(32), credential_generation, &record)
            .await?
        {
            return Ok(None);
        }
        self.token_pair(user.id, &session.id, refresh_token, record.expires_at, now)
            .map(Some)
    }

    fn refresh_record(
        &self,
        session: &Session,
        token: &str,
        now: DateTime<Utc>,
    ) -> RefreshTokenRecord {
        let expires_at = (now + duration(self.inner.sessions.refresh_ttl)).min(session.expires_at);
        RefreshTokenRecord {
            token_hash: token_hash(token),
            session_id: session.id.clone(),
            created_at: now,
            expires_at,
        }
    }

    fn token_pair(
        &self,
        user: UserId,
        session_id: &str,
        refresh_token: String,
        refresh_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Token> {
        let access = self.inner.tokens.issue(user, Some(session_id))?;
        Ok(Token {
            access_token: access.token,
            token_type: "bearer".to_owned(),
            expires_in: access.expires_in,
            refresh_token,
            refresh_expires_in: u64::try_from((refresh_expires_at - now).num_seconds())
                .unwrap_or(0),
        })
    }

    /// Exchanges a refresh token for a new access token and the refresh
    /// token's successor (rotation). Each refresh token works once:
    /// presenting one that was already exchanged ends the whole session (a
    /// stolen token was probably used), unless it comes within the reuse
    /// grace window (by the database's clock), which lets a client that
    /// retried concurrently go on: it gets the same successor, so one chain
    /// of tokens stays alive, never several. An unknown, expired or ended
    /// token, or an access token, is [`Error::Unauthorized`].
    pub async fn refresh(&self, request: RefreshRequest, client: &ClientInfo) -> Result<Token> {
        let token = request.refresh_token;
        if token.is_empty() || token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(Error::Unauthorized);
        }
        let Some(claim) = self
            .inner
            .store
            .claim_refresh_token(&token_hash(&token))
            .await?
        else {
            Audit::new("refresh")
                .outcome("unknown_token")
                .client(client)
                .info();
            return Err(Error::Unauthorized);
        };
        let session = claim.session;
        let now = claim.checked_at;
        let audit = |outcome| {
            Audit::new("refresh")
                .outcome(outcome)
                .user(session.user_id)
                .session(&session.id)
                .client(client)
        };
        if !session.is_active(now) || now >= claim.expires_at {
            audit("expired_or_ended").info();
            return Err(Error::Unauthorized);
        }
        let grace = duration(self.inner.sessions.reuse_grace);
        if let Some(rotated_at) = claim.previously_rotated_at
            && now - rotated_at > grace
        {
            self.inner
                .store
                .revoke_session(session.user_id, &session.id, now)
                .await?;
            audit("reuse_detected_session_revoked").warn();
            return Err(Error::Unauthorized);
        }
        let Some(refresh_token) = successor(&claim.refresh_key, &token) else {
            // A session started before refresh keys existed: log in again.
            audit("session_without_refresh_key").info();
            return Err(Error::Unauthorized);
        };
        let record = self.refresh_record(&session, &refresh_token, now);
        self.inner.store.add_refresh_token(&record).await?;
        audit("success").info();
        self.token_pair(
            session.user_id,
            &session.id,
            refresh_token,
            record.expires_at,
            now,
        )
    }

    /// Ends the caller's session: its refresh token and every access token
    /// of the session stop working at once.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        let (user, session) = (caller.user(), session_of(caller)?);
        self.inner
            .store
            .revoke_session(user.id, &session.id, now())
            .await?;
        Audit::new("logout")
            .user(user.id)
            .session(&session.id)
            .info();
        Ok(())
    }

    /// Ends every session of the caller's user, the caller's included.
    pub async fn logout_all(&self, caller: &Caller) -> Result<u64> {
        let (user, session) = (caller.user(), session_of(caller)?);
        let ended = self
            .inner
            .store
            .end_sessions(user.id, None, None, now())
            .await?;
        Audit::new("logout_all")
            .user(user.id)
            .session(&session.id)
            .sessions_ended(ended)
            .info();
        Ok(ended)
    }

    /// The active sessions of the caller's user, newest first, marking the
    /// caller's.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionInfo>> {
        let (user, current) = (caller.user(), session_of(caller)?);
        let sessions = self.inner.store.list_sessions(user.id, now()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionInfo {
                current: session.id == current.id,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions ([`Error::SessionNotFound`] if it is not
    /// an active session of theirs).
    pub async fn end_session(&self, caller: &Caller, session_id: &str) -> Result<()> {
        let (user, current) = (caller.user(), session_of(caller)?);
        if session_id.len() > 64
            || !self
                .inner
                .store
                .revoke_session(user.id, session_id, now())
                .await?
        {
            return Err(Error::SessionNotFound);
        }
        Audit::new("session_ended")
            .user(user.id)
            .session(session_id)
            .by_session(&current.id)
            .info();
        Ok(())
    }
}
