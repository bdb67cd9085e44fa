//! Registration and user look-up.

use super::Agora;
use crate::domain::{Email, Password, User, UserId, now};
use crate::error::{Error, Result};
use crate::schema::UserCreate;
use crate::storage::StorageError;

impl Agora {
    /// Registers a user: validates the email (lower-cased) and the password
    /// length, hashes the password, and inserts. A taken email is
    /// [`Error::Conflict`], decided by the database's unique constraint.
    pub async fn register(&self, request: UserCreate) -> Result<User> {
        let email = Email::parse(&request.email);
        let password = Password::new_checked(
            request.password,
            self.inner.password_min_chars,
            self.inner.password_max_chars,
        );
        let (email, password) = match (email, password) {
            (Ok(e), Ok(p)) => (e, p),
            (e, p) => {
                let errors = [e.err(), p.err()]
                    .into_iter()
                    .flatten()
                    .flat_map(|err| err.field_errors().to_vec())
                    .collect();
                return Err(Error::Validation(errors));
            }
        };
        let hash = self.inner.hasher.hash(&password).await?;
        match self.inner.store.create_user(&email, &hash, now()).await {
            Ok(user) => {
                tracing::info!(user_id = user.id.0, "user registered");
                Ok(user)
            }
            Err(StorageError::Conflict { .. }) => Err(Error::Conflict(format!(
                "User with email: {email} already exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A user by id, or [`Error::NotFound`].
    pub async fn get_user(&self, id: i64) -> Result<User> {
        self.inner
            .store
            .get_user(UserId(id))
            .await?
            .ok_or_else(|| Error::NotFound(format!("User with id: {id} does not exist")))
    }
}
