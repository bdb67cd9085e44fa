//! Registration, look-up, password change and account deletion.

use super::Agora;
use super::audit::Audit;
use super::auth::session_of;
use crate::domain::{Caller, ClientInfo, Email, Password, User, UserId, Username, now};
use crate::error::{Error, Result};
use crate::schema::{AccountDeletion, PasswordChange, UserCreate};
use crate::storage::{StorageError, USERNAME_KEY};

/// A registration that passed the rules, ready to be hashed and stored.
pub(super) struct Registration {
    email: Email,
    password: Password,
    username: Option<Username>,
}

impl Agora {
    /// Registers a user: validates the email (lower-cased) and the password,
    /// hashes the password, and inserts. A taken email is [`Error::EmailTaken`],
    /// decided by the database's unique constraint. Registrations are
    /// throttled per client IP.
    pub async fn register(&self, request: UserCreate, client: &ClientInfo) -> Result<User> {
        let registration = self.registration(request)?;
        self.inner.throttle.check_registration(client.ip).await?;
        let user = self.insert_user(registration).await?;
        Audit::new("register").user(user.id).client(client).info();
        Ok(user)
    }

    /// The registration rules: a valid email, a password that passes the
    /// password rules and a valid username, if any; every field's errors at
    /// once ([`Error::Validation`], pointing at the body's fields).
    pub(super) fn registration(&self, request: UserCreate) -> Result<Registration> {
        let email = Email::parse(&request.email).map_err(|e| e.within(&["body", "email"]));
        let password = self.new_password(request.password, "password");
        let username = request
            .username
            .as_deref()
            .map(|name| Username::parse(name).map_err(|e| e.within(&["body", "username"])))
            .transpose();
        match (email, password, username) {
            (Ok(email), Ok(password), Ok(username)) => Ok(Registration {
                email,
                password,
                username,
            }),
            (e, p, u) => Err(Error::Validation(
                [e.err(), p.err(), u.err()]
                    .into_iter()
                    .flatten()
                    .flat_map(|err| err.field_errors().to_vec())
                    .collect(),
            )),
        }
    }

    /// Hashes the password and inserts the user; a taken email or username
    /// is [`Error::EmailTaken`] or [`Error::UsernameTaken`].
    pub(super) async fn insert_user(&self, registration: Registration) -> Result<User> {
        let Registration {
            email,
            password,
            username,
        } = registration;
        let hash = self.inner.hasher.hash(&password).await?;
        let created = self
            .inner
            .store
            .create_user(&email, username.as_ref(), &hash, now())
            .await;
        match created {
            Ok(user) => Ok(user),
            Err(StorageError::Conflict { constraint }) if constraint == USERNAME_KEY => Err(
                Error::UsernameTaken(username.map(|u| u.to_string()).unwrap_or_default()),
            ),
            Err(StorageError::Conflict { .. }) => Err(Error::EmailTaken(email.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// A password chosen by the user, checked against the password rules;
    /// errors point at the body's `field`.
    pub(super) fn new_password(&self, raw: String, field: &str) -> Result<Password> {
        self.inner
            .password_policy
            .check(raw)
            .map_err(|e| e.within(&["body", field]))
    }

    /// A user by id, or [`Error::UserNotFound`]; with the privacy switch on
    /// (`Config::hide_emails`), without the email address.
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        let user = self
            .inner
            .store
            .get_user(id)
            .await?
            .ok_or(Error::UserNotFound(id))?;
        Ok(self.shown_to(user, None))
    }

    /// Checks that `password` is the user's current one; a wrong password is
    /// [`Error::InvalidCredentials`] (403).
    async fn confirm_password(&self, user: &User, password: &str) -> Result<()> {
        // An authenticated user is read with their address; never hidden here.
        let email = user
            .email
            .as_ref()
            .ok_or_else(|| Error::internal("user read without email"))?;
        // Guesses through a stolen access token count against the account's
        // login limit: it is the same secret (`Policy::Login` when refused).
        let attempt = self
            .inner
            .throttle
            .begin_login(email.as_str(), None)
            .await?;
        let credentials = self.inner.store.find_credentials(email).await?;
        let verification = self
            .inner
            .hasher
            .verify(
                &Password::new(password),
                credentials.as_ref().map(|c| c.password_hash.as_str()),
            )
            .await?;
        if verification.valid {
            attempt.succeeded().await
        } else {
            Err(Error::InvalidCredentials)
        }
    }

    /// Changes the caller's password, after checking the current one
    /// ([`Error::InvalidCredentials`] when wrong; wrong ones count against
    /// the account's login limit, [`Error::RateLimited`]). Every other
    /// session of the user ends; the caller's goes on.
    pub async fn change_password(&self, caller: &Caller, request: PasswordChange) -> Result<()> {
        let (user, session) = (caller.user(), session_of(caller)?);
        let new_password = self.new_password(request.new_password, "new_password")?;
        if let Err(e) = self.confirm_password(user, &request.current_password).await {
            Audit::new("password_change")
                .outcome("wrong_password")
                .user(user.id)
                .session(&session.id)
                .info();
            return Err(e);
        }
        let hash = self.inner.hasher.hash(&new_password).await?;
        let ended = self
            .inner
            .store
            .end_sessions(user.id, Some(&session.id), Some(&hash), now())
            .await?;
        Audit::new("password_change")
            .outcome("success")
            .user(user.id)
            .session(&session.id)
            .sessions_ended(ended)
            .info();
        Ok(())
    }

    /// Deletes the caller's account after checking their password (throttled
    /// like [`Agora::change_password`]), with their posts, votes and
    /// sessions: every token of the user is refused afterwards.
    pub async fn delete_account(&self, caller: &Caller, request: AccountDeletion) -> Result<()> {
        let (user, session) = (caller.user(), session_of(caller)?);
        if let Err(e) = self.confirm_password(user, &request.password).await {
            Audit::new("account_deletion")
                .outcome("wrong_password")
                .user(user.id)
                .session(&session.id)
                .info();
            return Err(e);
        }
        self.inner.store.delete_user(user.id).await?;
        Audit::new("account_deletion")
            .outcome("success")
            .user(user.id)
            .session(&session.id)
            .info();
        Ok(())
    }
}
