//! Operator operations (the `admin` command): accounts acted on by their
//! address, with no caller, no client and no throttling, under the same
//! rules as the API's own routes. Each is an audit event: `admin_create_user`,
//! `admin_set_password`, `admin_revoke_sessions`.

use super::Agora;
use super::audit::Audit;
use crate::User;
use crate::domain::{Email, UserId, now};
use crate::error::Result;
use crate::schema::UserCreate;

/// What an operator's change to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChange {
    /// The account changed.
    pub user: UserId,
    /// How many of its active sessions ended.
    pub sessions_ended: u64,
}

impl Agora {
    /// Creates a user under the registration rules of [`Agora::register`]
    /// (email, password policy, username; a taken email is
    /// [`crate::Error::EmailTaken`]), without its per-IP throttling.
    pub async fn admin_create_user(&self, request: UserCreate) -> Result<User> {
        let registration = self.registration(request)?;
        let user = self.insert_user(registration).await?;
        Audit::new("admin_create_user").user(user.id).info();
        Ok(user)
    }

    /// Sets the password of the account with address `email`, as a password
    /// reset does: the password follows the registration rules
    /// ([`crate::Error::Validation`] otherwise, and nothing changes), every
    /// session of the user ends (its access and refresh tokens are refused
    /// at once) and every outstanding reset link dies. `None` when no
    /// account has this address; a malformed address is
    /// [`crate::Error::Validation`].
    pub async fn admin_set_password(
        &self,
        email: &str,
        password: String,
    ) -> Result<Option<AccountChange>> {
        let email = Email::parse(email).map_err(|e| e.within(&["email"]))?;
        let password = self
            .inner
            .password_policy
            .check(password)
            .map_err(|e| e.within(&["password"]))?;
        let Some(user) = self.account(&email).await? else {
            return Ok(None);
        };
        let hash = self.inner.hasher.hash(&password).await?;
        let change = self.end_every_session(user, Some(&hash)).await?;
        Audit::new("admin_set_password")
            .user(user)
            .sessions_ended(change.sessions_ended)
            .info();
        Ok(Some(change))
    }

    /// Ends every session of the account with address `email` (its access
    /// and refresh tokens are refused at once; outstanding reset links die
    /// too, as with a logout everywhere). `None` when no account has this
    /// address; a malformed address is [`crate::Error::Validation`].
    pub async fn admin_revoke_sessions(&self, email: &str) -> Result<Option<AccountChange>> {
        let email = Email::parse(email).map_err(|e| e.within(&["email"]))?;
        let Some(user) = self.account(&email).await? else {
            return Ok(None);
        };
        let change = self.end_every_session(user, None).await?;
        Audit::new("admin_revoke_sessions")
            .user(user)
            .sessions_ended(change.sessions_ended)
            .info();
        Ok(Some(change))
    }

    /// The id of the account with this address, if any.
    async fn account(&self, email: &Email) -> Result<Option<UserId>> {
        let credentials = self.inner.store.find_credentials(email).await?;
        Ok(credentials.map(|c| c.user.id))
    }

    /// Starts a new credential generation for `user` (with `new_hash` as
    /// the password hash, when given), which ends every session and kills
    /// every reset token, in one transaction.
    async fn end_every_session(
        &self,
        user: UserId,
        new_hash: Option<&str>,
    ) -> Result<AccountChange> {
        let sessions_ended = self
            .inner
            .store
            .end_sessions(user, None, new_hash, now())
            .await?;
        Ok(AccountChange {
            user,
            sessions_ended,
        })
    }
}
