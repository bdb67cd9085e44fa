//! The result objects: frozen Python classes over the core domain types,
//! with attributes and a `to_dict()` giving the HTTP API's JSON shape,
//! each declared once in [`result_class!`].

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use agora_core::service::VoteOutcome;
use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use serde::{Serialize, Serializer};

/// Converts a serialisable value to Python through its JSON text, so
/// `to_dict()` is exactly what the HTTP API sends, keys in the same order.
pub(crate) fn to_python<'py>(
    py: Python<'py>,
    value: &impl Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let json = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    LOADS.import(py, "json", "loads")?.call1((json,))
}

/// Python's `repr` of a string.
pub(crate) fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_cow()?.into_owned())
}

/// A value a result object wraps: its JSON is `to_dict()`, and its
/// [`Value::key`] decides equality and the hash.
pub(crate) trait Value: Serialize {
    /// What equal objects share: by default, their JSON.
    fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Value for agora_core::User {}
impl Value for agora_core::Post {}
impl Value for agora_core::PostWithVotes {}
impl Value for agora_core::schema::Token {}
impl Value for agora_core::schema::SessionInfo {}
impl Value for agora_core::domain::Profile {}
impl Value for agora_core::domain::TagCount {}
impl Value for agora_core::domain::Comment {}

/// What a vote did, and on which post; its JSON is the HTTP API's
/// `{"message": ...}`.
#[derive(Clone)]
pub(crate) struct Vote {
    /// The post voted on.
    pub(crate) post_id: i64,
    /// Whether the vote was added or removed.
    pub(crate) outcome: VoteOutcome,
}

impl Serialize for Vote {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.outcome.message().serialize(serializer)
    }
}

impl Value for Vote {
    fn key(&self) -> String {
        format!("{}:{:?}", self.post_id, self.outcome)
    }
}

/// Declares a frozen Python class over a [`Value`]: its getters (each
/// `name: type = |value| expression`), `to_dict()`, a `repr` showing the
/// attributes named in `repr(...)`, equality and a hash.
macro_rules! result_class {
    (
        $(#[$doc:meta])*
        $class:ident($inner:ty) repr($($shown:ident),*) {
            $($(#[$getter_doc:meta])* $field:ident: $type:ty = |$value:ident| $get:expr;)*
        }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, eq, module = "agora")]
        #[derive(Clone)]
        pub struct $class {
            pub(crate) inner: $inner,
        }

        impl PartialEq for $class {
            fn eq(&self, other: &Self) -> bool {
                self.inner.key() == other.inner.key()
            }
        }

        #[pymethods]
        impl $class {
            $(
                $(#[$getter_doc])*
                #[getter]
                fn $field(&self) -> $type {
                    let $value = &self.inner;
                    $get
                }
            )*

            /// The HTTP API's JSON for this object, as Python values.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                to_python(py, &self.inner)
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                let mut shown = Vec::new();
                $(shown.push(format!(
                    "{}={}",
                    stringify!($shown),
                    slf.getattr(stringify!($shown))?.repr()?
                ));)*
                Ok(format!("{}({})", stringify!($class), shown.join(", ")))
            }

            fn __hash__(&self) -> u64 {
                let mut hasher = DefaultHasher::new();
                self.inner.key().hash(&mut hasher);
                hasher.finish()
            }
        }
    };
}

result_class! {
    /// A registered user: `id`, `email` (lower-cased), `created_at` (aware
    /// UTC datetime), and the profile's `username`, `bio` and `image` (each
    /// `None` until set), and `email_verified`. Never carries a password.
    User(agora_core::User) repr(id, email, username) {
        /// The user's id.
        id: i64 = |user| user.id.0;
        /// The user's email address, lower-cased; `None` for another user's
        /// address when the privacy switch (`hide_emails=True`) hides it.
        email: Option<&str> = |user| user.email.as_ref().map(|e| e.as_str());
        /// When the user registered (timezone-aware, UTC).
        created_at: DateTime<Utc> = |user| user.created_at;
        /// The public handle (as typed; unique case-insensitively), if chosen.
        username: Option<&str> = |user| user.username.as_ref().map(|u| u.as_str());
        /// Free text about the user, if set.
        bio: Option<&str> = |user| user.bio.as_deref();
        /// The URL of the user's picture, if set.
        image: Option<&str> = |user| user.image.as_deref();
        /// Whether the user proved the address is theirs (`verify`).
        email_verified: bool = |user| user.email_verified;
    }
}

result_class! {
    /// A post: `id`, `title`, `content`, `published`, `created_at`,
    /// `owner_id`, `owner` (a `User`), `description`, `tags` (normalised,
    /// sorted) and `updated_at`.
    Post(agora_core::Post) repr(id, title, published, owner_id) {
        /// The post's id.
        id: i64 = |post| post.id.0;
        /// The title.
        title: &str = |post| &post.title;
        /// The body text.
        content: &str = |post| &post.content;
        /// Whether other users can see it.
        published: bool = |post| post.published;
        /// When the post was created (timezone-aware, UTC).
        created_at: DateTime<Utc> = |post| post.created_at;
        /// The owner's id.
        owner_id: i64 = |post| post.owner_id.0;
        /// The owner.
        owner: User = |post| User { inner: post.owner.clone() };
        /// A short summary, if given.
        description: Option<&str> = |post| post.description.as_deref();
        /// The tags: trimmed, lower-cased, deduplicated, in alphabetical order.
        tags: Vec<&str> = |post| post.tags.iter().map(|t| t.as_str()).collect();
        /// When it was last edited (timezone-aware, UTC); `None` until then.
        updated_at: Option<DateTime<Utc>> = |post| post.updated_at;
    }
}

result_class! {
    /// A post with its vote count, as `GET /posts` lists it.
    PostWithVotes(agora_core::PostWithVotes) repr(post, votes, voted) {
        /// The post.
        post: Post = |listed| Post { inner: listed.post.clone() };
        /// How many users voted for it.
        votes: i64 = |listed| listed.votes;
        /// Whether the viewer is one of them (`False` for anonymous viewers).
        voted: bool = |listed| listed.voted;
    }
}

result_class! {
    /// The tokens of a session, as `POST /login` and `POST /token/refresh`
    /// answer them. Its `repr` hides both tokens.
    Token(agora_core::schema::Token) repr(token_type, expires_in, refresh_expires_in) {
        /// The signed JWT, for an `Authorization: Bearer <token>` header.
        access_token: &str = |token| &token.access_token;
        /// Always `"bearer"`.
        token_type: &str = |token| &token.token_type;
        /// Seconds until the access token expires.
        expires_in: u64 = |token| token.expires_in;
        /// The opaque refresh token of this session, for `refresh` (each
        /// one works once).
        refresh_token: &str = |token| &token.refresh_token;
        /// Seconds until the refresh token expires if unused.
        refresh_expires_in: u64 = |token| token.refresh_expires_in;
    }
}

result_class! {
    /// One of the user's active sessions, as `GET /sessions` lists it: `id`,
    /// `created_at`, `last_used_at`, `expires_at` (aware UTC datetimes),
    /// `user_agent` and `ip` (as given at login, or `None`), and `current`
    /// (whether it is the session of the token that asked).
    Session(agora_core::schema::SessionInfo) repr(id, ip, current) {
        /// The session's id (hex), for `end_session`.
        id: &str = |info| &info.session.id;
        /// When the session began: the login (timezone-aware, UTC).
        created_at: DateTime<Utc> = |info| info.session.created_at;
        /// When it was last refreshed, or created (timezone-aware, UTC).
        last_used_at: DateTime<Utc> = |info| info.session.last_used_at;
        /// Its absolute end, however often it is refreshed (timezone-aware, UTC).
        expires_at: DateTime<Utc> = |info| info.session.expires_at;
        /// The client's `User-Agent` at login, if known.
        user_agent: Option<&str> = |info| info.session.user_agent.as_deref();
        /// The client's IP address at login, if known.
        ip: Option<&str> = |info| info.session.ip.as_deref();
        /// Whether this is the session of the access token that listed it.
        current: bool = |info| info.current;
    }
}

result_class! {
    /// What a vote did: `added` (`True` for `dir=1`, `False` for `dir=0`),
    /// `post_id`, and the HTTP API's `message`.
    VoteResult(Vote) repr(post_id, added) {
        /// The post voted on.
        post_id: i64 = |vote| vote.post_id;
        /// `True` when a vote was added, `False` when one was removed.
        added: bool = |vote| vote.outcome == VoteOutcome::Added;
        /// `"successfully added vote"` or `"successfully deleted vote"`.
        message: String = |vote| vote.outcome.message().message;
    }
}

result_class! {
    /// A user's public face, as `GET /profiles/{username}` answers it:
    /// `username`, `bio`, `image`, and `following` (whether the viewer
    /// follows them; `False` for anonymous viewers).
    Profile(agora_core::domain::Profile) repr(username, following) {
        /// The username.
        username: &str = |profile| profile.username.as_str();
        /// Free text, if set.
        bio: Option<&str> = |profile| profile.bio.as_deref();
        /// An image URL, if set.
        image: Option<&str> = |profile| profile.image.as_deref();
        /// Whether the viewer follows this user.
        following: bool = |profile| profile.following;
    }
}

result_class! {
    /// A tag with how many published posts carry it, as `GET /tags` lists it.
    TagCount(agora_core::domain::TagCount) repr(tag, posts) {
        /// The tag (lower-cased).
        tag: &str = |count| count.tag.as_str();
        /// How many published posts carry it.
        posts: i64 = |count| count.posts;
    }
}

result_class! {
    /// A comment on a post: `id`, `post_id`, `body`, `created_at` (aware
    /// UTC datetime) and `author` (a `User`).
    Comment(agora_core::domain::Comment) repr(id, post_id) {
        /// The comment's id.
        id: i64 = |comment| comment.id.0;
        /// The post it is on.
        post_id: i64 = |comment| comment.post_id.0;
        /// Its text.
        body: &str = |comment| &comment.body;
        /// When it was written (timezone-aware, UTC).
        created_at: DateTime<Utc> = |comment| comment.created_at;
        /// Who wrote it.
        author: User = |comment| User { inner: comment.author.clone() };
    }
}
