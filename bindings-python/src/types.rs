//! The result objects: frozen Python classes over the core domain types,
//! with attributes and a `to_dict()` giving the HTTP API's JSON shape.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use serde::Serialize;

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

pub(crate) fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_cow()?.into_owned())
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A registered user: `id`, `email` (lower-cased), `created_at` (aware UTC
/// datetime). Never carries a password.
#[pyclass(frozen, eq, module = "agora", name = "User")]
#[derive(Clone, PartialEq)]
pub struct User {
    pub(crate) inner: agora_core::User,
}

#[pymethods]
impl User {
    /// The user's id.
    #[getter]
    fn id(&self) -> i64 {
        self.inner.id.0
    }

    /// The user's email address, lower-cased; `None` for another user's
    /// address when the privacy switch (`hide_emails=True`) hides it.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.inner.email.as_ref().map(|e| e.as_str())
    }

    /// When the user registered (timezone-aware, UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.created_at
    }

    /// `{"id", "email", "created_at"}` as the HTTP API answers, with
    /// `created_at` as its ISO 8601 string.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "User(id={}, email={}, created_at={})",
            self.inner.id,
            match &self.inner.email {
                Some(email) => repr_str(py, email.as_str())?,
                None => "None".to_owned(),
            },
            repr_str(py, &self.inner.created_at.to_rfc3339())?,
        ))
    }

    fn __hash__(&self) -> u64 {
        hash_of(&(self.inner.id, &self.inner.email, self.inner.created_at))
    }
}

/// A post: `id`, `title`, `content`, `published`, `created_at`,
/// `owner_id` and `owner` (a [`User`]).
#[pyclass(frozen, eq, module = "agora", name = "Post")]
#[derive(Clone, PartialEq)]
pub struct Post {
    pub(crate) inner: agora_core::Post,
}

#[pymethods]
impl Post {
    /// The post's id.
    #[getter]
    fn id(&self) -> i64 {
        self.inner.id.0
    }

    /// The title.
    #[getter]
    fn title(&self) -> &str {
        &self.inner.title
    }

    /// The body text.
    #[getter]
    fn content(&self) -> &str {
        &self.inner.content
    }

    /// Whether other users can see it.
    #[getter]
    fn published(&self) -> bool {
        self.inner.published
    }

    /// When the post was created (timezone-aware, UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.created_at
    }

    /// The owner's id.
    #[getter]
    fn owner_id(&self) -> i64 {
        self.inner.owner_id.0
    }

    /// The owner.
    #[getter]
    fn owner(&self) -> User {
        User {
            inner: self.inner.owner.clone(),
        }
    }

    /// The HTTP API's post object: `{"id", "title", "content", "published",
    /// "created_at", "owner_id", "owner": {...}}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Post(id={}, title={}, published={}, owner_id={})",
            self.inner.id,
            repr_str(py, &self.inner.title)?,
            if self.inner.published {
                "True"
            } else {
                "False"
            },
            self.inner.owner_id,
        ))
    }

    fn __hash__(&self) -> u64 {
        hash_of(&(
            self.inner.id,
            &self.inner.title,
            &self.inner.content,
            self.inner.published,
            self.inner.created_at,
        ))
    }
}

/// A post with its vote count, as `GET /posts` lists it.
#[pyclass(frozen, eq, module = "agora", name = "PostWithVotes")]
#[derive(Clone, PartialEq)]
pub struct PostWithVotes {
    pub(crate) inner: agora_core::PostWithVotes,
}

#[pymethods]
impl PostWithVotes {
    /// The post.
    #[getter]
    fn post(&self) -> Post {
        Post {
            inner: self.inner.post.clone(),
        }
    }

    /// How many users voted for it.
    #[getter]
    fn votes(&self) -> i64 {
        self.inner.votes
    }

    /// `{"Post": {...}, "votes": n}`, the HTTP API's shape.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PostWithVotes(post={}, votes={})",
            self.post().__repr__(py)?,
            self.inner.votes
        ))
    }

    fn __hash__(&self) -> u64 {
        hash_of(&(self.inner.post.id, self.inner.votes))
    }
}

/// The tokens of a session, as `POST /login` and `POST /token/refresh`
/// answer them. Its `repr` hides both tokens.
#[pyclass(frozen, eq, module = "agora", name = "Token")]
#[derive(Clone)]
pub struct Token {
    pub(crate) inner: agora_core::schema::Token,
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.inner.access_token == other.inner.access_token
    }
}

#[pymethods]
impl Token {
    /// The signed JWT, for an `Authorization: Bearer <token>` header.
    #[getter]
    fn access_token(&self) -> &str {
        &self.inner.access_token
    }

    /// Always `"bearer"`.
    #[getter]
    fn token_type(&self) -> &str {
        &self.inner.token_type
    }

    /// Seconds until the access token expires.
    #[getter]
    fn expires_in(&self) -> u64 {
        self.inner.expires_in
    }

    /// The opaque refresh token of this session, for `refresh` (each one
    /// works once).
    #[getter]
    fn refresh_token(&self) -> &str {
        &self.inner.refresh_token
    }

    /// Seconds until the refresh token expires if unused.
    #[getter]
    fn refresh_expires_in(&self) -> u64 {
        self.inner.refresh_expires_in
    }

    /// `{"access_token", "token_type", "expires_in", "refresh_token",
    /// "refresh_expires_in"}`, as `POST /login` and `POST /token/refresh`
    /// answer.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "Token(access_token='<redacted>', token_type='{}', expires_in={}, \
             refresh_token='<redacted>', refresh_expires_in={})",
            self.inner.token_type, self.inner.expires_in, self.inner.refresh_expires_in
        )
    }

    fn __hash__(&self) -> u64 {
        hash_of(&self.inner.access_token)
    }
}

/// One of the user's active sessions, as `GET /sessions` lists it: `id`,
/// `created_at`, `last_used_at`, `expires_at` (aware UTC datetimes),
/// `user_agent` and `ip` (as given at login, or `None`), and `current`
/// (whether it is the session of the token that asked).
#[pyclass(frozen, eq, module = "agora", name = "Session")]
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: agora_core::schema::SessionInfo,
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.inner.session == other.inner.session && self.inner.current == other.inner.current
    }
}

#[pymethods]
impl Session {
    /// The session's id (hex), for `end_session`.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.session.id
    }

    /// When the session began: the login (timezone-aware, UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.session.created_at
    }

    /// When it was last refreshed, or created (timezone-aware, UTC).
    #[getter]
    fn last_used_at(&self) -> DateTime<Utc> {
        self.inner.session.last_used_at
    }

    /// Its absolute end, however often it is refreshed (timezone-aware, UTC).
    #[getter]
    fn expires_at(&self) -> DateTime<Utc> {
        self.inner.session.expires_at
    }

    /// The client's `User-Agent` at login, if known.
    #[getter]
    fn user_agent(&self) -> Option<&str> {
        self.inner.session.user_agent.as_deref()
    }

    /// The client's IP address at login, if known.
    #[getter]
    fn ip(&self) -> Option<&str> {
        self.inner.session.ip.as_deref()
    }

    /// Whether this is the session of the access token that listed it.
    #[getter]
    fn current(&self) -> bool {
        self.inner.current
    }

    /// `{"id", "created_at", "last_used_at", "expires_at", "user_agent",
    /// "ip", "current"}`, one entry of `GET /sessions`, with the times as
    /// ISO 8601 strings.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Session(id={}, created_at={}, current={})",
            repr_str(py, &self.inner.session.id)?,
            repr_str(py, &self.inner.session.created_at.to_rfc3339())?,
            if self.inner.current { "True" } else { "False" },
        ))
    }

    fn __hash__(&self) -> u64 {
        hash_of(&(&self.inner.session.id, self.inner.current))
    }
}

/// What a vote did: `added` (`True` for `dir=1`, `False` for `dir=0`),
/// `post_id`, and the HTTP API's `message`.
#[pyclass(frozen, eq, module = "agora", name = "VoteResult")]
#[derive(Clone, PartialEq)]
pub struct VoteResult {
    pub(crate) post_id: i64,
    pub(crate) outcome: agora_core::service::VoteOutcome,
}

#[pymethods]
impl VoteResult {
    /// The post voted on.
    #[getter]
    fn post_id(&self) -> i64 {
        self.post_id
    }

    /// `True` when a vote was added, `False` when one was removed.
    #[getter]
    fn added(&self) -> bool {
        self.outcome == agora_core::service::VoteOutcome::Added
    }

    /// `"successfully added vote"` or `"successfully deleted vote"`.
    #[getter]
    fn message(&self) -> String {
        self.outcome.message().message
    }

    /// `{"message": ...}`, the HTTP API's answer.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.outcome.message())
    }

    fn __repr__(&self) -> String {
        format!(
            "VoteResult(post_id={}, added={})",
            self.post_id,
            if self.added() { "True" } else { "False" }
        )
    }

    fn __hash__(&self) -> u64 {
        hash_of(&(self.post_id, self.added()))
    }
}
