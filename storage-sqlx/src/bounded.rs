//! [`BoundedStore`]: a deadline on every storage call, and a share of the
//! pool for the one call whose cost the caller chooses.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agora_core::domain::{
    Comment, CommentId, Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, ProfileChange,
    RefreshClaim, RefreshTokenRecord, Session, TagCount, User, UserCredentials, UserId, Username,
};
use agora_core::mail::MailKind;
use agora_core::storage::{
    AccountToken, AccountTokenStore, CommentStore, FollowStore, PoolStatus, PostStore,
    SessionStore, StorageError, StorageResult, Store, TokenIssue, UserStore, VoteStore,
};
use agora_core::throttle::Limit;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::PoolConfig;
use crate::pool::Abandons;

/// Wraps a store so that no caller and no fault can hold the database:
///
/// - Every call ends within [`PoolConfig::call_deadline`] (waiting for a
///   connection, then running). A call with no answer by then, say because
///   the database host went silent, is abandoned with
///   [`StorageError::Unavailable`] (a 503). On a database server its
///   connection, given back mid-query, fails the pool's release check and
///   is closed rather than reused; a SQLite connection is ready again once
///   its statement ends (see the pool options).
/// - Calls whose cost the caller chooses run on at most half of the pool's
///   connections at once (at least one); one waits for its turn at most the
///   acquire timeout, then gets a 503. These are post searches, feeds (a
///   merge of every followed user's posts), deep listings of posts or
///   comments (skipping more than [`LIGHT_SKIP_MAX`] rows) and the tag
///   counts (an aggregate over every tagged post). Logins, writes, health
///   checks, look-ups and first pages of posts (also by tag, author or
///   voter: each walks an index newest first and stops after the page)
///   always find a connection.
///
/// [`crate::connect`] returns its stores wrapped in this.
#[derive(Debug)]
pub struct BoundedStore<S> {
    inner: S,
    deadline: Duration,
    turn_wait: Duration,
    listings: Semaphore,
    /// Calls running or waiting for a connection, for [`Store::pool_status`].
    in_flight: AtomicUsize,
    /// Where abandoned calls are noted, for the pool's check of connections
    /// given back (a database server's: see `pool::ReleaseCheck`).
    abandons: Option<Arc<Abandons>>,
}

/// The deepest `skip` of a listing that needs no turn (without a search or feed):
/// such a page walks at most this many index entries more than it returns.
pub const LIGHT_SKIP_MAX: u64 = 1_000;

/// Why a bounded call gave up.
#[derive(Debug, thiserror::Error)]
enum Overload {
    #[error("no answer from the database within {0:?}: call abandoned")]
    Deadline(Duration),
    #[error(
        "searches, feeds and deep listings are using their share of the pool: none finished within {0:?}"
    )]
    ListingsBusy(Duration),
}

impl<S> BoundedStore<S> {
    /// Bounds `inner` with the timeouts and pool size of `pool`.
    pub fn new(inner: S, pool: &PoolConfig) -> Self {
        BoundedStore {
            inner,
            deadline: pool.call_deadline(),
            turn_wait: pool.acquire_timeout,
            listings: Semaphore::new(Self::listing_share(pool.max_connections)),
            in_flight: AtomicUsize::new(0),
            abandons: None,
        }
    }

    /// [`BoundedStore::new`], noting its abandoned calls in `abandons`.
    pub(crate) fn watching(inner: S, pool: &PoolConfig, abandons: Arc<Abandons>) -> Self {
        BoundedStore {
            abandons: Some(abandons),
            ..Self::new(inner, pool)
        }
    }

    /// How many searches and deep listings may run at once with
    /// `max_connections`: half, at least one.
    pub fn listing_share(max_connections: u32) -> usize {
        usize::try_from(max_connections / 2).unwrap_or(1).max(1)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Runs `call` in its turn among the calls whose cost the caller chooses.
    async fn in_turn<T>(&self, call: impl Future<Output = StorageResult<T>>) -> StorageResult<T> {
        let _turn = match tokio::time::timeout(self.turn_wait, self.listings.acquire()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; treat it like a full one.
            Ok(Err(_)) | Err(_) => {
                return Err(StorageError::Unavailable(Box::new(Overload::ListingsBusy(
                    self.turn_wait,
                ))));
            }
        };
        self.bounded(call).await
    }

    async fn bounded<T>(&self, call: impl Future<Output = StorageResult<T>>) -> StorageResult<T> {
        let _in_flight = InFlight::enter(&self.in_flight);
        let call = Abandons::watch(self.abandons.as_deref(), call);
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(deadline = ?self.deadline, "database call abandoned at its deadline");
                Err(StorageError::Unavailable(Box::new(Overload::Deadline(
                    self.deadline,
                ))))
            }
        }
    }
}

/// One call counted in [`BoundedStore`]'s calls in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<S: Store> UserStore for BoundedStore<S> {
    async fn create_user(
        &self,
        email: &Email,
        username: Option<&Username>,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        self.bounded(
            self.inner
                .create_user(email, username, password_hash, created_at),
        )
        .await
    }

    async fn get_user(&self, id: UserId) -> StorageResult<Option<User>> {
        self.bounded(self.inner.get_user(id)).await
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
    ) -> StorageResult<Option<User>> {
        self.bounded(self.inner.update_profile(id, change)).await
    }

    async fn find_by_username(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<(User, bool)>> {
        self.bounded(self.inner.find_by_username(username, viewer))
            .await
    }

    async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        self.bounded(self.inner.delete_user(id)).await
    }
}

#[async_trait]
impl<S: Store> PostStore for BoundedStore<S> {
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post> {
        self.bounded(self.inner.create_post(owner, draft, created_at))
            .await
    }

    async fn get_post(
        &self,
        id: PostId,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<PostWithVotes>> {
        self.bounded(self.inner.get_post(id, viewer)).await
    }

    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>> {
        if filter.search.is_none() && !filter.feed && filter.skip <= LIGHT_SKIP_MAX {
            return self.bounded(self.inner.list_posts(filter)).await;
        }
        self.in_turn(self.inner.list_posts(filter)).await
    }

    async fn update_post(
        &self,
        id: PostId,
        draft: &PostDraft,
        updated_at: DateTime<Utc>,
    ) -> StorageResult<Option<Post>> {
        self.bounded(self.inner.update_post(id, draft, updated_at))
            .await
    }

    async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
        self.bounded(self.inner.delete_post(id)).await
    }

    /// An index read of `tag_counts`; a deep page takes a listing turn.
    async fn tags(&self, limit: u32, skip: u64) -> StorageResult<Vec<TagCount>> {
        if skip <= LIGHT_SKIP_MAX {
            self.bounded(self.inner.tags(limit, skip)).await
        } else {
            self.in_turn(self.inner.tags(limit, skip)).await
        }
    }
}

#[async_trait]
impl<S: Store> FollowStore for BoundedStore<S> {
    async fn follow(&self, follower: UserId, followee: UserId) -> StorageResult<()> {
        self.bounded(self.inner.follow(follower, followee)).await
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> StorageResult<bool> {
        self.bounded(self.inner.unfollow(follower, followee)).await
    }
}

#[async_trait]
impl<S: Store> CommentStore for BoundedStore<S> {
    async fn add_comment(
        &self,
        post: PostId,
        author: &User,
        body: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Comment> {
        self.bounded(self.inner.add_comment(post, author, body, created_at))
            .await
    }

    async fn get_comment(&self, id: CommentId) -> StorageResult<Option<Comment>> {
        self.bounded(self.inner.get_comment(id)).await
    }

    async fn list_comments(
        &self,
        post: PostId,
        after: i64,
        limit: u32,
        skip: u64,
    ) -> StorageResult<Vec<Comment>> {
        let listing = self.inner.list_comments(post, after, limit, skip);
        if skip <= LIGHT_SKIP_MAX {
            return self.bounded(listing).await;
        }
        self.in_turn(listing).await
    }

    async fn delete_comment(&self, id: CommentId) -> StorageResult<bool> {
        self.bounded(self.inner.delete_comment(id)).await
    }
}

#[async_trait]
impl<S: Store> VoteStore for BoundedStore<S> {
    async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()> {
        self.bounded(self.inner.add_vote(user, post)).await
    }

    async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool> {
        self.bounded(self.inner.remove_vote(user, post)).await
    }
}

#[async_trait]
impl<S: Store> SessionStore for BoundedStore<S> {
    async fn find_credentials(&self, email: &Email) -> StorageResult<Option<UserCredentials>> {
        self.bounded(self.inner.find_credentials(email)).await
    }

    async fn upgrade_password_hash(
        &self,
        user: UserId,
        verified_hash: &str,
        new_hash: &str,
    ) -> StorageResult<bool> {
        self.bounded(
            self.inner
                .upgrade_password_hash(user, verified_hash, new_hash),
        )
        .await
    }

    async fn create_session(
        &self,
        session: &Session,
        refresh_key: &str,
        credential_generation: i64,
        refresh: &RefreshTokenRecord,
    ) -> StorageResult<bool> {
        self.bounded(self.inner.create_session(
            session,
            refresh_key,
            credential_generation,
            refresh,
        ))
        .await
    }

    async fn session_user(
        &self,
        user: UserId,
        session_id: &str,
    ) -> StorageResult<Option<(User, Session)>> {
        self.bounded(self.inner.session_user(user, session_id))
            .await
    }

    async fn claim_refresh_token(&self, token_hash: &str) -> StorageResult<Option<RefreshClaim>> {
        self.bounded(self.inner.claim_refresh_token(token_hash))
            .await
    }

    async fn add_refresh_token(&self, refresh: &RefreshTokenRecord) -> StorageResult<()> {
        self.bounded(self.inner.add_refresh_token(refresh)).await
    }

    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StorageResult<Vec<Session>> {
        self.bounded(self.inner.list_sessions(user, now)).await
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<bool> {
        self.bounded(self.inner.revoke_session(user, session_id, now))
            .await
    }

    async fn end_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        new_password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StorageResult<u64> {
        self.bounded(self.inner.end_sessions(user, keep, new_password_hash, now))
            .await
    }
}

#[async_trait]
impl<S: Store> AccountTokenStore for BoundedStore<S> {
    async fn issue_token(
        &self,
        email: &Email,
        token: &AccountToken,
        cap: Limit,
    ) -> StorageResult<TokenIssue> {
        self.bounded(self.inner.issue_token(email, token, cap))
            .await
    }

    async fn live_token(
        &self,
        token_hash: &str,
        purpose: MailKind,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<UserId>> {
        self.bounded(self.inner.live_token(token_hash, purpose, now))
            .await
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        new_password_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<(UserId, u64)>> {
        self.bounded(
            self.inner
                .reset_password(token_hash, new_password_hash, now),
        )
        .await
    }

    async fn verify_email(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<User>> {
        self.bounded(self.inner.verify_email(token_hash, now)).await
    }
}

#[async_trait]
impl<S: Store> Store for BoundedStore<S> {
    async fn ping(&self) -> StorageResult<()> {
        self.bounded(self.inner.ping()).await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn active_session_post(
        &self,
        user: UserId,
        session_id: &str,
        post: PostId,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Option<PostWithVotes>>> {
        self.bounded(self.inner.active_session_post(user, session_id, post, now))
            .await
    }

    /// The wrapped store's pool, with its waiting calls estimated: the
    /// calls in flight beyond the connections in use.
    fn pool_status(&self) -> Option<PoolStatus> {
        let mut status = self.inner.pool_status()?;
        let in_use = status.size.saturating_sub(status.idle);
        let in_flight = u32::try_from(self.in_flight.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        status.waiting = in_flight.saturating_sub(in_use);
        Some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedStore;

    #[test]
    fn listings_get_half_the_pool_and_at_least_one_connection() {
        let share = BoundedStore::<()>::listing_share;
        assert_eq!((share(1), share(2), share(3), share(10)), (1, 1, 1, 5));
    }
}
