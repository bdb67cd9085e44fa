//! An in-memory [`Store`] (feature `testing`): plain collections behind one
//! mutex, so every call is atomic and the contract documented on the storage
//! traits holds under any concurrency, with no database. Ids are never
//! reused; the clock of refresh claims is this process's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostStore, SessionStore, StorageError, StorageResult, Store, UserStore, VoteStore};
use crate::domain::{
    Email, Post, PostDraft, PostFilter, PostId, PostWithVotes, RefreshClaim, RefreshTokenRecord,
    Session, User, UserCredentials, UserId, now,
};

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
    users: BTreeMap<UserId, UserRow>,
    posts: BTreeMap<PostId, PostRow>,
    /// `(post, user)`, as the database's primary key.
    votes: BTreeSet<(PostId, UserId)>,
    sessions: HashMap<String, SessionRow>,
    refresh_tokens: HashMap<String, RefreshRow>,
}

#[derive(Debug)]
struct UserRow {
    user: User,
    password_hash: String,
    credential_generation: i64,
}

#[derive(Debug)]
struct PostRow {
    draft: PostDraft,
    created_at: DateTime<Utc>,
    owner: UserId,
}

#[derive(Debug)]
struct SessionRow {
    session: Session,
    refresh_key: String,
    credential_generation: i64,
}

#[derive(Debug)]
struct RefreshRow {
    record: RefreshTokenRecord,
    rotated_at: Option<DateTime<Utc>>,
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

    fn votes_on(&self, post: PostId) -> i64 {
        let count = self
            .votes
            .range((post, UserId(i64::MIN))..=(post, UserId(i64::MAX)))
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// A stored post with its owner and vote count.
    fn post(&self, id: PostId) -> Option<PostWithVotes> {
        let row = self.posts.get(&id)?;
        let owner = &self.users.get(&row.owner)?.user;
        Some(PostWithVotes {
            post: Post::new(id, &row.draft, row.created_at, owner),
            votes: self.votes_on(id),
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
        self.posts.remove(&id).is_some()
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &str,
        created_at: DateTime<Utc>,
    ) -> StorageResult<User> {
        let mut tables = self.tables();
        if tables.user_by_email(email).is_some() {
            return Err(conflict("users_email_key"));
        }
        tables.last_user_id += 1;
        let user = User {
            id: UserId(tables.last_user_id),
            email: Some(email.clone()),
            created_at,
        };
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
        tables.sessions.retain(|_, row| row.session.user_id != id);
        let Tables {
            sessions,
            refresh_tokens,
            ..
        } = &mut *tables;
        refresh_tokens.retain(|_, row| sessions.contains_key(&row.record.session_id));
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
        tables.posts.insert(
            id,
            PostRow {
                draft: draft.clone(),
                created_at,
                owner: owner.id,
            },
        );
        Ok(Post::new(id, draft, created_at, owner))
    }

    async fn get_post(&self, id: PostId) -> StorageResult<Option<PostWithVotes>> {
        Ok(self.tables().post(id))
    }

    async fn list_posts(&self, filter: &PostFilter) -> StorageResult<Vec<PostWithVotes>> {
        let tables = self.tables();
        let search = filter.search.as_deref().map(str::to_lowercase);
        let page = tables
            .posts
            .range(..PostId(filter.before))
            .rev()
            .filter(|(_, row)| row.draft.published || row.owner == filter.viewer)
            .filter(|(_, row)| {
                search
                    .as_deref()
                    .is_none_or(|s| row.draft.title.to_lowercase().contains(s))
            })
            .skip(usize::try_from(filter.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(filter.limit).unwrap_or(usize::MAX))
            .filter_map(|(id, _)| tables.post(*id))
            .collect();
        Ok(page)
    }

    async fn update_post(&self, id: PostId, draft: &PostDraft) -> StorageResult<Option<Post>> {
        let mut tables = self.tables();
        let Some(row) = tables.posts.get_mut(&id) else {
            return Ok(None);
        };
        row.draft = draft.clone();
        Ok(tables.post(id).map(|found| found.post))
    }

    async fn delete_post(&self, id: PostId) -> StorageResult<bool> {
        Ok(self.tables().delete_post(id))
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
        let mut tables = self.tables();
        let Some(owner) = tables.users.get_mut(&user) else {
            return Ok(0);
        };
        owner.credential_generation += 1;
        if let Some(hash) = new_password_hash {
            hash.clone_into(&mut owner.password_hash);
        }
        let generation = owner.credential_generation;
        let mut ended = 0;
        for row in tables.sessions.values_mut() {
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
        Ok(ended)
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
