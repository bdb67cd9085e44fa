//! Storage traits. Backends (`agora-sqlx`) implement them; services hold an
//! `Arc<dyn Store>`.
//!
//! Contract for every backend: uniqueness (one account per email and per
//! username, one vote per user and post, one follow per pair) is decided by
//! database constraints, never by a check-then-insert, so concurrent callers
//! get exactly one success and [`StorageError::Conflict`] for the rest (a
//! follow is idempotent instead). Deleting a user deletes their posts,
//! votes, follows, comments and sessions; deleting a post deletes its votes,
//! tags and comments; deleting a session deletes its refresh tokens.
//! Deleting a user deletes their account tokens too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Comment, CommentId, Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, ProfileChange,
    RefreshClaim, RefreshTokenRecord, Session, TagCount, User, UserCredentials, UserId, Username,
};
use crate::error::Error;
use crate::mail::MailKind;
use crate::throttle::Limit;

/// The cause a [`StorageError`] carries (the driver's error).
pub type StorageCause = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    Unavailable(#[source] StorageCause),
    /// Anything else (the message carries the database's own, with its error code).
    #[error("storage failure: {0}")]
    Other(#[source] StorageCause),
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(cause) => Error::Unavailable(cause.into()),
            other => Error::internal(other),
        }
    }
}

/// The name of the unique constraint on users' emails.
pub const EMAIL_KEY: &str = "users_email_key";
/// The name of the unique constraint on users' usernames.
pub const USERNAME_KEY: &str = "users_username_key";

/// Result of a storage call.
pub type StorageResult<T> = Result<T, StorageError>;

/// Users and their password hashes.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user. A duplicate email (case-insensitively: emails arrive
    /// lower-cased) or username (case-insensitively) is
    /// [`StorageError::Conflict`] naming [`EMAIL_KEY`] or [`USERNAME_KEY`],
    /// decided by unique constraints.
    async fn create_user(
        &self,
        email: &Email,
        username: Option<&Username>,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User>;
    /// The user with this id, if any.
    async fn get_user(&self, id: UserId) -> StorageResult<Option<User>>;
    /// Applies `change` to the user's profile fields in one statement (a
    /// field left `None` keeps its value, whatever else writes meanwhile)
    /// and returns the user as stored; `None` when there is no such user.
    /// A username taken by another user (case-insensitively) is
    /// [`StorageError::Conflict`] naming [`USERNAME_KEY`].
    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
    ) -> StorageResult<Option<User>>;
    /// The user with this username (case-insensitively), and whether
    /// `viewer` follows them.
    async fn find_by_username(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<(User, bool)>>;
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
    /// The post with this id, its vote count and whether `viewer` voted
    /// for it, whatever its visibility (services apply the visibility rule).
    async fn get_post(
        &self,
        id: PostId,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<PostWithVotes>>;
    /// A page of posts visible to `filter.viewer` (published, or owned by the
    /// viewer), with an id below `filter.before`, newest first (descending
    /// id), matching every filter given (title contains `filter.search`
    /// case-insensitively, `tag`, `author`, `voted_by`, and with `feed`
    /// only published posts of users the viewer follows), skipping
    /// `filter.skip` and returning at most `filter.limit`. Every filter is
    /// served by an index.
    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>>;
    /// Replaces title, content and published, and description and tags
    /// where the draft has them, and sets `updated_at`, atomically; `None`
    /// when the post is gone. The answer's `voted` is `false`.
    async fn update_post(
        &self,
        id: PostId,
        draft: &PostDraft,
        updated_at: DateTime<Utc>,
    ) -> StorageResult<Option<Post>>;
    /// Deletes the post with its votes, tags and comments; `false` when it
    /// did not exist.
    async fn delete_post(&self, id: PostId) -> StorageResult<bool>;
    /// The tags of published posts, most used first (ties alphabetically),
    /// skipping `skip` and returning at most `limit`.
    async fn tags(&self, limit: u32, skip: u64) -> StorageResult<Vec<TagCount>>;
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

/// Who follows whom: at most one edge per pair.
#[async_trait]
pub trait FollowStore: Send + Sync {
    /// Makes `follower` follow `followee`; an existing edge is kept as it
    /// is (idempotent: concurrent calls leave one edge, and none fails). A
    /// missing user is [`StorageError::MissingReference`].
    async fn follow(&self, follower: UserId, followee: UserId) -> StorageResult<()>;
    /// Removes the edge; `false` when there was none.
    async fn unfollow(&self, follower: UserId, followee: UserId) -> StorageResult<bool>;
}

/// Comments on posts.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Inserts `author`'s comment on `post`; a missing post or author is
    /// [`StorageError::MissingReference`].
    async fn add_comment(
        &self,
        post: PostId,
        author: &User,
        body: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Comment>;
    /// The comment with this id, with its author.
    async fn get_comment(&self, id: CommentId) -> StorageResult<Option<Comment>>;
    /// The post's comments with an id above `after`, oldest first,
    /// skipping `skip` and returning at most `limit`.
    async fn list_comments(
        &self,
        post: PostId,
        after: i64,
        limit: u32,
        skip: u64,
    ) -> StorageResult<Vec<Comment>>;
    /// Deletes the comment; `false` when it did not exist.
    async fn delete_comment(&self, id: CommentId) -> StorageResult<bool>;
}

/// Credentials, login sessions and their refresh tokens (stored as hashes
/// only).
///
/// Each user has a credential generation that goes up when their password
/// changes or all their sessions end; each session records the generation it
/// was started under and works only while that is still the user's. A login
/// that read the credentials before such a change therefore cannot leave a
/// working session behind, whatever the interleaving.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The user with this email, with their password hash and credential
    /// generation, if any.
    async fn find_credentials(&self, email: &Email) -> StorageResult<Option<UserCredentials>>;
    /// Replaces the password hash `verified_hash` with `new_hash` (a rehash
    /// after login) only if it is still the stored one; `false` when the
    /// password changed meanwhile (or the user is gone), so an upgrade can
    /// never bring an old password back.
    async fn upgrade_password_hash(
        &self,
        user: UserId,
        verified_hash: &str,
        new_hash: &str,
    ) -> StorageResult<bool>;
    /// Inserts a session and its first refresh token, atomically, if the
    /// user still exists at `credential_generation`; `false` otherwise (the
    /// credentials changed, every session was ended, or the account was
    /// deleted since they were read). `refresh_key` is the session's secret
    /// for deriving refresh tokens.
    async fn create_session(
        &self,
        session: &Session,
        refresh_key: &str,
        credential_generation: i64,
        refresh: &RefreshTokenRecord,
    ) -> StorageResult<bool>;
    /// The user and the session named by an access token's `sub` and `sid`,
    /// if both exist, belong together and the session is of the user's
    /// current credential generation (one query: this runs on every
    /// authenticated request).
    async fn session_user(
        &self,
        user: UserId,
        session_id: &str,
    ) -> StorageResult<Option<(User, Session)>>;
    /// Finds the refresh token with this hash and its session (of the user's
    /// current credential generation), and marks the token as exchanged
    /// unless it already was, by the database's clock. Atomic: of several
    /// concurrent claims of one token, exactly one sees
    /// `previously_rotated_at == None`.
    async fn claim_refresh_token(&self, token_hash: &str) -> StorageResult<Option<RefreshClaim>>;
    /// Adds a refresh token to a session, unless a token with its hash is
    /// already there (concurrent retries add the same one), and records the
    /// session as used at `refresh.created_at`.
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
    /// In one transaction: sets the password hash to `new_password_hash`
    /// when given, starts a new credential generation (so no session started
    /// from the old one, even concurrently, keeps working), carries the
    /// session `keep` over to it, and ends every other session. Returns how
    /// many active sessions were ended.
    async fn end_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        new_password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StorageResult<u64>;
}

/// A single-use account token as stored: only its SHA-256 hash, never the
/// token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// What it is for: a token of one purpose never serves the other.
    pub purpose: MailKind,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What [`AccountTokenStore::issue_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenIssue {
    /// The token was stored for this user: mail it.
    Issued(User),
    /// No account has the address.
    NoAccount,
    /// A verification was asked for an address verified already.
    AlreadyVerified,
    /// The address had its share of mails within the window.
    Capped,
}

/// Single-use tokens of password resets and address verifications.
///
/// A token is live while unused and unexpired, while its user's address is
/// the one it was issued to, and: a reset token while the user's credential
/// generation is the one it was issued under (a password change by any
/// route, or the end of every session, kills it, so of two outstanding
/// tokens the second dies when the first is used); a verification token
/// while the address is unverified. Every operation takes the user's row
/// first (the store's lock order), so each is atomic however many run at
/// once, on however many servers.
#[async_trait]
pub trait AccountTokenStore: Send + Sync {
    /// Stores `token` for the account with `email` (case-insensitively),
    /// bound to its address and credential generation, unless it has no
    /// account, a verification is asked for a verified address, or the
    /// account had `cap.max` tokens (of any purpose) issued within
    /// `cap.window` before `token.created_at`. Tokens expired and out of
    /// that window are pruned on the way.
    async fn issue_token(
        &self,
        email: &Email,
        token: &AccountToken,
        cap: Limit,
    ) -> StorageResult<TokenIssue>;
    /// The user of the live token with this hash and purpose at `now`.
    async fn live_token(
        &self,
        token_hash: &str,
        purpose: MailKind,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<UserId>>;
    /// In one transaction: uses the live password reset token with this
    /// hash, sets the password hash, starts a new credential generation and
    /// ends every session of the user. Returns the user and how many active
    /// sessions ended; `None` (nothing changed) when the token is not live.
    async fn reset_password(
        &self,
        token_hash: &str,
        new_password_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<(UserId, u64)>>;
    /// In one transaction: uses the live verification token with this hash
    /// and marks the user's address verified; returns the user, `None`
    /// (nothing changed) when the token is not live.
    async fn verify_email(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<User>>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store:
    UserStore + PostStore + VoteStore + FollowStore + CommentStore + SessionStore + AccountTokenStore
{
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StorageResult<()>;
    /// The backend's name, for logs (`sqlite`, `postgres`, `mysql`).
    fn backend(&self) -> &'static str;
    /// Its connection pool's state now (for `agora_core::metrics`); `None`
    /// (the default) for a store without a pool.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }
    /// [`SessionStore::session_user`], kept only if the session is active
    /// at `now` ([`Session::is_active`]), and [`PostStore::get_post`] (with
    /// `user` as the viewer) at once: `None` when the session does not check
    /// out, else the post, if there is one. The authenticated read of a
    /// post costs this one call; SQL backends answer it in one statement
    /// whose row is the post's alone, so one database round trip. The
    /// default makes the two calls.
    async fn active_session_post(
        &self,
        user: UserId,
        session_id: &str,
        post: PostId,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Option<PostWithVotes>>> {
        match self.session_user(user, session_id).await? {
            Some((_, session)) if session.is_active(now) => {
                Ok(Some(self.get_post(post, Some(user)).await?))
            }
            _ => Ok(None),
        }
    }
}

/// A connection pool's state ([`Store::pool_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open, idle or in use.
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
    /// Calls waiting for a connection.
    pub waiting: u32,
}

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod memory;
