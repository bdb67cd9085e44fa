//! Row types and conversions shared by every backend (`FromRow` is generic
//! over the database).

use agora_core::domain::{
    Comment, CommentId, Email, Post, PostId, PostWithVotes, RefreshClaim, Session, Tag, TagCount,
    User, UserCredentials, UserId, Username,
};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    email: String,
    created_at: DateTime<Utc>,
    username: Option<String>,
    bio: Option<String>,
    image: Option<String>,
    email_verified: bool,
}

/// A user from its stored columns.
fn user(
    id: i64,
    email: String,
    created_at: DateTime<Utc>,
    username: Option<String>,
    bio: Option<String>,
    image: Option<String>,
    email_verified: bool,
) -> User {
    User {
        id: UserId(id),
        email: Some(Email::from_trusted(email)),
        created_at,
        username: username.map(Username::from_trusted),
        bio,
        image,
        email_verified,
    }
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        user(
            r.id,
            r.email,
            r.created_at,
            r.username,
            r.bio,
            r.image,
            r.email_verified,
        )
    }
}

/// A user with whether the viewer follows them (a count: 0 or 1).
#[derive(FromRow)]
pub(crate) struct FollowedUserRow {
    #[sqlx(flatten)]
    user: UserRow,
    following: i64,
}

impl From<FollowedUserRow> for (User, bool) {
    fn from(r: FollowedUserRow) -> Self {
        (r.user.into(), r.following > 0)
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

/// The separator of the tags in a post row's `tags` (tags never contain
/// control characters).
const TAG_SEPARATOR: char = '\u{1f}';

/// A post row, in the order of `post_columns!`' columns, which
/// [`FromRow`] decodes by position: every statement that reads posts starts
/// with those columns, and a read looks no column up by name (a look-up per
/// column was about 2% of a `GET /posts/{id}`'s instructions on SQLite).
pub(crate) struct PostRow {
    id: i64,
    title: String,
    content: String,
    published: bool,
    created_at: DateTime<Utc>,
    owner_id: i64,
    description: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    owner_email: String,
    owner_created_at: DateTime<Utc>,
    owner_username: Option<String>,
    owner_bio: Option<String>,
    owner_image: Option<String>,
    owner_email_verified: bool,
    /// The tags joined by [`TAG_SEPARATOR`]; NULL when there are none.
    tags: Option<String>,
    votes: i64,
    /// The viewer's votes on the post: 0 or 1.
    voted: i64,
}

impl<'r, R> FromRow<'r, R> for PostRow
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(PostRow {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            content: row.try_get(2)?,
            published: row.try_get(3)?,
            created_at: row.try_get(4)?,
            owner_id: row.try_get(5)?,
            description: row.try_get(6)?,
            updated_at: row.try_get(7)?,
            owner_email: row.try_get(8)?,
            owner_created_at: row.try_get(9)?,
            owner_username: row.try_get(10)?,
            owner_bio: row.try_get(11)?,
            owner_image: row.try_get(12)?,
            owner_email_verified: row.try_get(13)?,
            tags: row.try_get(14)?,
            votes: row.try_get(15)?,
            voted: row.try_get(16)?,
        })
    }
}

/// The tags of a post row, in alphabetical (code point) order whatever
/// order the database aggregated them in.
fn split_tags(joined: Option<String>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = joined
        .iter()
        .flat_map(|joined| joined.split(TAG_SEPARATOR))
        .filter(|tag| !tag.is_empty())
        .map(|tag| Tag::from_trusted(tag.to_owned()))
        .collect();
    tags.sort();
    tags
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
                owner: user(
                    r.owner_id,
                    r.owner_email,
                    r.owner_created_at,
                    r.owner_username,
                    r.owner_bio,
                    r.owner_image,
                    r.owner_email_verified,
                ),
                description: r.description,
                tags: split_tags(r.tags),
                updated_at: r.updated_at,
            },
            votes: r.votes,
            voted: r.voted > 0,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct TagCountRow {
    tag: String,
    posts: i64,
}

impl From<TagCountRow> for TagCount {
    fn from(r: TagCountRow) -> Self {
        TagCount {
            tag: Tag::from_trusted(r.tag),
            posts: r.posts,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct CommentRow {
    id: i64,
    post_id: i64,
    body: String,
    created_at: DateTime<Utc>,
    author_id: i64,
    author_email: String,
    author_created_at: DateTime<Utc>,
    author_username: Option<String>,
    author_bio: Option<String>,
    author_image: Option<String>,
    author_email_verified: bool,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Comment {
            id: CommentId(r.id),
            post_id: PostId(r.post_id),
            body: r.body,
            created_at: r.created_at,
            author: user(
                r.author_id,
                r.author_email,
                r.author_created_at,
                r.author_username,
                r.author_bio,
                r.author_image,
                r.author_email_verified,
            ),
        }
    }
}

#[derive(FromRow)]
pub(crate) struct SessionRow {
    #[sqlx(rename = "session_id")]
    id: String,
    user_id: i64,
    #[sqlx(rename = "session_created_at")]
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

/// A session with its user's columns (`user_email`, `user_created_at`,
/// `user_username`, `user_bio`, `user_image`, `user_email_verified`).
#[derive(FromRow)]
pub(crate) struct SessionUserRow {
    #[sqlx(flatten)]
    session: SessionRow,
    user_email: String,
    user_created_at: DateTime<Utc>,
    user_username: Option<String>,
    user_bio: Option<String>,
    user_image: Option<String>,
    user_email_verified: bool,
}

impl From<SessionUserRow> for (User, Session) {
    fn from(r: SessionUserRow) -> Self {
        let owner = user(
            r.session.user_id,
            r.user_email,
            r.user_created_at,
            r.user_username,
            r.user_bio,
            r.user_image,
            r.user_email_verified,
        );
        (owner, r.session.into())
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
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
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
    use super::{like_pattern, split_tags};

    #[test]
    fn tags_are_split_and_sorted_by_code_point() {
        let tags = split_tags(Some("sql\u{1f}c++\u{1f}rust\u{1f}é".to_owned()));
        let tags: Vec<&str> = tags.iter().map(|t| t.as_str()).collect();
        assert_eq!(tags, ["c++", "rust", "sql", "é"]);
        assert!(split_tags(None).is_empty());
    }

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
