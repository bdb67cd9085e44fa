//! `Agora` (blocking, GIL released while it waits) and `AsyncAgora`
//! (awaitables for asyncio), both over one [`agora_core::Agora`].
//!
//! Each operation is written once in [`ops`] as a future over core types;
//! the two classes only differ in how they wait for it.

use std::net::IpAddr;
use std::time::Duration;

use agora_core::crypto::jwt::TokenKeys;
use agora_core::domain::ClientInfo;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::settings::{self, DEFAULT_DATABASE_URL};
use crate::types::{Token, User, repr_str};
use crate::{block_on, into_awaitable};

/// Who performs a protected operation: a user obtained from this library, or
/// an access token that is authenticated first.
#[derive(Clone)]
pub(crate) enum Actor {
    /// An `agora.User` returned by `register`, `authenticate` or `get_user`.
    User(agora_core::User),
    /// An access token (`str` or `agora.Token`).
    Token(String),
}

impl Actor {
    fn extract(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(user) = value.cast::<User>() {
            return Ok(Actor::User(user.get().inner.clone()));
        }
        if let Ok(token) = value.cast::<Token>() {
            return Ok(Actor::Token(token.get().inner.access_token.clone()));
        }
        if let Ok(token) = value.cast::<PyString>() {
            return Ok(Actor::Token(token.to_cow()?.into_owned()));
        }
        Err(PyTypeError::new_err(
            "user must be an agora.User, an agora.Token or an access token (str)",
        ))
    }

    async fn resolve(
        self,
        agora: &agora_core::Agora,
    ) -> agora_core::error::Result<agora_core::Caller> {
        match self {
            Actor::User(user) => Ok(agora_core::Caller::acting_for(user)),
            Actor::Token(token) => agora.authenticate(&token).await,
        }
    }
}

/// The access token of the session a session-management call acts on
/// (`logout`, `sessions`, `change_password`, ...): a `str` or an
/// `agora.Token`. A `User` is refused: these calls need the session, which
/// only the token names.
fn access_token_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(token) = value.cast::<Token>() {
        return Ok(token.get().inner.access_token.clone());
    }
    if let Ok(token) = value.cast::<PyString>() {
        return Ok(token.to_cow()?.into_owned());
    }
    Err(PyTypeError::new_err(
        "token must be an agora.Token or an access token (str); \
         session calls need the session's token, not an agora.User",
    ))
}

/// Who is calling `register`, `login` or `refresh`, for Agora's throttling (per client
/// IP and per account) and audit log: `client_ip` as the web framework saw
/// it (e.g. FastAPI's `request.client.host`), `user_agent` its header.
fn client_info(client_ip: Option<&str>, user_agent: Option<&str>) -> PyResult<ClientInfo> {
    let ip = client_ip
        .map(|raw| {
            raw.trim().parse::<IpAddr>().map_err(|_| {
                PyValueError::new_err(format!("client_ip: {raw:?} is not an IP address"))
            })
        })
        .transpose()?;
    Ok(ClientInfo::from_request(ip, None, user_agent))
}

/// The paging arguments of `list_posts`, as Python passed them.
pub(crate) struct Page {
    limit: i64,
    skip: i64,
    after: Option<i64>,
    search: String,
}

/// The operations, as futures over an owned core service (so they are
/// `'static` and can run on the runtime while Python goes on).
mod ops {
    use agora_core::Agora;
    use agora_core::domain::ClientInfo;
    use agora_core::error::Result;
    use agora_core::schema::{
        AccountDeletion, ListQuery, LoginRequest, PasswordChange, PostCreate, RefreshRequest,
        UserCreate, VoteRequest,
    };

    use super::{Actor, Page};
    use crate::types::{Post, PostWithVotes, Session, Token, User, VoteResult};

    pub async fn register(
        agora: Agora,
        email: String,
        password: String,
        client: ClientInfo,
    ) -> Result<User> {
        let inner = agora
            .register(UserCreate { email, password }, &client)
            .await?;
        Ok(User { inner })
    }

    pub async fn login(
        agora: Agora,
        email: String,
        password: String,
        client: ClientInfo,
    ) -> Result<Token> {
        let inner = agora
            .login(LoginRequest { email, password }, &client)
            .await?;
        Ok(Token { inner })
    }

    pub async fn refresh(agora: Agora, refresh_token: String, client: ClientInfo) -> Result<Token> {
        let inner = agora
            .refresh(RefreshRequest { refresh_token }, &client)
            .await?;
        Ok(Token { inner })
    }

    pub async fn logout(agora: Agora, access_token: String) -> Result<()> {
        agora
            .logout(&agora.authenticate(&access_token).await?)
            .await
    }

    pub async fn logout_all(agora: Agora, access_token: String) -> Result<u64> {
        agora
            .logout_all(&agora.authenticate(&access_token).await?)
            .await
    }

    pub async fn sessions(agora: Agora, access_token: String) -> Result<Vec<Session>> {
        let sessions = agora
            .sessions(&agora.authenticate(&access_token).await?)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|inner| Session { inner })
            .collect())
    }

    pub async fn end_session(agora: Agora, access_token: String, session_id: String) -> Result<()> {
        agora
            .end_session(&agora.authenticate(&access_token).await?, &session_id)
            .await
    }

    pub async fn change_password(
        agora: Agora,
        access_token: String,
        current_password: String,
        new_password: String,
    ) -> Result<()> {
        let change = PasswordChange {
            current_password,
            new_password,
        };
        agora
            .change_password(&agora.authenticate(&access_token).await?, change)
            .await
    }

    pub async fn delete_account(
        agora: Agora,
        access_token: String,
        password: String,
    ) -> Result<()> {
        agora
            .delete_account(
                &agora.authenticate(&access_token).await?,
                AccountDeletion { password },
            )
            .await
    }

    pub async fn authenticate(agora: Agora, access_token: String) -> Result<User> {
        let inner = agora.authenticate(&access_token).await?.into_user();
        Ok(User { inner })
    }

    pub async fn get_user(agora: Agora, id: i64) -> Result<User> {
        let inner = agora.get_user(agora_core::UserId(id)).await?;
        Ok(User { inner })
    }

    pub async fn health(agora: Agora) -> Result<()> {
        agora.health().await
    }

    pub async fn create_post(agora: Agora, actor: Actor, post: PostCreate) -> Result<Post> {
        let viewer = actor.resolve(&agora).await?;
        let inner = agora.create_post(&viewer, post).await?;
        Ok(Post { inner })
    }

    pub async fn get_post(agora: Agora, actor: Actor, id: i64) -> Result<PostWithVotes> {
        let viewer = actor.resolve(&agora).await?;
        let inner = agora.get_post(&viewer, agora_core::PostId(id)).await?;
        Ok(PostWithVotes { inner })
    }

    /// The paging arguments go through the core's one query constructor,
    /// so their bounds and error messages are exactly those of `GET /posts`;
    /// like the HTTP API, the caller is authenticated first.
    pub async fn list_posts(agora: Agora, actor: Actor, page: Page) -> Result<Vec<PostWithVotes>> {
        let viewer = actor.resolve(&agora).await?;
        let query = ListQuery::new(page.limit, page.skip, page.after, page.search)?;
        let posts = agora.list_posts(&viewer, query).await?;
        Ok(posts
            .into_iter()
            .map(|inner| PostWithVotes { inner })
            .collect())
    }

    pub async fn update_post(
        agora: Agora,
        actor: Actor,
        id: i64,
        post: PostCreate,
    ) -> Result<Post> {
        let viewer = actor.resolve(&agora).await?;
        let inner = agora
            .update_post(&viewer, agora_core::PostId(id), post)
            .await?;
        Ok(Post { inner })
    }

    pub async fn delete_post(agora: Agora, actor: Actor, id: i64) -> Result<()> {
        let viewer = actor.resolve(&agora).await?;
        agora.delete_post(&viewer, agora_core::PostId(id)).await
    }

    pub async fn vote(agora: Agora, actor: Actor, post_id: i64, dir: i64) -> Result<VoteResult> {
        let viewer = actor.resolve(&agora).await?;
        let outcome = agora.vote(&viewer, VoteRequest { post_id, dir }).await?;
        Ok(VoteResult { post_id, outcome })
    }
}

/// What both classes hold: the core service, token keys for
/// `verify_token`, and the normalised database URL.
struct Shared {
    agora: agora_core::Agora,
    tokens: TokenKeys,
    database_url: String,
}

impl Shared {
    fn open(
        py: Python<'_>,
        database_url: &str,
        jwt_secret: Option<&Bound<'_, PyAny>>,
        access_token_ttl: Option<&Bound<'_, PyAny>>,
        refresh_reuse_grace: Option<&Bound<'_, PyAny>>,
        throttle: bool,
        hide_emails: bool,
    ) -> PyResult<Self> {
        let config = settings::config(
            database_url,
            settings::secret_arg(jwt_secret)?,
            settings::ttl_arg(access_token_ttl)?,
            settings::grace_arg(refresh_reuse_grace)?,
            throttle,
            hide_emails,
        )?;
        let agora = settings::open(py, &config)?;
        // The same keys, issuer and audience as the service verifies with.
        let tokens = TokenKeys::from_config(&config).map_err(crate::errors::config_err)?;
        Ok(Shared {
            agora,
            tokens,
            database_url: agora_sqlx::redact_password(&config.database_url),
        })
    }

    fn verify_token(&self, py: Python<'_>, access_token: &str) -> PyResult<i64> {
        self.tokens
            .verify(access_token)
            .map(|claims| claims.user_id)
            .map_err(|e| crate::to_py_err(py, e))
    }

    fn access_token_ttl(&self) -> Duration {
        self.tokens.ttl()
    }
}

fn post_create(title: String, content: String, published: bool) -> agora_core::schema::PostCreate {
    agora_core::schema::PostCreate {
        title,
        content,
        published,
    }
}

/// Agora's services for synchronous Python code: users, login, tokens,
/// posts and votes over a SQLite database.
///
/// `database_url` defaults to `sqlite:///agora.db` (`agora.db` in the working
/// directory, created and migrated on first use). SQLite URLs follow
/// SQLAlchemy: `sqlite:///relative.db`, `sqlite:////absolute.db`,
/// `sqlite://` for in-memory; sqlx's `sqlite://relative.db` works too.
///
/// `jwt_secret` (`str` or `bytes`, at least 32 bytes) signs access tokens;
/// with `None` a secret is generated once and kept in `<database>.jwt-secret`
/// (mode 0600) so tokens survive restarts. `access_token_ttl` is the token
/// lifetime in seconds (`int`) or a `datetime.timedelta`; 30 minutes by default.
/// `refresh_reuse_grace` (seconds or a `timedelta`, 10 seconds by default)
/// is how long after a refresh token was exchanged a client retrying
/// concurrently may exchange it again; a replay after that ends the session.
/// `throttle=False` turns off login and registration throttling (for test
/// suites that sign up many users from one address).
///
/// One instance is safe to share across threads. Every method releases the
/// GIL while it hashes or waits for the database, so threads run in parallel.
/// Methods that the HTTP API protects take the acting `user` first: an
/// `agora.User` from this library, or an access token (`str` or `agora.Token`).
/// Session calls (`logout`, `logout_all`, `sessions`, `end_session`,
/// `change_password`, `delete_account`) take the access `token` itself, since
/// they act on its session.
#[pyclass(frozen, module = "agora", name = "Agora")]
pub struct Agora {
    shared: Shared,
}

#[pymethods]
impl Agora {
    #[new]
    #[pyo3(signature = (database_url = DEFAULT_DATABASE_URL, *, jwt_secret = None, access_token_ttl = None, refresh_reuse_grace = None, throttle = true, hide_emails = false),
           text_signature = "(database_url='sqlite:///agora.db', *, jwt_secret=None, access_token_ttl=None, refresh_reuse_grace=None, throttle=True, hide_emails=False)")]
    fn new(
        py: Python<'_>,
        database_url: &str,
        jwt_secret: Option<&Bound<'_, PyAny>>,
        access_token_ttl: Option<&Bound<'_, PyAny>>,
        refresh_reuse_grace: Option<&Bound<'_, PyAny>>,
        throttle: bool,
        hide_emails: bool,
    ) -> PyResult<Self> {
        Ok(Agora {
            shared: Shared::open(
                py,
                database_url,
                jwt_secret,
                access_token_ttl,
                refresh_reuse_grace,
                throttle,
                hide_emails,
            )?,
        })
    }

    /// The database URL in use (as sqlx reads it, password redacted).
    #[getter]
    fn database_url(&self) -> &str {
        &self.shared.database_url
    }

    /// The access token lifetime.
    #[getter]
    fn access_token_ttl(&self) -> Duration {
        self.shared.access_token_ttl()
    }

    /// Registers a user. Raises `ValidationError` for a bad email or a
    /// password outside 8..=128 characters, `Conflict` for a taken email
    /// (case-insensitive), `RateLimited` when `client_ip` registers too often.
    #[pyo3(signature = (email, password, *, client_ip = None, user_agent = None))]
    fn register(
        &self,
        py: Python<'_>,
        email: String,
        password: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<User> {
        let client = client_info(client_ip, user_agent)?;
        block_on(
            py,
            ops::register(self.shared.agora.clone(), email, password, client),
        )
    }

    /// Checks an email and password, starts a session and issues its access
    /// and refresh tokens. Raises `InvalidCredentials` for an unknown email
    /// or a wrong password alike, `RateLimited` after repeated failures for
    /// the account or for `client_ip`. Pass the caller's `client_ip` (and
    /// `user_agent`) from a web app so throttling works per client.
    #[pyo3(signature = (email, password, *, client_ip = None, user_agent = None))]
    fn login(
        &self,
        py: Python<'_>,
        email: String,
        password: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<Token> {
        let client = client_info(client_ip, user_agent)?;
        block_on(
            py,
            ops::login(self.shared.agora.clone(), email, password, client),
        )
    }

    /// Exchanges a refresh token for a new `Token` (new access and refresh
    /// tokens: rotation). Each refresh token works once: replaying one that
    /// was already exchanged, after the `refresh_reuse_grace` window, ends
    /// the whole session. Raises `Unauthorized` for an unknown, expired,
    /// replayed or ended refresh token, and for an access token.
    #[pyo3(signature = (refresh_token, *, client_ip = None, user_agent = None))]
    fn refresh(
        &self,
        py: Python<'_>,
        refresh_token: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<Token> {
        let client = client_info(client_ip, user_agent)?;
        block_on(
            py,
            ops::refresh(self.shared.agora.clone(), refresh_token, client),
        )
    }

    /// Ends the session of `token` (an access token, `str` or `agora.Token`):
    /// its refresh token and every access token of the session stop working.
    /// Raises `Unauthorized`.
    fn logout(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<()> {
        let token = access_token_arg(token)?;
        block_on(py, ops::logout(self.shared.agora.clone(), token))
    }

    /// Ends every session of `token`'s user, this one included, and returns
    /// how many were ended. Raises `Unauthorized`.
    fn logout_all(&self, py: Python<'_>, token: &Bound<'_, PyAny>) -> PyResult<u64> {
        let token = access_token_arg(token)?;
        block_on(py, ops::logout_all(self.shared.agora.clone(), token))
    }

    /// The active sessions of `token`'s user, newest first; `current` marks
    /// the session of `token`. Raises `Unauthorized`.
    fn sessions(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<crate::types::Session>> {
        let token = access_token_arg(token)?;
        block_on(py, ops::sessions(self.shared.agora.clone(), token))
    }

    /// Ends one of `token`'s user's sessions by id (see `sessions`). Raises
    /// `NotFound` when it is not an active session of theirs, `Unauthorized`.
    fn end_session(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        session_id: String,
    ) -> PyResult<()> {
        let token = access_token_arg(token)?;
        block_on(
            py,
            ops::end_session(self.shared.agora.clone(), token, session_id),
        )
    }

    /// Changes the password of `token`'s user after checking the current one;
    /// every other session of the user ends, this one goes on. Raises
    /// `InvalidCredentials` for a wrong `current_password`, `ValidationError`
    /// for a `new_password` the rules refuse (length, common passwords),
    /// `Unauthorized`.
    fn change_password(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        current_password: String,
        new_password: String,
    ) -> PyResult<()> {
        let token = access_token_arg(token)?;
        block_on(
            py,
            ops::change_password(
                self.shared.agora.clone(),
                token,
                current_password,
                new_password,
            ),
        )
    }

    /// Deletes `token`'s user after checking their `password`, with their
    /// posts, votes and sessions: every token of theirs is refused afterwards.
    /// Raises `InvalidCredentials` for a wrong password, `Unauthorized`.
    fn delete_account(
        &self,
        py: Python<'_>,
        token: &Bound<'_, PyAny>,
        password: String,
    ) -> PyResult<()> {
        let token = access_token_arg(token)?;
        block_on(
            py,
            ops::delete_account(self.shared.agora.clone(), token, password),
        )
    }

    /// The user an access token belongs to. Raises `Unauthorized` for any
    /// invalid, expired or tampered token, or the token of a deleted user.
    fn authenticate(&self, py: Python<'_>, access_token: String) -> PyResult<User> {
        block_on(
            py,
            ops::authenticate(self.shared.agora.clone(), access_token),
        )
    }

    /// Checks an access token's signature, algorithm and expiry only, without
    /// a database look-up, and returns its user id. Raises `Unauthorized`.
    /// It does not notice a deleted user: prefer `authenticate`.
    fn verify_token(&self, py: Python<'_>, access_token: &str) -> PyResult<i64> {
        self.shared.verify_token(py, access_token)
    }

    /// A user by id. Raises `NotFound`.
    fn get_user(&self, py: Python<'_>, id: i64) -> PyResult<User> {
        block_on(py, ops::get_user(self.shared.agora.clone(), id))
    }

    /// Returns when the database answers; raises `Unavailable` otherwise.
    fn health(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, ops::health(self.shared.agora.clone()))
    }

    /// Creates a post owned by `user`. Raises `ValidationError` for a blank
    /// or oversized title (300 characters) or content (10,000).
    #[pyo3(signature = (user, title, content, published = true))]
    fn create_post(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        title: String,
        content: String,
        published: bool,
    ) -> PyResult<crate::types::Post> {
        let actor = Actor::extract(user)?;
        let post = post_create(title, content, published);
        block_on(py, ops::create_post(self.shared.agora.clone(), actor, post))
    }

    /// One post with its votes. Someone else's unpublished post raises
    /// `NotFound`, exactly like a missing one.
    fn get_post(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        id: i64,
    ) -> PyResult<crate::types::PostWithVotes> {
        let actor = Actor::extract(user)?;
        block_on(py, ops::get_post(self.shared.agora.clone(), actor, id))
    }

    /// Posts visible to `user`, newest first: `limit` 1..=100, `skip` >= 0,
    /// `search` a case-insensitive substring of the title (empty: all).
    /// `after=<id>` (keyset paging) lists only posts with a smaller id: pass
    /// the last id of a page to get the next one as fast as the first.
    #[pyo3(signature = (user, limit = 10, skip = 0, search = "", *, after = None))]
    fn list_posts(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        limit: i64,
        skip: i64,
        search: &str,
        after: Option<i64>,
    ) -> PyResult<Vec<crate::types::PostWithVotes>> {
        let actor = Actor::extract(user)?;
        block_on(
            py,
            ops::list_posts(
                self.shared.agora.clone(),
                actor,
                Page {
                    limit,
                    skip,
                    after,
                    search: search.to_owned(),
                },
            ),
        )
    }

    /// Replaces a post's title, content and visibility. Raises `NotFound`,
    /// `Forbidden` (not the owner) or `ValidationError`.
    #[pyo3(signature = (user, id, title, content, published = true))]
    fn update_post(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        id: i64,
        title: String,
        content: String,
        published: bool,
    ) -> PyResult<crate::types::Post> {
        let actor = Actor::extract(user)?;
        let post = post_create(title, content, published);
        block_on(
            py,
            ops::update_post(self.shared.agora.clone(), actor, id, post),
        )
    }

    /// Deletes a post and its votes. Raises `NotFound` or `Forbidden`.
    fn delete_post(&self, py: Python<'_>, user: &Bound<'_, PyAny>, id: i64) -> PyResult<()> {
        let actor = Actor::extract(user)?;
        block_on(py, ops::delete_post(self.shared.agora.clone(), actor, id))
    }

    /// `dir=1` adds `user`'s vote (`Conflict` if already there), `dir=0`
    /// removes it (`NotFound` if there was none). An unknown or invisible
    /// post raises `NotFound`; any other `dir` raises `ValidationError`.
    fn vote(
        &self,
        py: Python<'_>,
        user: &Bound<'_, PyAny>,
        post_id: i64,
        dir: i64,
    ) -> PyResult<crate::types::VoteResult> {
        let actor = Actor::extract(user)?;
        block_on(
            py,
            ops::vote(self.shared.agora.clone(), actor, post_id, dir),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Agora(database_url={})",
            repr_str(py, &self.shared.database_url)?
        ))
    }
}

/// The asyncio flavour of `Agora` (private: `agora.AsyncAgora` wraps it in
/// coroutines). Every method returns an awaitable resolved on the shared
/// tokio runtime; the event loop never blocks.
#[pyclass(frozen, module = "agora._agora", name = "AsyncAgora")]
pub struct AsyncAgora {
    shared: Shared,
}

#[pymethods]
impl AsyncAgora {
    #[new]
    #[pyo3(signature = (database_url = DEFAULT_DATABASE_URL, *, jwt_secret = None, access_token_ttl = None, refresh_reuse_grace = None, throttle = true, hide_emails = false),
           text_signature = "(database_url='sqlite:///agora.db', *, jwt_secret=None, access_token_ttl=None, refresh_reuse_grace=None, throttle=True, hide_emails=False)")]
    fn new(
        py: Python<'_>,
        database_url: &str,
        jwt_secret: Option<&Bound<'_, PyAny>>,
        access_token_ttl: Option<&Bound<'_, PyAny>>,
        refresh_reuse_grace: Option<&Bound<'_, PyAny>>,
        throttle: bool,
        hide_emails: bool,
    ) -> PyResult<Self> {
        Ok(AsyncAgora {
            shared: Shared::open(
                py,
                database_url,
                jwt_secret,
                access_token_ttl,
                refresh_reuse_grace,
                throttle,
                hide_emails,
            )?,
        })
    }

    /// The database URL in use (as sqlx reads it, password redacted).
    #[getter]
    fn database_url(&self) -> &str {
        &self.shared.database_url
    }

    /// The access token lifetime.
    #[getter]
    fn access_token_ttl(&self) -> Duration {
        self.shared.access_token_ttl()
    }

    /// Awaitable `Agora.register`.
    #[pyo3(signature = (email, password, *, client_ip = None, user_agent = None))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = client_info(client_ip, user_agent)?;
        into_awaitable(
            py,
            ops::register(self.shared.agora.clone(), email, password, client),
        )
    }

    /// Awaitable `Agora.login`.
    #[pyo3(signature = (email, password, *, client_ip = None, user_agent = None))]
    fn login<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = client_info(client_ip, user_agent)?;
        into_awaitable(
            py,
            ops::login(self.shared.agora.clone(), email, password, client),
        )
    }

    /// Awaitable `Agora.refresh`.
    #[pyo3(signature = (refresh_token, *, client_ip = None, user_agent = None))]
    fn refresh<'py>(
        &self,
        py: Python<'py>,
        refresh_token: String,
        client_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = client_info(client_ip, user_agent)?;
        into_awaitable(
            py,
            ops::refresh(self.shared.agora.clone(), refresh_token, client),
        )
    }

    /// Awaitable `Agora.logout`.
    fn logout<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(py, ops::logout(self.shared.agora.clone(), token))
    }

    /// Awaitable `Agora.logout_all`.
    fn logout_all<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(py, ops::logout_all(self.shared.agora.clone(), token))
    }

    /// Awaitable `Agora.sessions`.
    fn sessions<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(py, ops::sessions(self.shared.agora.clone(), token))
    }

    /// Awaitable `Agora.end_session`.
    fn end_session<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        session_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(
            py,
            ops::end_session(self.shared.agora.clone(), token, session_id),
        )
    }

    /// Awaitable `Agora.change_password`.
    fn change_password<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        current_password: String,
        new_password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(
            py,
            ops::change_password(
                self.shared.agora.clone(),
                token,
                current_password,
                new_password,
            ),
        )
    }

    /// Awaitable `Agora.delete_account`.
    fn delete_account<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let token = access_token_arg(token)?;
        into_awaitable(
            py,
            ops::delete_account(self.shared.agora.clone(), token, password),
        )
    }

    /// Awaitable `Agora.authenticate`.
    fn authenticate<'py>(
        &self,
        py: Python<'py>,
        access_token: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        into_awaitable(
            py,
            ops::authenticate(self.shared.agora.clone(), access_token),
        )
    }

    /// `Agora.verify_token` (no I/O, so not awaitable).
    fn verify_token(&self, py: Python<'_>, access_token: &str) -> PyResult<i64> {
        self.shared.verify_token(py, access_token)
    }

    /// Awaitable `Agora.get_user`.
    fn get_user<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        into_awaitable(py, ops::get_user(self.shared.agora.clone(), id))
    }

    /// Awaitable `Agora.health`.
    fn health<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        into_awaitable(py, ops::health(self.shared.agora.clone()))
    }

    /// Awaitable `Agora.create_post`.
    #[pyo3(signature = (user, title, content, published = true))]
    fn create_post<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        title: String,
        content: String,
        published: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        let post = post_create(title, content, published);
        into_awaitable(py, ops::create_post(self.shared.agora.clone(), actor, post))
    }

    /// Awaitable `Agora.get_post`.
    fn get_post<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        into_awaitable(py, ops::get_post(self.shared.agora.clone(), actor, id))
    }

    /// Awaitable `Agora.list_posts`.
    #[pyo3(signature = (user, limit = 10, skip = 0, search = "", *, after = None))]
    fn list_posts<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        limit: i64,
        skip: i64,
        search: &str,
        after: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        into_awaitable(
            py,
            ops::list_posts(
                self.shared.agora.clone(),
                actor,
                Page {
                    limit,
                    skip,
                    after,
                    search: search.to_owned(),
                },
            ),
        )
    }

    /// Awaitable `Agora.update_post`.
    #[pyo3(signature = (user, id, title, content, published = true))]
    fn update_post<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        id: i64,
        title: String,
        content: String,
        published: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        let post = post_create(title, content, published);
        into_awaitable(
            py,
            ops::update_post(self.shared.agora.clone(), actor, id, post),
        )
    }

    /// Awaitable `Agora.delete_post`.
    fn delete_post<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        into_awaitable(py, ops::delete_post(self.shared.agora.clone(), actor, id))
    }

    /// Awaitable `Agora.vote`.
    fn vote<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        post_id: i64,
        dir: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = Actor::extract(user)?;
        into_awaitable(
            py,
            ops::vote(self.shared.agora.clone(), actor, post_id, dir),
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "AsyncAgora(database_url={})",
            repr_str(py, &self.shared.database_url)?
        ))
    }
}
