//! Login and token authentication.

use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;

use super::Agora;
use super::audit::Audit;
use crate::domain::{
    Caller, ClientInfo, Email, Password, PostId, PostWithVotes, Session, User, UserId, now,
};
use crate::error::{Error, Result};
use crate::schema::{LoginRequest, Token, bearer_token};
use crate::storage::{SessionPost, SessionsMark};
use crate::throttle::LoginAttempt;

impl Agora {
    /// Checks an email and password, starts a session and issues its access
    /// and refresh tokens.
    ///
    /// Unknown email and wrong password give the same
    /// [`Error::InvalidCredentials`], and both cost one full hash (an unknown
    /// email is verified against a dummy hash), so neither the answer nor its
    /// timing reveals which emails are registered. Failures are throttled per
    /// account and per client IP ([`Error::RateLimited`]). A hash made with
    /// weaker parameters (or imported from bcrypt) is replaced after success.
    /// With `MailConfig::require_verified_email`, an account whose address
    /// is not verified is refused after a correct password
    /// ([`Error::EmailNotVerified`]).
    pub async fn login(&self, request: LoginRequest, client: &ClientInfo) -> Result<Token> {
        let password = Password::new(request.password);
        let email = Email::parse(&request.email).ok();
        // Throttled by the normalised address, the same key that finds the
        // account; a malformed one (no account) by what was typed.
        let account_key = match &email {
            Some(email) => email.as_str().to_owned(),
            None => request.email.trim().to_lowercase(),
        };
        let result = match self
            .inner
            .throttle
            .begin_login(&account_key, client.ip)
            .await
        {
            Ok(attempt) => self.check_login(attempt, email, &password, client).await,
            Err(refused) => Err(refused),
        };
        if let Some(outcome) = crate::metrics::LoginOutcome::of(result.as_ref().err()) {
            crate::metrics::record_login(outcome);
        }
        result
    }

    /// The rest of a login whose attempt is reserved: the password check,
    /// then a new session.
    async fn check_login(
        &self,
        attempt: LoginAttempt,
        email: Option<Email>,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<Token> {
        // A malformed email cannot belong to anyone, but still costs a hash.
        let credentials = match &email {
            Some(email) => self.inner.store.find_credentials(email).await?,
            None => None,
        };
        let verification = self
            .inner
            .hasher
            .verify(
                password,
                credentials.as_ref().map(|c| c.password_hash.as_str()),
            )
            .await?;
        // A refused login names the address it tried (when well-formed).
        let audit = |outcome| Audit::new("login").outcome(outcome).email(email.as_ref());
        let fail = |outcome| {
            audit(outcome).client(client).info();
            Err(Error::InvalidCredentials)
        };
        let Some(credentials) = credentials.filter(|_| verification.valid) else {
            return fail("failure");
        };
        let user = credentials.user.clone();
        if self.inner.mail.require_verified_email && !user.email_verified {
            attempt.succeeded().await?;
            audit("email_not_verified")
                .user(user.id)
                .client(client)
                .info();
            return Err(Error::EmailNotVerified);
        }
        if verification.needs_rehash {
            self.upgrade_hash(user.id, &credentials.password_hash, password)
                .await;
        }
        // Refused when the password changed, every session was ended or the
        // account was deleted while this login was checking the old password.
        let Some(token) = self
            .start_session(&user, credentials.credential_generation, client)
            .await?
        else {
            return fail("credentials_changed");
        };
        attempt.succeeded().await?;
        Audit::new("login")
            .outcome("success")
            .user(user.id)
            .client(client)
            .info();
        Ok(token)
    }

    /// Best effort: a failed upgrade is logged and retried at the next login.
    /// Only replaces `verified_hash`, so it never undoes a password change
    /// made while this login was verifying.
    async fn upgrade_hash(&self, user: UserId, verified_hash: &str, password: &Password) {
        let result = match self.inner.hasher.hash(password).await {
            Ok(hash) => self
                .inner
                .store
                .upgrade_password_hash(user, verified_hash, &hash)
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => tracing::info!(user_id = user.0, "password hash upgraded"),
            Ok(false) => {
                tracing::info!(
                    user_id = user.0,
                    "password hash upgrade skipped: the password changed"
                )
            }
            Err(e) => tracing::warn!(user_id = user.0, error = %e, "password hash upgrade failed"),
        }
    }

    /// The caller an access token proves: its user and its session. Any
    /// invalid token, the token of an ended session, or of a user that no
    /// longer exists, is [`Error::Unauthorized`]. Costs one signature check
    /// and one indexed query (user and session together).
    pub async fn authenticate(&self, access_token: &str) -> Result<Caller> {
        let (user, session_id) = self.token_session(access_token)?;
        let found = self.inner.store.session_user(user, &session_id).await?;
        active_caller(found)
    }

    /// [`Agora::authenticate`] from a raw `Authorization` header value
    /// (`Bearer <token>`), as adapters receive it. No bearer token is
    /// [`Error::Unauthorized`] (challenge `Bearer`); a presented token that
    /// is refused, malformed included, is [`Error::InvalidToken`] (challenge
    /// `Bearer error="invalid_token"`, RFC 6750 §3.1).
    pub async fn authenticate_header(&self, authorization: Option<&str>) -> Result<Caller> {
        let token = bearer_token(authorization)?;
        self.authenticate(token).await.map_err(refused_token)
    }

    /// [`Agora::get_post`] for the caller an access token proves, checked as
    /// [`Agora::authenticate`] checks it (a refused token is
    /// [`Error::Unauthorized`]), in one database round trip.
    ///
    /// The first read with a session on this server checks the session in
    /// the post's own statement
    /// ([`crate::storage::Store::active_session_post`]) and remembers it
    /// with its user's [`SessionsMark`] (up to [`CHECKED_SESSIONS`]
    /// sessions). Later reads fetch the post with the user's mark instead
    /// ([`crate::storage::Store::marked_post`]: the user's row by its key,
    /// not the session's row and its join), and the session holds while the
    /// mark reads the same and its expiry is ahead. Every write that ends a
    /// session moves the mark in its own transaction, so once a logout (or
    /// a password change, or the end of every session) has answered, the
    /// next read on any server sees a new mark and checks the session in
    /// full: nothing has to reach the other servers, and nothing is trusted
    /// that the database has not just confirmed.
    pub async fn get_post_with_token(
        &self,
        access_token: &str,
        id: PostId,
    ) -> Result<PostWithVotes> {
        let (user, session_id) = self.token_session(access_token)?;
        let store = &self.inner.store;
        let now = now();
        let checked = &self.inner.checked_sessions;
        if let Some(mark) = checked.mark(&session_id, user, now) {
            match store.marked_post(user, id).await? {
                Some((current, found)) if current == mark => {
                    return self.visible_post(Some(user), id, found);
                }
                _ => checked.forget(&session_id),
            }
        }
        match store
            .active_session_post(user, &session_id, id, now)
            .await?
        {
            Some(found) => {
                checked.remember(session_id, user, &found);
                self.visible_post(Some(user), id, found.post)
            }
            None => Err(Error::Unauthorized),
        }
    }

    /// [`Agora::get_post_with_token`] from a raw `Authorization` header
    /// value, with [`Agora::authenticate_header`]'s errors.
    pub async fn get_post_as_bearer(
        &self,
        authorization: Option<&str>,
        id: PostId,
    ) -> Result<PostWithVotes> {
        let token = bearer_token(authorization)?;
        self.get_post_with_token(token, id)
            .await
            .map_err(refused_token)
    }

    /// The user and session id an access token names, once its signature
    /// and claims check out.
    fn token_session(&self, access_token: &str) -> Result<(UserId, String)> {
        let claims = self.inner.tokens.verify(access_token)?;
        let session_id = claims.sid.ok_or(Error::Unauthorized)?;
        Ok((UserId(claims.user_id), session_id))
    }
}

/// How many sessions a server remembers as checked
/// ([`Agora::get_post_with_token`]), about 100 bytes each.
pub const CHECKED_SESSIONS: usize = 16_384;

/// Sessions found active, each with its user and the [`SessionsMark`] it
/// was found at: what lets [`Agora::get_post_with_token`] skip the
/// session's row while the mark holds. An entry is a fact about one past
/// read, never trusted without the mark the database reads now.
pub(super) struct CheckedSessions(Cache<String, CheckedSession>);

#[derive(Clone)]
struct CheckedSession {
    user: UserId,
    expires_at: DateTime<Utc>,
    mark: SessionsMark,
}

impl CheckedSessions {
    pub(super) fn new() -> Self {
        CheckedSessions(Cache::new(CHECKED_SESSIONS))
    }

    /// The mark `session` of `user` was last found active at, unless it
    /// has expired by `now`.
    fn mark(&self, session: &str, user: UserId, now: DateTime<Utc>) -> Option<SessionsMark> {
        self.0
            .get(session)
            .filter(|checked| checked.user == user && now < checked.expires_at)
            .map(|checked| checked.mark)
    }

    fn remember(&self, session: String, user: UserId, found: &SessionPost) {
        let checked = CheckedSession {
            user,
            expires_at: found.session_expires_at,
            mark: found.mark,
        };
        self.0.insert(session, checked);
    }

    fn forget(&self, session: &str) {
        self.0.remove(session);
    }
}

/// The caller of a session found for a token, if it is still active.
fn active_caller(found: Option<(User, Session)>) -> Result<Caller> {
    match found {
        Some((user, session)) if session.is_active(now()) => {
            Ok(Caller::with_session(user, session))
        }
        _ => Err(Error::Unauthorized),
    }
}

/// A presented token that was refused: [`Error::InvalidToken`].
fn refused_token(error: Error) -> Error {
    match error {
        Error::Unauthorized => Error::InvalidToken,
        other => other,
    }
}

/// The session of a caller, for the calls that act on it; a caller without
/// one ([`Caller::acting_for`]) is [`Error::Unauthorized`].
pub(super) fn session_of(caller: &Caller) -> Result<&Session> {
    caller.session().ok_or(Error::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered session gives its mark to its own user only, and only
    /// before its expiry; a forgotten one gives none.
    #[test]
    fn a_checked_session_is_trusted_for_its_user_until_its_expiry() {
        let checked = CheckedSessions::new();
        let at = now();
        let mark = SessionsMark {
            epoch: 3,
            user_created_at: at,
        };
        let found = SessionPost {
            session_expires_at: at + chrono::Duration::seconds(10),
            mark,
            post: None,
        };
        checked.remember("s1".to_owned(), UserId(7), &found);
        assert_eq!(checked.mark("s1", UserId(7), at), Some(mark));
        assert_eq!(checked.mark("s1", UserId(8), at), None, "another user");
        assert_eq!(checked.mark("s2", UserId(7), at), None, "another session");
        assert_eq!(
            checked.mark("s1", UserId(7), found.session_expires_at),
            None,
            "at its expiry"
        );
        checked.forget("s1");
        assert_eq!(checked.mark("s1", UserId(7), at), None, "forgotten");
    }
}
