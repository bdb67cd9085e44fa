//! Storage traits. Backends (`agora-sqlx`) implement them; services hold an
//! `Arc<dyn Store>`.
//!
//! Contract for every backend: uniqueness (one account per email, one vote
//! per user and post) is decided by database constraints, never by a
//! check-then-insert, so concurrent callers get exactly one success and
//! [`StorageError::Conflict`] for the rest. Deleting a user deletes their
//! posts, votes and sessions; deleting a post deletes its votes; deleting a
//! session deletes its refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, RefreshClaim, RefreshTokenRecord,
    Session, User, UserCredentials, UserId,
};
use crate::error::{Cause, Error};

/// A storage failure, typed so services can turn it into the right answer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A uniqueness constraint rejected the write; carries the constraint's name.
    #[error("unique constraint {constraint} violated")]
    Conflict {
        /// The named constraint, e.g. `users_email_key`.
        constraint: String,
    },
    /// A foreign key rejected the write: the referenced row does not exist.
    #[error("foreign key constraint {constraint} violated")]
    MissingReference {
        /// The named constraint, or the backend's description when unnamed.
        constraint: String,
    },
    /// The database cannot be reached (down, pool exhausted, timed out).
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// Anything else.
    #[error("storage failure")]
    Other(#[source] Cause),
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(cause) => Error::Unavailable(cause),
            other => Error::Internal(Box::new(other)),
        }
    }
}

/// Result of a storage call.
pub type StorageResult<T> = Result<T, StorageError>;

/// Users and their password hashes.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user. A duplicate email (case-insensitively: emails arrive
    /// lower-cased) is [`StorageError::Conflict`], decided by a unique constraint.
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User>;
    /// The user with this id, if any.
    async fn get_user(&self, id: UserId) -> StorageResult<Option<User>>;
    /// The user with this email, with their password hash, if any.
    async fn find_credentials(&self, email: &Email) -> StorageResult<Option<UserCredentials>>;
    /// Replaces a user's password hash (rehash on login). A missing user is a no-op.
    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StorageResult<()>;
    /// Deletes a user with their posts and votes (by `ON DELETE CASCADE`);
    /// `false` when there was no such user.
    async fn delete_user(&self, id: UserId) -> StorageResult<bool>;
}

/// Posts, returned with their owner and vote count.
#[async_trait]
pub trait PostStore: Send + Sync {
    /// Inserts a post owned by `owner` (who must still exist: else
    /// [`StorageError::MissingReference`]).
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post>;
    /// The post with this id and its vote count, whatever its visibility
    /// (services apply the visibility rule).
    async fn get_post(&self, id: PostId) -> StorageResult<Option<PostWithVotes>>;
    /// A page of posts visible to `filter.viewer` (published, or owned by the
    /// viewer), with an id below `filter.before`, newest first (descending
    /// id), whose title contains `filter.search` case-insensitively, skipping
    /// `filter.skip` and returning at most `filter.limit`.
    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>>;
    /// Replaces title, content and published; `None` when the post is gone.
    async fn update_post(&self, id: PostId, draft: &PostDraft) -> StorageResult<Option<Post>>;
    /// Deletes the post and its votes; `false` when it did not exist.
    async fn delete_post(&self, id: PostId) -> StorageResult<bool>;
}

/// Votes: at most one per user and post.
#[async_trait]
pub trait VoteStore: Send + Sync {
    /// Records `user`'s vote on `post`. An existing vote is
    /// [`StorageError::Conflict`] (primary key); a missing post or user is
    /// [`StorageError::MissingReference`] (foreign key).
    async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()>;
    /// Removes `user`'s vote on `post`; `false` when there was none.
    async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool>;
}

/// Login sessions and their refresh tokens (stored as hashes only).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session and its first refresh token, atomically.
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshTokenRecord,
    ) -> StorageResult<()>;
    /// The user and the session named by an access token's `sub` and `sid`,
    /// if both exist and belong together (one query: this runs on every
    /// authenticated request).
    async fn session_user(
        &self,
        user: UserId,
        session_id: &str,
    ) -> StorageResult<Option<(User, Session)>>;
    /// Finds the refresh token with this hash and its session, and marks the
    /// token as exchanged at `now` unless it already was. Atomic: of several
    /// concurrent claims of one token, exactly one sees
    /// `previously_rotated_at == None`.
    async fn claim_refresh_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<RefreshClaim>>;
    /// Adds a refresh token to a session and records the session as used at
    /// `refresh.created_at`.
    async fn add_refresh_token(&self, refresh: &RefreshTokenRecord) -> StorageResult<()>;
    /// The user's sessions that are neither revoked nor expired at `now`,
    /// newest first.
    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StorageResult<Vec<Session>>;
    /// Ends one of the user's sessions; `false` when it does not exist, is
    /// someone else's, or had already ended.
    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<bool>;
    /// Ends every active session of the user except `keep`; returns how many.
    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        now: DateTime<Utc>,
    ) -> StorageResult<u64>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store: UserStore + PostStore + VoteStore + SessionStore {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StorageResult<()>;
    /// The backend's name, for logs (`sqlite`, `postgres`, `mysql`).
    fn backend(&self) -> &'static str;
}
