//! Login and token authentication.

use super::Agora;
use crate::domain::{Email, Password, User, UserId};
use crate::error::{Error, Result};
use crate::schema::{LoginRequest, Token, bearer_token};

impl Agora {
    /// Checks an email and password and issues an access token.
    ///
    /// Unknown email and wrong password give the same
    /// [`Error::InvalidCredentials`], and both cost one full hash (an unknown
    /// email is verified against a dummy hash), so neither the answer nor its
    /// timing reveals which emails are registered. A hash made with weaker
    /// parameters than the configured ones is replaced after success.
    pub async fn login(&self, request: LoginRequest) -> Result<Token> {
        let password = Password::new(request.password);
        // A malformed email cannot belong to anyone, but still costs a hash.
        let credentials = match Email::parse(&request.email) {
            Ok(email) => self.inner.store.find_credentials(&email).await?,
            Err(_) => None,
        };
        let verification = self
            .inner
            .hasher
            .verify(
                &password,
                credentials.as_ref().map(|c| c.password_hash.as_str()),
            )
            .await?;
        let Some(credentials) = credentials.filter(|_| verification.valid) else {
            tracing::info!(outcome = "failure", "login failed");
            return Err(Error::InvalidCredentials);
        };
        let user_id = credentials.user.id;
        if verification.needs_rehash {
            self.upgrade_hash(user_id, &password).await;
        }
        let issued = self.inner.tokens.issue(user_id)?;
        tracing::info!(user_id = user_id.0, outcome = "success", "login succeeded");
        Ok(Token {
            access_token: issued.token,
            token_type: "bearer".to_owned(),
            expires_in: issued.expires_in,
        })
    }

    /// Best effort: a failed upgrade is logged and retried at the next login.
    async fn upgrade_hash(&self, user: UserId, password: &Password) {
        let result = match self.inner.hasher.hash(password).await {
            Ok(hash) => self
                .inner
                .store
                .set_password_hash(user, &hash)
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => tracing::info!(user_id = user.0, "password hash upgraded"),
            Err(e) => tracing::warn!(user_id = user.0, error = %e, "password hash upgrade failed"),
        }
    }

    /// The user an access token belongs to. Any invalid token, or the token
    /// of a user that no longer exists, is [`Error::Unauthorized`].
    pub async fn authenticate(&self, access_token: &str) -> Result<User> {
        let claims = self.inner.tokens.verify(access_token)?;
        self.inner
            .store
            .get_user(UserId(claims.user_id))
            .await?
            .ok_or(Error::Unauthorized)
    }

    /// [`Agora::authenticate`] from a raw `Authorization` header value
    /// (`Bearer <token>`), as adapters receive it.
    pub async fn authenticate_header(&self, authorization: Option<&str>) -> Result<User> {
        self.authenticate(bearer_token(authorization)?).await
    }
}
