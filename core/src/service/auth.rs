//! Login and token authentication.

use super::Agora;
use super::audit::Audit;
use crate::domain::{
    Caller, ClientInfo, Email, Password, PostId, PostWithVotes, Session, User, UserId, now,
};
use crate::error::{Error, Result};
use crate::schema::{LoginRequest, Token, bearer_token};
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
    /// [`Error::Unauthorized`]), in one storage call
    /// ([`crate::storage::Store::active_session_post`]): the session
    /// check and the post's look-up share one database round trip.
    pub async fn get_post_with_token(
        &self,
        access_token: &str,
        id: PostId,
    ) -> Result<PostWithVotes> {
        let (user, session_id) = self.token_session(access_token)?;
        match self
            .inner
            .store
            .active_session_post(user, &session_id, id, now())
            .await?
        {
            Some(found) => self.visible_post(Some(user), id, found),
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
