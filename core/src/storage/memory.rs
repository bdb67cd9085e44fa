//! An in-memory [`Store`] (feature `testing`): plain collections behind one
//! mutex, so every call is atomic and the contract documented on the storage
//! traits holds under any concurrency, with no database. Ids are never
//! reused; the clock of refresh claims is this process's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AccountToken, AccountTokenStore, CommentStore, EMAIL_KEY, FollowStore, PostStore, SessionStore,
    StorageError, StorageResult, Store, TokenIssue, USERNAME_KEY, UserStore, VoteStore,
};
use crate::domain::{
    Comment, CommentId, Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, ProfileChange,
    RefreshClaim, RefreshTokenRecord, Session, Tag, TagCount, User, UserCredentials, UserId,
    Username, now,
};
use crate::mail::MailKind;
use crate::throttle::Limit;

/// Agora's storage in this process's memory, for tests: nothing survives
/// the value.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    last_user_id: i64,
    last_post_id: i64,
    last_comment_id: i64,
    users: BTreeMap<UserId, UserRow>,
    posts: BTreeMap<PostId, PostRow>,
    /// `(post, user)`, as the database's primary key.
    votes: BTreeSet<(PostId, UserId)>,
    /// `(follower, followee)`, as the database's primary key.
    follows: BTreeSet<(UserId, UserId)>,
    comments: BTreeMap<CommentId, CommentRow>,
    sessions: HashMap<String, SessionRow>,
    refresh_tokens: HashMap<String, RefreshRow>,
    /// By token hash.
    account_tokens: HashMap<String, AccountTokenRow>,
}

#[derive(Debug)]
struct UserRow {
    user: User,
    password_hash: String,
    credential_generation: i64,
}

#[derive(Debug)]
struct PostRow {
    /// Its tags are always `Some`.
    draft: PostDraft,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    owner: UserId,
}

#[derive(Debug)]
struct CommentRow {
    post: PostId,
    author: UserId,
    body: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug)]
struct SessionRow {
    session: Session,
    refresh_key: String,
    credential_generation: i64,
}

#[derive(Debug)]
struct AccountTokenRow {
    record: AccountToken,
    user: UserId,
    email: Email,
    credential_generation: i64,
    used_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct RefreshRow {
    record: RefreshTokenRecord,
    rotated_at: Option<DateTime<Utc>>,
}

/// A post's tags as a database keeps them: a set, read back in order.
fn as_stored(mut tags: Vec<Tag>) -> Vec<Tag> {
    tags.sort();
    tags.dedup();
    tags
}

fn conflict(constraint: &str) -> StorageError {
    StorageError::Conflict {
        constraint: constraint.to_owned(),
    }
}

fn missing(constraint: &str) -> StorageError {
    StorageError::MissingReference {
        constraint: constraint.to_owned(),
    }
}

/// The key under which emails are unique (the databases compare them
/// case-insensitively).
fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The key under which usernames are unique (ASCII, case-insensitively).
fn username_key(username: &Username) -> String {
    username.as_str().to_ascii_lowercase()
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The tables, locked for one call. A panic while they were held cannot
    /// leave them half-written (no call panics mid-way), so a poisoned lock
    /// is simply taken over.
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Tables {
    fn user_by_email(&self, email: &Email) -> Option<&UserRow> {
        let key = email_key(email.as_str());
        self.users.values().find(|row| {
            row.user
                .email
                .as_ref()
                .is_some_and(|e| email_key(e.as_str()) == key)
        })
    }

    fn user_by_username(&self, username: &Username) -> Option<&UserRow> {
        let key = username_key(username);
        self.users
            .values()
            .find(|row| row.user.username.as_ref().map(username_key) == Some(key.clone()))
    }

    fn votes_on(&self, post: PostId) -> i64 {
        let count = self
            .votes
            .range((post, UserId(i64::MIN))..=(post, UserId(i64::MAX)))
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// A stored post with its owner and vote count, and whether `viewer` voted for it.
    fn post(&self, id: PostId, viewer: Option<UserId>) -> Option<PostWithVotes> {
        let row = self.posts.get(&id)?;
        let owner = &self.users.get(&row.owner)?.user;
        let mut post = Post::new(id, &row.draft, row.created_at, owner);
        post.updated_at = row.updated_at;
        Some(PostWithVotes {
            post,
            votes: self.votes_on(id),
            voted: viewer.is_some_and(|v| self.votes.contains(&(id, v))),
        })
    }

    /// A username filter's user: `Some(None)` without a filter, `None`
    /// when nobody has the username (nothing matches).
    fn filter_user(&self, username: Option<&Username>) -> Option<Option<UserId>> {
        match username {
            None => Some(None),
            Some(name) => self.user_by_username(name).map(|row| Some(row.user.id)),
        }
    }

    fn comment(&self, id: CommentId) -> Option<Comment> {
        let row = self.comments.get(&id)?;
        Some(Comment {
            id,
            post_id: row.post,
            body: row.body.clone(),
            created_at: row.created_at,
            author: self.users.get(&row.author)?.user.clone(),
        })
    }

    /// The user's current credential generation, if the user exists.
    fn generation(&self, user: UserId) -> Option<i64> {
        self.users.get(&user).map(|row| row.credential_generation)
    }

    /// Whether a session is of its user's current credential generation.
    fn is_current(&self, row: &SessionRow) -> bool {
        self.generation(row.session.user_id) == Some(row.credential_generation)
    }

    fn delete_post(&mut self, id: PostId) -> bool {
        self.votes.retain(|(post, _)| *post != id);
        self.comments.retain(|_, row| row.post != id);
        self.posts.remove(&id).is_some()
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        email: &Email,
        username: Option<&Username>,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        let mut tables = self.tables();
        if tables.user_by_email(email).is_some() {
            return Err(conflict(EMAIL_KEY));
        }
        if username.is_some_and(|name| tables.user_by_username(name).is_some()) {
            return Err(conflict(USERNAME_KEY));
        }
        tables.last_user_id += 1;
        let user = User::new(
            UserId(tables.last_user_id),
            email.clone(),
            username.cloned(),
            created_at,
        );
        tables.users.insert(
            user.id,
            UserRow {
                user: user.clone(),
                password_hash: password_hash.to_owned(),
                credential_generation: 0,
            },
        );
        Ok(user)
    }

    async fn get_user(&self, id: UserId) -> StorageResult<Option<User>> {
        Ok(self.tables().users.get(&id).map(|row| row.user.clone()))
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
    ) -> StorageResult<Option<User>> {
        let mut tables = self.tables();
        if let Some(Some(name)) = &change.username
            && tables
                .user_by_username(name)
                .is_some_and(|row| row.user.id != id)
        {
            return Err(conflict(USERNAME_KEY));
        }
        let Some(row) = tables.users.get_mut(&id) else {
            return Ok(None);
        };
        if let Some(username) = &change.username {
            row.user.username.clone_from(username);
        }
        if let Some(bio) = &change.bio {
            row.user.bio.clone_from(bio);
        }
        if let Some(image) = &change.image {
            row.user.image.clone_from(image);
        }
        Ok(Some(row.user.clone()))
    }

    async fn find_by_username(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<(User, bool)>> {
        let tables = self.tables();
        Ok(tables.user_by_username(username).map(|row| {
            let following = viewer.is_some_and(|v| tables.follows.contains(&(v, row.user.id)));
            (row.user.clone(), following)
        }))
    }

    async fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        let mut tables = self.tables();
        if tables.users.remove(&id).is_none() {
            return Ok(false);
        }
        let owned: Vec<PostId> = tables
            .posts
            .iter()
            .filter(|(_, row)| row.owner == id)
            .map(|(post, _)| *post)
            .collect();
        for post in owned {
            tables.delete_post(post);
        }
        tables.votes.retain(|(_, user)| *user != id);
        tables.follows.retain(|(a, b)| *a != id && *b != id);
        tables.comments.retain(|_, row| row.author != id);
        tables.sessions.retain(|_, row| row.session.user_id != id);
        let Tables {
            sessions,
            refresh_tokens,
            ..
        } = &mut *tables;
        refresh_tokens.retain(|_, row| sessions.contains_key(&row.record.session_id));
        tables.account_tokens.retain(|_, row| row.user != id);
        Ok(true)
    }
}

#[async_trait]
impl PostStore for MemoryStore {
    async fn create_post(
        &self,
        owner: &User,
        draft: &PostDraft,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Post> {
        let mut tables = self.tables();
        if !tables.users.contains_key(&owner.id) {
            return Err(missing("posts_owner_id_fkey"));
        }
        tables.last_post_id += 1;
        let id = PostId(tables.last_post_id);
        let mut stored = draft.clone();
        stored.tags = Some(as_stored(draft.tags.clone().unwrap_or_default()));
        tables.posts.insert(
            id,
            PostRow {
                draft: stored,
                created_at,
                updated_at: None,
                owner: owner.id,
            },
        );
        Ok(Post::new(id, draft, created_at, owner))
    }

    async fn get_post(
        &self,
        id: PostId,
        viewer: Option<UserId>,
    ) -> StorageResult<Option<PostWithVotes>> {
        Ok(self.tables().post(id, viewer))
    }

    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>> {
        let tables = self.tables();
        let search = filter.search.as_deref().map(str::to_lowercase);
        let (Some(author), Some(voter)) = (
            tables.filter_user(filter.author.as_ref()),
            tables.filter_user(filter.voted_by.as_ref()),
        ) else {
            return Ok(Vec::new());
        };
        let page = tables
            .posts
            .range(..PostId(filter.before))
            .rev()
            .filter(|(_, row)| row.draft.published || Some(row.owner) == filter.viewer)
            .filter(|(_, row)| {
                search
                    .as_deref()
                    .is_none_or(|s| row.draft.title.to_lowercase().contains(s))
            })
            .filter(|(_, row)| {
                filter.tag.as_ref().is_none_or(|tag| {
                    row.draft
                        .tags
                        .as_ref()
                        .is_some_and(|tags| tags.contains(tag))
                })
            })
            .filter(|(_, row)| author.is_none_or(|a| row.owner == a))
            .filter(|(id, _)| voter.is_none_or(|v| tables.votes.contains(&(**id, v))))
            .filter(|(_, row)| {
                !filter.feed
                    || (row.draft.published
                        && filter
                            .viewer
                            .is_some_and(|v| tables.follows.contains(&(v, row.owner))))
            })
            .skip(usize::try_from(filter.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(filter.limit).unwrap_or(usize::MAX))
            .filter_map(|(id, _)| tables.post(*id, filter.viewer))
            .collect();
        Ok(page)
    }

    async fn update_post(
        &self,
        id: PostId,
        draft: &PostDraft,
        updated_at: DateTime<Utc>,
    ) -> StorageResult<Option<Post>> {
        let mut tables = self.tables();
        let Some(row) = tables.posts.get_mut(&id) else {
            return Ok(None);
        };
        let PostDraft {
            title,
            content,
            published,
            description,
            tags,
        } = draft.clone();
        row.draft.title = title;
        row.draft.content = content;
        row.draft.published = published;
        if description.is_some() {
            row.draft.description = description;
        }
        if let Some(tags) = tags {
            row.draft.tags = Some(as_stored(tags));
        }
        row.updated_at = Some(updated_at);
        Ok(tables.post(id, None).map(|found| found.post))
    }

    async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
        Ok(self.tables().delete_post(id))
    }

    async fn tags(&self, limit: u32, skip: u64) -> StorageResult<Vec<TagCount>> {
        let tables = self.tables();
        let mut counts: BTreeMap<&Tag, i64> = BTreeMap::new();
        for row in tables.posts.values().filter(|row| row.draft.published) {
            for tag in row.draft.tags.iter().flatten() {
                *counts.entry(tag).or_default() += 1;
            }
        }
        let mut tags: Vec<TagCount> = counts
            .into_iter()
            .map(|(tag, posts)| TagCount {
                tag: tag.clone(),
                posts,
            })
            .collect();
        tags.sort_by(|a, b| b.posts.cmp(&a.posts).then_with(|| a.tag.cmp(&b.tag)));
        Ok(tags
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }
}

#[async_trait]
impl FollowStore for MemoryStore {
    async fn follow(&self, follower: UserId, followee: UserId) -> StorageResult<()> {
        let mut tables = self.tables();
        for (user, constraint) in [
            (follower, "follows_follower_id_fkey"),
            (followee, "follows_followee_id_fkey"),
        ] {
            if !tables.users.contains_key(&user) {
                return Err(missing(constraint));
            }
        }
        tables.follows.insert((follower, followee));
        Ok(())
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> StorageResult<bool> {
        Ok(self.tables().follows.remove(&(follower, followee)))
    }
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn add_comment(
        &self,
        post: PostId,
        author: &User,
        body: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<Comment> {
        let mut tables = self.tables();
        if !tables.posts.contains_key(&post) {
            return Err(missing("comments_post_id_fkey"));
        }
        if !tables.users.contains_key(&author.id) {
            return Err(missing("comments_author_id_fkey"));
        }
        tables.last_comment_id += 1;
        let id = CommentId(tables.last_comment_id);
        tables.comments.insert(
            id,
            CommentRow {
                post,
                author: author.id,
                body: body.to_owned(),
                created_at,
            },
        );
        Ok(Comment {
            id,
            post_id: post,
            body: body.to_owned(),
            created_at,
            author: author.clone(),
        })
    }

    async fn get_comment(&self, id: CommentId) -> StorageResult<Option<Comment>> {
        Ok(self.tables().comment(id))
    }

    async fn list_comments(
        &self,
        post: PostId,
        after: i64,
        limit: u32,
        skip: u64,
    ) -> StorageResult<Vec<Comment>> {
        let tables = self.tables();
        Ok(tables
            .comments
            .range(CommentId(after.saturating_add(1))..)
            .filter(|(_, row)| row.post == post)
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .filter_map(|(id, _)| tables.comment(*id))
            .collect())
    }

    async fn delete_comment(&self, id: CommentId) -> StorageResult<bool> {
        Ok(self.tables().comments.remove(&id).is_some())
    }
}

#[async_trait]
impl VoteStore for MemoryStore {
    async fn add_vote(&self, user: UserId, post: PostId) -> StorageResult<()> {
        let mut tables = self.tables();
        if !tables.posts.contains_key(&post) {
            return Err(missing("votes_post_id_fkey"));
        }
        if !tables.users.contains_key(&user) {
            return Err(missing("votes_user_id_fkey"));
        }
        if !tables.votes.insert((post, user)) {
            return Err(conflict("votes_pkey"));
        }
        Ok(())
    }

    async fn remove_vote(&self, user: UserId, post: PostId) -> StorageResult<bool> {
        Ok(self.tables().votes.remove(&(post, user)))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn find_credentials(&self, email: &Email) -> StorageResult<Option<UserCredentials>> {
        let tables = self.tables();
        Ok(tables.user_by_email(email).map(|row| UserCredentials {
            user: row.user.clone(),
            password_hash: row.password_hash.clone(),
            credential_generation: row.credential_generation,
        }))
    }

    async fn upgrade_password_hash(
        &self,
        user: UserId,
        verified_hash: &str,
        new_hash: &str,
    ) -> StorageResult<bool> {
        let mut tables = self.tables();
        match tables.users.get_mut(&user) {
            Some(row) if row.password_hash == verified_hash => {
                new_hash.clone_into(&mut row.password_hash);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn create_session(
        &self,
        session: &Session,
        refresh_key: &str,
        credential_generation: i64,
        refresh: &RefreshTokenRecord,
    ) -> StorageResult<bool> {
        let mut tables = self.tables();
        if tables.generation(session.user_id) != Some(credential_generation) {
            return Ok(false);
        }
        if tables.sessions.contains_key(&session.id) {
            return Err(conflict("sessions_pkey"));
        }
        if tables.refresh_tokens.contains_key(&refresh.token_hash) {
            return Err(conflict("refresh_tokens_pkey"));
        }
        if refresh.session_id != session.id && !tables.sessions.contains_key(&refresh.session_id) {
            return Err(missing("refresh_tokens_session_id_fkey"));
        }
        tables.sessions.insert(
            session.id.clone(),
            SessionRow {
                session: session.clone(),
                refresh_key: refresh_key.to_owned(),
                credential_generation,
            },
        );
        tables.refresh_tokens.insert(
            refresh.token_hash.clone(),
            RefreshRow {
                record: refresh.clone(),
                rotated_at: None,
            },
        );
        Ok(true)
    }

    async fn session_user(
        &self,
        user: UserId,
        session_id: &str,
    ) -> StorageResult<Option<(User, Session)>> {
        let tables = self.tables();
        let found = tables
            .sessions
            .get(session_id)
            .filter(|row| row.session.user_id == user && tables.is_current(row))
            .and_then(|row| {
                let owner = tables.users.get(&user)?;
                Some((owner.user.clone(), row.session.clone()))
            });
        Ok(found)
    }

    async fn claim_refresh_token(&self, token_hash: &str) -> StorageResult<Option<RefreshClaim>> {
        let checked_at = now();
        let mut tables = self.tables();
        let Some(token) = tables.refresh_tokens.get_mut(token_hash) else {
            return Ok(None);
        };
        // Marked whatever its session's state, as the databases do.
        let previously_rotated_at = token.rotated_at;
        token.rotated_at.get_or_insert(checked_at);
        let expires_at = token.record.expires_at;
        let session_id = token.record.session_id.clone();
        let claim = tables
            .sessions
            .get(&session_id)
            .filter(|row| tables.is_current(row))
            .map(|row| RefreshClaim {
                session: row.session.clone(),
                refresh_key: row.refresh_key.clone(),
                expires_at,
                previously_rotated_at,
                checked_at,
            });
        Ok(claim)
    }

    async fn add_refresh_token(&self, refresh: &RefreshTokenRecord) -> StorageResult<()> {
        let mut tables = self.tables();
        let Some(row) = tables.sessions.get_mut(&refresh.session_id) else {
            return Err(missing("refresh_tokens_session_id_fkey"));
        };
        row.session.last_used_at = refresh.created_at;
        tables
            .refresh_tokens
            .entry(refresh.token_hash.clone())
            .or_insert_with(|| RefreshRow {
                record: refresh.clone(),
                rotated_at: None,
            });
        Ok(())
    }

    async fn list_sessions(&self, user: UserId, now: DateTime<Utc>) -> StorageResult<Vec<Session>> {
        let tables = self.tables();
        let mut sessions: Vec<Session> = tables
            .sessions
            .values()
            .filter(|row| {
                row.session.user_id == user
                    && row.session.revoked_at.is_none()
                    && row.session.expires_at > now
                    && tables.is_current(row)
            })
            .map(|row| row.session.clone())
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let mut tables = self.tables();
        match tables.sessions.get_mut(session_id) {
            Some(row)
                if row.session.user_id == user
                    && row.session.revoked_at.is_none()
                    && row.session.expires_at > now =>
            {
                row.session.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn end_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        new_password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StorageResult<u64> {
        Ok(self
            .tables()
            .end_sessions(user, keep, new_password_hash, now))
    }
}

impl Tables {
    /// [`SessionStore::end_sessions`] on the locked tables.
    fn end_sessions(
        &mut self,
        user: UserId,
        keep: Option<&str>,
        new_password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> u64 {
        let Some(owner) = self.users.get_mut(&user) else {
            return 0;
        };
        owner.credential_generation += 1;
        if let Some(hash) = new_password_hash {
            hash.clone_into(&mut owner.password_hash);
        }
        let generation = owner.credential_generation;
        let mut ended = 0;
        for row in self.sessions.values_mut() {
            if row.session.user_id != user {
                continue;
            }
            if Some(row.session.id.as_str()) == keep {
                // Carried over only from the generation just ended.
                if row.credential_generation == generation - 1 {
                    row.credential_generation = generation;
                }
            } else if row.session.revoked_at.is_none() && row.session.expires_at > now {
                row.session.revoked_at = Some(now);
                ended += 1;
            }
        }
        ended
    }

    /// The token with this hash and purpose if it is live at `now` (see
    /// [`AccountTokenStore`]).
    fn live_token(&self, hash: &str, purpose: MailKind, now: DateTime<Utc>) -> Option<UserId> {
        let token = self.account_tokens.get(hash)?;
        let user = self.users.get(&token.user)?;
        let bound = match purpose {
            MailKind::PasswordReset => token.credential_generation == user.credential_generation,
            MailKind::VerifyEmail => !user.user.email_verified,
        };
        (token.record.purpose == purpose
            && token.used_at.is_none()
            && token.record.expires_at > now
            && user.user.email.as_ref() == Some(&token.email)
            && bound)
            .then_some(token.user)
    }

    /// Uses the live token with this hash and purpose; its user, if it was live.
    fn use_token(&mut self, hash: &str, purpose: MailKind, now: DateTime<Utc>) -> Option<UserId> {
        let user = self.live_token(hash, purpose, now)?;
        self.account_tokens.get_mut(hash)?.used_at = Some(now);
        Some(user)
    }
}

#[async_trait]
impl AccountTokenStore for MemoryStore {
    async fn issue_token(
        &self,
        email: &Email,
        token: &AccountToken,
        cap: Limit,
    ) -> StorageResult<TokenIssue> {
        let mut tables = self.tables();
        let Some(row) = tables.user_by_email(email) else {
            return Ok(TokenIssue::NoAccount);
        };
        let (user, generation) = (row.user.clone(), row.credential_generation);
        if token.purpose == MailKind::VerifyEmail && user.email_verified {
            return Ok(TokenIssue::AlreadyVerified);
        }
        let window_start = token.created_at
            - chrono::Duration::from_std(cap.window).unwrap_or(chrono::Duration::MAX);
        tables.account_tokens.retain(|_, t| {
            t.user != user.id
                || t.record.created_at > window_start
                || t.record.expires_at > token.created_at
        });
        let recent = tables
            .account_tokens
            .values()
            .filter(|t| t.user == user.id && t.record.created_at > window_start)
            .count();
        if recent as u64 >= cap.max {
            return Ok(TokenIssue::Capped);
        }
        let Some(address) = user.email.clone() else {
            return Ok(TokenIssue::NoAccount);
        };
        tables.account_tokens.insert(
            token.token_hash.clone(),
            AccountTokenRow {
                record: token.clone(),
                user: user.id,
                email: address,
                credential_generation: generation,
                used_at: None,
            },
        );
        Ok(TokenIssue::Issued(user))
    }

    async fn live_token(
        &self,
        token_hash: &str,
        purpose: MailKind,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<UserId>> {
        Ok(self.tables().live_token(token_hash, purpose, now))
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        new_password_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<(UserId, u64)>> {
        let mut tables = self.tables();
        let Some(user) = tables.use_token(token_hash, MailKind::PasswordReset, now) else {
            return Ok(None);
        };
        let ended = tables.end_sessions(user, None, Some(new_password_hash), now);
        Ok(Some((user, ended)))
    }

    async fn verify_email(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<User>> {
        let mut tables = self.tables();
        let Some(user) = tables.use_token(token_hash, MailKind::VerifyEmail, now) else {
            return Ok(None);
        };
        Ok(tables.users.get_mut(&user).map(|row| {
            row.user.email_verified = true;
            row.user.clone()
        }))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
