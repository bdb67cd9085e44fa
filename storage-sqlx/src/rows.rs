//! Row types and conversions shared by every backend (`FromRow` is generic
//! over the database).

use agora_core::domain::{
    Email, Post, PostId, PostWithVotes, RefreshClaim, Session, User, UserCredentials, UserId,
};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    email: String,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            email: Some(Email::from_trusted(r.email)),
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
    credential_generation: i64,
}

impl From<CredentialsRow> for UserCredentials {
    fn from(r: CredentialsRow) -> Self {
        UserCredentials {
            user: r.user.into(),
            password_hash: r.password_hash,
            credential_generation: r.credential_generation,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct PostRow {
    id: i64,
    title: String,
    content: String,
    published: bool,
    created_at: DateTime<Utc>,
    owner_id: i64,
    owner_email: String,
    owner_created_at: DateTime<Utc>,
    votes: i64,
}

impl From<PostRow> for PostWithVotes {
    fn from(r: PostRow) -> Self {
        PostWithVotes {
            post: Post {
                id: PostId(r.id),
                title: r.title,
                content: r.content,
                published: r.published,
                created_at: r.created_at,
                owner_id: UserId(r.owner_id),
                owner: User {
                    id: UserId(r.owner_id),
                    email: Some(Email::from_trusted(r.owner_email)),
                    created_at: r.owner_created_at,
                },
            },
            votes: r.votes,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct SessionRow {
    id: String,
    user_id: i64,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: UserId(r.user_id),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            user_agent: r.user_agent,
            ip: r.ip,
        }
    }
}

/// A session with its user's columns (`user_email`, `user_created_at`).
#[derive(FromRow)]
pub(crate) struct SessionUserRow {
    #[sqlx(flatten)]
    session: SessionRow,
    user_email: String,
    user_created_at: DateTime<Utc>,
}

impl From<SessionUserRow> for (User, Session) {
    fn from(r: SessionUserRow) -> Self {
        let user = User {
            id: UserId(r.session.user_id),
            email: Some(Email::from_trusted(r.user_email)),
            created_at: r.user_created_at,
        };
        (user, r.session.into())
    }
}

/// A refresh token's expiry and rotation time with its session's columns
/// and key, and the database's time (`checked_at`).
#[derive(FromRow)]
pub(crate) struct RefreshRow {
    #[sqlx(flatten)]
    session: SessionRow,
    refresh_key: String,
    token_expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    checked_at: DateTime<Utc>,
}

impl RefreshRow {
    /// The claim, given whether this caller was the one that marked the token.
    pub(crate) fn into_claim(self, first: bool) -> RefreshClaim {
        RefreshClaim {
            session: self.session.into(),
            refresh_key: self.refresh_key,
            expires_at: self.token_expires_at,
            previously_rotated_at: if first { None } else { self.rotated_at },
            checked_at: self.checked_at,
        }
    }
}

/// A `LIKE` pattern matching `search` anywhere, with its wildcards escaped
/// (escape character `\\`) so a search for `50%` matches the text `50%`.
pub(crate) fn like_pattern(search: &str) -> String {
    let mut escaped = String::with_capacity(search.len() + 2);
    escaped.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
