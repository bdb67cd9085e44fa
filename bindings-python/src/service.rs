//! `Agora` (blocking, GIL released while it waits) and `AsyncAgora`
//! (awaitables for asyncio), both generated from the one list of operations
//! at the end of this file.
//!
//! Each operation is written once, as a block that converts its arguments
//! and returns a future over the core service; [`service_class!`] emits it
//! into both classes, which differ only in how they wait for that future
//! ([`blocking`] or [`awaitable`]).

use std::any::TypeId;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use agora_core::crypto::jwt::TokenKeys;
use agora_core::domain::{ClientInfo, CommentId};
use agora_core::schema::{
    AccountDeletion, CommentCreate, EmailRequest, ListQuery, LoginRequest, PasswordChange,
    PostCreate, ProfileUpdate, RefreshRequest, ResetPasswordRequest, UserCreate, VerifyRequest,
    VoteRequest,
};
use agora_core::{Caller, FieldError, PostId, UserId};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};
use pyo3::{Borrowed, IntoPyObjectExt};

use crate::block_on;
use crate::settings::{self, Front, Settings};
use crate::types::{
    Comment, Post, PostWithVotes, Profile, Session, TagCount, Token, User, Vote, VoteResult,
    repr_str,
};

/// The access token in `value` (`str` or `agora.Token`), if it holds one.
fn access_token(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if let Ok(token) = value.cast::<Token>() {
        return Ok(Some(token.get().inner.access_token.clone()));
    }
    if let Ok(token) = value.cast::<PyString>() {
        // A token UTF-8 cannot hold (a lone surrogate) is no token Agora
        // issued: it stays invalid (`Unauthorized`) with the replacement
        // character, rather than raising `UnicodeEncodeError`.
        return Ok(Some(token.to_string_lossy().into_owned()));
    }
    Ok(None)
}

/// Who performs a protected operation (the `user` argument): an
/// `agora.User` from this library acts as that user; an access token
/// (`str` or `agora.Token`) is authenticated first.
pub(crate) enum Actor {
    /// An `agora.User` returned by `register`, `authenticate` or `get_user`.
    User(agora_core::User),
    /// An access token.
    Token(String),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Actor {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(user) = value.cast::<User>() {
            return Ok(Actor::User(user.get().inner.clone()));
        }
        access_token(&value)?.map(Actor::Token).ok_or_else(|| {
            PyTypeError::new_err(
                "user must be an agora.User, an agora.Token or an access token (str)",
            )
        })
    }
}

impl Actor {
    /// The caller the core service acts for.
    async fn resolve(self, agora: &agora_core::Agora) -> agora_core::error::Result<Caller> {
        match self {
            Actor::User(user) => Ok(Caller::acting_for(user)),
            Actor::Token(token) => agora.authenticate(&token).await,
        }
    }
}

/// The viewer of a read (`user` may be `None`: anonymous, as over HTTP
/// without a token); an actor is resolved as [`Actor::resolve`] does.
async fn viewer(
    agora: &agora_core::Agora,
    user: Option<Actor>,
) -> agora_core::error::Result<Option<Caller>> {
    match user {
        Some(actor) => actor.resolve(agora).await.map(Some),
        None => Ok(None),
    }
}

/// The access token of the session a session call acts on (the `token`
/// argument of `logout`, `sessions`, `change_password`, ...): a `str` or an
/// `agora.Token`. A `User` is refused: these calls need the session, which
/// only the token names.
pub(crate) struct SessionToken(String);

impl<'a, 'py> FromPyObject<'a, 'py> for SessionToken {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        access_token(&value)?.map(SessionToken).ok_or_else(|| {
            PyTypeError::new_err(
                "token must be an agora.Token or an access token (str); \
                 session calls need the session's token, not an agora.User",
            )
        })
    }
}

/// The access token `authenticate` checks: a `str` or an `agora.Token`.
pub(crate) struct AccessToken(String);

impl<'a, 'py> FromPyObject<'a, 'py> for AccessToken {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        access_token(&value)?.map(AccessToken).ok_or_else(|| {
            PyTypeError::new_err("access_token must be an agora.Token or an access token (str)")
        })
    }
}

/// Who is calling `register`, `login` or `refresh`, for Agora's throttling
/// (per client IP and per account) and audit log: `client_ip` as the web
/// framework saw it (e.g. FastAPI's `request.client.host`, checked by
/// [`ClientIp`]), `user_agent` its header.
fn client_info(client_ip: Option<IpAddr>, user_agent: Option<&str>) -> ClientInfo {
    ClientInfo::from_request(client_ip, None, user_agent)
}

/// The field error of an argument the caller got wrong, at `loc`: where it
/// sits (`"path"`, `"query"`, `"body"`, as the HTTP API reports the same
/// value) and the argument's name.
fn field_error(place: Option<&str>, name: &str, msg: &str, kind: &str) -> FieldError {
    match place {
        Some(place) => FieldError::new(&[place, name], msg, kind),
        None => FieldError::new(&[name], msg, kind),
    }
}

/// How an argument of an operation becomes the value its block uses,
/// once pyo3 has extracted it: every argument goes through
/// [`Arg::finish`] in the generated method (with its name), and the
/// problems of all arguments are raised together as one
/// `ValidationError` before the block runs. Most types are used as
/// extracted; [`Int`] and [`ClientIp`] check what pyo3 cannot (a Python
/// `int` outside `i64`, a `client_ip` that is not an address), so every
/// value a caller can pass ends as the value or an `AgoraError`.
pub(crate) trait Arg: Sized {
    /// What the operation's block sees.
    type Value;
    /// The value, or a placeholder after pushing what is wrong with it to
    /// `invalid` (the block does not run then).
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Self::Value;
}

/// Arguments used as pyo3 extracts them.
macro_rules! plain_args {
    ($($ty:ty),* $(,)?) => {$(
        impl Arg for $ty {
            type Value = Self;
            fn finish(self, _: &str, _: &mut Vec<FieldError>) -> Self {
                self
            }
        }
    )*};
}

plain_args!(bool, Actor, Option<Actor>, SessionToken, AccessToken);

/// Where an integer argument sits in the HTTP API: the `loc` prefix of its
/// field error, and the words the Rust servers use for an integer they
/// cannot take there.
pub(crate) trait Place {
    /// `"path"`, `"query"` or `"body"`.
    const PLACE: &'static str;
    /// `msg` and `type` of the field error.
    const ERROR: (&'static str, &'static str);
}

/// A path segment such as the `{id}` of `/posts/{id}`.
pub(crate) struct Path;
/// A query parameter such as `limit`.
pub(crate) struct Query;
/// A field of a JSON body such as `post_id` of `POST /vote`.
pub(crate) struct Body;

/// What `agora_core::schema::parse_path_id` and `ListQuery::parse` answer
/// for a value that is no `i64`.
const INT_PARSING: (&str, &str) = (
    "Input should be a valid integer, unable to parse string as an integer",
    "int_parsing",
);

impl Place for Path {
    const PLACE: &'static str = "path";
    const ERROR: (&'static str, &'static str) = INT_PARSING;
}

impl Place for Query {
    const PLACE: &'static str = "query";
    const ERROR: (&'static str, &'static str) = INT_PARSING;
}

impl Place for Body {
    const PLACE: &'static str = "body";
    // What `agora_core::schema::parse_json` answers for a JSON number
    // that is no `i64`.
    const ERROR: (&'static str, &'static str) = ("Input should be a valid integer", "int_type");
}

/// An integer argument (ids, `limit`, `skip`, `after`, `dir`): any Python
/// `int` is taken, and one outside the 64-bit range Agora's ids and bounds
/// live in (`-2**63 <= n < 2**63`) is a `ValidationError` at
/// `[P::PLACE, <argument>]`, as the HTTP API answers for the same value,
/// instead of pyo3's `OverflowError`. Anything else raises `TypeError`.
pub(crate) struct Int<P> {
    value: Option<i64>,
    place: std::marker::PhantomData<P>,
}

impl<'a, 'py, P> FromPyObject<'a, 'py> for Int<P> {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let value = match value.extract::<i64>() {
            Ok(n) => Some(n),
            Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => None,
            Err(e) => return Err(e),
        };
        Ok(Int {
            value,
            place: std::marker::PhantomData,
        })
    }
}

impl<P> Int<P> {
    /// A default value of the signature.
    const fn of(value: i64) -> Self {
        Int {
            value: Some(value),
            place: std::marker::PhantomData,
        }
    }
}

impl<P: Place> Arg for Int<P> {
    type Value = i64;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> i64 {
        self.value.unwrap_or_else(|| {
            let (msg, kind) = P::ERROR;
            invalid.push(field_error(Some(P::PLACE), name, msg, kind));
            0
        })
    }
}

impl<P: Place> Arg for Option<Int<P>> {
    type Value = Option<i64>;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Option<i64> {
        self.map(|n| n.finish(name, invalid))
    }
}

/// `client_ip`: the caller's address as text (`"203.0.113.7"`, `"::1"`);
/// anything else is a `ValidationError` at `["client_ip"]`.
pub(crate) struct ClientIp(String);

impl<'a, 'py> FromPyObject<'a, 'py> for ClientIp {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        // Lossy: text UTF-8 cannot hold is no address either (refused below).
        Ok(ClientIp(
            value.cast::<PyString>()?.to_string_lossy().into_owned(),
        ))
    }
}

impl Arg for Option<ClientIp> {
    type Value = Option<IpAddr>;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Option<IpAddr> {
        let raw = self?.0;
        match raw.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                invalid.push(field_error(
                    None,
                    name,
                    "value is not a valid IPv4 or IPv6 address",
                    "ip_any_address",
                ));
                None
            }
        }
    }
}

/// A field of `update_profile`: omitted (or `...`) keeps it, `None` clears
/// it, a `str` replaces it.
#[derive(Default)]
pub(crate) struct Change(Option<Option<Text>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Change {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if value.is(value.py().Ellipsis()) {
            return Ok(Change(None));
        }
        Ok(Change(Some(value.extract()?)))
    }
}

impl Arg for Change {
    type Value = Option<Option<String>>;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Self::Value {
        self.0.map(|change| change.finish(name, invalid))
    }
}

/// A text argument: any Python `str`; one that UTF-8 cannot hold (a lone
/// surrogate such as `"\ud800"`, which `json.loads` lets through) is a
/// `ValidationError` at `[<argument>]` instead of pyo3's
/// `UnicodeEncodeError`. Anything else raises `TypeError`.
pub(crate) struct Text(Option<String>);

impl Text {
    /// A default value of the signature.
    fn of(value: &str) -> Self {
        Text(Some(value.to_owned()))
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Text {
    type Error = PyErr;

    fn extract(value: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match value.extract::<String>() {
            Ok(text) => Ok(Text(Some(text))),
            Err(e) if e.is_instance_of::<PyUnicodeEncodeError>(value.py()) => Ok(Text(None)),
            Err(e) => Err(e),
        }
    }
}

impl Arg for Text {
    type Value = String;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> String {
        self.0.unwrap_or_else(|| {
            invalid.push(field_error(
                None,
                name,
                "Input should be a valid string, unable to parse raw data as a unicode string",
                "string_unicode",
            ));
            String::new()
        })
    }
}

impl Arg for Option<Text> {
    type Value = Option<String>;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Option<String> {
        self.map(|text| text.finish(name, invalid))
    }
}

impl Arg for Option<Vec<Text>> {
    type Value = Option<Vec<String>>;
    fn finish(self, name: &str, invalid: &mut Vec<FieldError>) -> Option<Vec<String>> {
        self.map(|texts| texts.into_iter().map(|t| t.finish(name, invalid)).collect())
    }
}

/// An operation's result as Python sees it: `None` for `()` (pyo3 alone
/// would give an empty tuple), else the value's own conversion.
struct Answer<T>(T);

impl<'py, T: IntoPyObject<'py> + 'static> IntoPyObject<'py> for Answer<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            return Ok(py.None().into_bound(py));
        }
        self.0.into_bound_py_any(py)
    }
}

/// How `Agora` waits for an operation: on the shared runtime with the GIL
/// released.
fn blocking<'py, T, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = agora_core::error::Result<T>> + Send,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    Answer(block_on(py, future)?).into_bound_py_any(py)
}

/// How `AsyncAgora` waits for an operation: it does not; it hands out an
/// asyncio awaitable that the shared runtime resolves (cancelling the
/// awaitable drops the future).
fn awaitable<'py, T, F>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = agora_core::error::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<crate::ProcessRuntime, _, _>(py, async move {
        match future.await {
            Ok(value) => Ok(Answer(value)),
            Err(e) => Err(Python::attach(|py| crate::to_py_err(py, e))),
        }
    })
}

/// What both classes hold: the core service, token keys for
/// `verify_token`, and the normalised database URL.
struct Shared {
    agora: agora_core::Agora,
    tokens: TokenKeys,
    database_url: String,
    /// The process that created the instance (`std::process::id()`).
    pid: u32,
}

impl Shared {
    /// Opens the database and builds the service for `settings`.
    fn open(py: Python<'_>, settings: &Settings) -> PyResult<Self> {
        crate::logging::refresh(py);
        let config = settings.config()?;
        let agora = settings.open(py, &config)?;
        let config = &config;
        // The same keys, issuer and audience as the service verifies with.
        let tokens = TokenKeys::from_config(&config.tokens).map_err(crate::errors::config_err)?;
        Ok(Shared {
            agora,
            tokens,
            database_url: agora_sqlx::redact_password(&config.server.database_url),
            pid: std::process::id(),
        })
    }

    /// Refuses at once a call in another process than the one that created
    /// the instance: a child of `fork()` has a copy of the instance but not
    /// the threads its database pool and timers run on, so a call could wait
    /// forever. Raises `agora.ForkedProcess`, naming the fix.
    fn check_process(&self, py: Python<'_>) -> PyResult<()> {
        let current = std::process::id();
        if current == self.pid {
            crate::logging::refresh_now_and_then(py);
            return Ok(());
        }
        Err(crate::errors::forked_process(
            py,
            "Agora instance",
            self.pid,
            current,
        ))
    }
}

/// Emits one class's `#[pymethods]`: the constructor and the accessors both
/// classes share, then every operation of the list, waiting with `$wait`.
/// Each operation is `fn name(agora, args...) { ... }`, where the block
/// converts the arguments (raising Python errors with `?`) and evaluates to
/// a `'static` future over the core service `agora`. Each argument is
/// extracted as its declared type, then becomes its [`Arg::Value`] before
/// the block runs (`id: Int<Path>` is an `i64` in the block, `email: Text`
/// a `String`); what is wrong with any of them is one `ValidationError`.
/// Every call first checks it runs in the process that created the
/// instance ([`Shared::check_process`]).
macro_rules! service_class {
    ($class:ident, $wait:ident, $(
        $(#[$attr:meta])*
        fn $name:ident($agora:ident $(, $arg:ident: $ty:ty)* $(,)?) $body:block
    )*) => {
        #[pymethods]
        impl $class {
            #[new]
            #[pyo3(signature = (database_url = None, **settings),
                   text_signature = "(database_url='sqlite:///agora.db', **settings)")]
            fn new(
                py: Python<'_>,
                database_url: Option<&Bound<'_, PyAny>>,
                settings: Option<&Bound<'_, PyDict>>,
            ) -> PyResult<Self> {
                let settings = Settings::new(
                    Front::Service, concat!(stringify!($class), "()"), database_url, settings,
                )?;
                Ok($class { shared: Shared::open(py, &settings)? })
            }

            /// An instance configured by the `AGORA_*` environment
            /// variables, as the Rust servers read them (keyword
            /// arguments, named as for the constructor, take precedence).
            /// The variables only the HTTP server reads are ignored; an
            /// error names the variable at fault.
            #[classmethod]
            #[pyo3(signature = (**settings))]
            fn from_env<'py>(
                cls: &Bound<'py, PyType>,
                settings: Option<&Bound<'py, PyDict>>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let kwargs = match settings {
                    Some(settings) => settings.copy()?,
                    None => PyDict::new(cls.py()),
                };
                kwargs.set_item(settings::FROM_ENV, true)?;
                cls.call((), Some(&kwargs))
            }

            /// The names of the methods generated from the list of
            /// operations (`agora.AsyncAgora` makes them coroutine functions).
            #[classattr]
            fn _operations() -> Vec<&'static str> {
                vec![$(stringify!($name)),*]
            }

            /// The database URL in use (as sqlx reads it, password redacted).
            #[getter]
            fn database_url(&self) -> &str {
                &self.shared.database_url
            }

            /// The access token lifetime.
            #[getter]
            fn access_token_ttl(&self) -> Duration {
                self.shared.tokens.ttl()
            }

            /// Checks an access token's signature, algorithm and expiry only,
            /// without a database look-up, and returns its user id (no I/O, so
            /// never awaitable). Raises `Unauthorized`. It does not notice a
            /// deleted user: prefer `authenticate`.
            fn verify_token(&self, py: Python<'_>, access_token: AccessToken) -> PyResult<i64> {
                self.shared.check_process(py)?;
                self.shared
                    .tokens
                    .verify(&access_token.0)
                    .map(|claims| claims.user_id)
                    .map_err(|e| crate::to_py_err(py, e))
            }

            /// The public keys that verify this instance's tokens, as the
            /// JSON Web Key Set `GET /.well-known/jwks.json` serves (a dict
            /// `{"keys": [...]}`), or `None` with an HMAC secret (nothing
            /// public to publish). No I/O, so never awaitable.
            fn jwks<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
                self.shared.check_process(py)?;
                self.shared
                    .tokens
                    .jwks()
                    .map(|set| crate::types::to_python(py, &set))
                    .transpose()
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                Ok(format!(
                    "{}(database_url={})",
                    stringify!($class),
                    repr_str(py, &self.shared.database_url)?
                ))
            }

            $(
                $(#[$attr])*
                // The arguments are the Python signature's.
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(
                    &self,
                    py: Python<'py>,
                    $($arg: $ty),*
                ) -> PyResult<Bound<'py, PyAny>> {
                    self.shared.check_process(py)?;
                    // Each argument as its block uses it; the problems of
                    // all of them raised together, before any work.
                    #[allow(unused_mut)]
                    let mut invalid: Vec<FieldError> = Vec::new();
                    $(let $arg = Arg::finish($arg, stringify!($arg), &mut invalid);)*
                    if !invalid.is_empty() {
                        return Err(crate::to_py_err(py, agora_core::Error::Validation(invalid)));
                    }
                    let $agora = self.shared.agora.clone();
                    let future = $body;
                    $wait(py, future)
                }
            )*
        }
    };
}

/// The list of operations, given once; emits both classes' methods.
macro_rules! service_classes {
    ($($operations:tt)*) => {
        service_class!(Agora, blocking, $($operations)*);
        service_class!(AsyncAgora, awaitable, $($operations)*);
    };
}

/// Agora's services for synchronous Python code: users, login, tokens,
/// posts and votes, profiles, follows, tags and comments over a SQLite,
/// PostgreSQL or MySQL database.
///
/// `database_url` defaults to `sqlite:///agora.db` (`agora.db` in the working
/// directory, created and migrated on first use). SQLite URLs follow
/// SQLAlchemy: `sqlite:///relative.db`, `sqlite:////absolute.db`,
/// `sqlite://` for in-memory; sqlx's `sqlite://relative.db` works too.
///
/// Every setting of the Rust servers is a keyword argument named after its
/// `AGORA_*` variable in lower case (`redis_url`, `jwt_leeway`,
/// `password_min_chars`, ...; `agora._agora._settings()` lists them), parsed
/// by the servers' own rules; `from_env()` reads the variables themselves.
/// `jwt_secret` (`str` or `bytes`, at least 32 bytes) signs access tokens;
/// with `None` and SQLite a secret is generated once and kept in
/// `<database>.jwt-secret` (mode 0600) so tokens survive restarts; with
/// PostgreSQL or MySQL it is required. `access_token_ttl` is the token
/// lifetime in seconds (`int`) or a `datetime.timedelta`; 30 minutes by default.
/// `refresh_reuse_grace` (seconds or a `timedelta`, 10 seconds by default)
/// is how long after a refresh token was exchanged a client retrying
/// concurrently may exchange it again; a replay after that ends the session.
/// `throttle=False` turns off login and registration throttling (for test
/// suites that sign up many users from one address). `hide_emails=True`
/// hides other users' email addresses (`None`) in `get_user` and post owners.
///
/// Account mail (`forgot_password`, `request_verify_token`): `public_url` is
/// where the app is reached, the only source of the links' base; mail goes
/// through `mailer`, a callable taking one dict (`{"kind", "to", "subject",
/// "text", "html", "link"}`; raising is a failure, retried), or through the
/// SMTP server `smtp_url` (`smtp://host:port`, `smtps://user:pass@host`)
/// with the sender `mail_from`; with neither, links are only logged by
/// Rust. `password_reset_ttl` (1 hour) and `verify_token_ttl` (1 day) are
/// the links' lifetimes (seconds or a `timedelta`);
/// `require_verified_email=True` refuses logins until the address is
/// verified; `mail_templates` replaces the mails' words
/// (`{"password_reset": {"subject", "text", "html"}, "verify_email": ...}`,
/// with the placeholders `{link}` and `{expires}`).
///
/// One instance is safe to share across threads. Every method releases the
/// GIL while it hashes or waits for the database, so threads run in parallel.
/// Methods that the HTTP API protects take the acting `user` first: an
/// `agora.User` from this library, or an access token (`str` or `agora.Token`).
/// Session calls (`logout`, `logout_all`, `sessions`, `end_session`,
/// `change_password`, `delete_account`) take the access `token` itself, since
/// they act on its session. Reads (`profile`, `get_post`, `list_posts`,
/// `comments`) also take `user=None`: an anonymous viewer.
///
/// An instance belongs to the process that created it: in a child of
/// `fork()` (e.g. `gunicorn --preload`) every call raises
/// `agora.ForkedProcess` at once. Create it in each worker process, e.g. in
/// FastAPI's lifespan handler.
#[pyclass(frozen, module = "agora", name = "Agora")]
pub struct Agora {
    shared: Shared,
}

/// Agora's services with awaitable methods, for asyncio apps (FastAPI,
/// Starlette).
///
/// The arguments and the rules are those of `agora.Agora`. The work runs on
/// Agora's own Rust threads (hashing on a bounded pool), so awaiting never
/// blocks the event loop: other tasks keep running during a hash or a
/// database query. Cancelling an awaiting task abandons the operation.
///
/// Creating an `AsyncAgora` opens (and on first use creates and migrates)
/// the database synchronously; do it once at startup. One instance is safe
/// to share across tasks, threads and event loops, within the process that
/// created it (`agora.ForkedProcess` in a child of `fork()`: create it in
/// FastAPI's lifespan handler, in each worker).
#[pyclass(frozen, subclass, module = "agora._agora", name = "AsyncAgora")]
pub struct AsyncAgora {
    shared: Shared,
}

service_classes! {
    /// Registers a user, with an optional public `username` (3 to 30
    /// letters, digits, `_`, `-`, `.`). Raises `ValidationError` for a bad
    /// email, username or a password outside 8..=128 characters, `Conflict`
    /// for a taken email or username (case-insensitive; `code`
    /// `EMAIL_TAKEN` or `USERNAME_TAKEN`), `RateLimited` when `client_ip`
    /// registers too often.
    #[pyo3(signature = (email, password, *, username = None, client_ip = None, user_agent = None))]
    fn register(agora, email: Text, password: Text, username: Option<Text>, client_ip: Option<ClientIp>, user_agent: Option<Text>) {
        let (request, client) = (UserCreate { email, password, username }, client_info(client_ip, user_agent.as_deref()));
        async move { Ok(User { inner: agora.register(request, &client).await? }) }
    }

    /// Checks an email and password, starts a session and issues its access
    /// and refresh tokens. Raises `InvalidCredentials` for an unknown email
    /// or a wrong password alike, `RateLimited` after repeated failures for
    /// the account or for `client_ip`. Pass the caller's `client_ip` (and
    /// `user_agent`) from a web app so throttling works per client.
    #[pyo3(signature = (email, password, *, client_ip = None, user_agent = None))]
    fn login(agora, email: Text, password: Text, client_ip: Option<ClientIp>, user_agent: Option<Text>) {
        let (request, client) = (LoginRequest { email, password }, client_info(client_ip, user_agent.as_deref()));
        async move { Ok(Token { inner: agora.login(request, &client).await? }) }
    }

    /// Exchanges a refresh token for a new `Token` (new access and refresh
    /// tokens: rotation). Each refresh token works once: replaying one that
    /// was already exchanged, after the `refresh_reuse_grace` window, ends
    /// the whole session. Raises `Unauthorized` for an unknown, expired,
    /// replayed or ended refresh token, and for an access token.
    #[pyo3(signature = (refresh_token, *, client_ip = None, user_agent = None))]
    fn refresh(agora, refresh_token: Text, client_ip: Option<ClientIp>, user_agent: Option<Text>) {
        let (request, client) = (RefreshRequest { refresh_token }, client_info(client_ip, user_agent.as_deref()));
        async move { Ok(Token { inner: agora.refresh(request, &client).await? }) }
    }

    /// Ends the session of `token` (an access token, `str` or `agora.Token`):
    /// its refresh token and every access token of the session stop working.
    /// Raises `Unauthorized`.
    fn logout(agora, token: SessionToken) {
        async move { agora.logout(&agora.authenticate(&token.0).await?).await }
    }

    /// Ends every session of `token`'s user, this one included, and returns
    /// how many were ended. Raises `Unauthorized`.
    fn logout_all(agora, token: SessionToken) {
        async move { agora.logout_all(&agora.authenticate(&token.0).await?).await }
    }

    /// The active sessions of `token`'s user, newest first; `current` marks
    /// the session of `token`. Raises `Unauthorized`.
    fn sessions(agora, token: SessionToken) {
        async move {
            let sessions = agora.sessions(&agora.authenticate(&token.0).await?).await?;
            Ok(sessions.into_iter().map(|inner| Session { inner }).collect::<Vec<_>>())
        }
    }

    /// Ends one of `token`'s user's sessions by id (see `sessions`). Raises
    /// `NotFound` when it is not an active session of theirs, `Unauthorized`.
    fn end_session(agora, token: SessionToken, session_id: Text) {
        async move { agora.end_session(&agora.authenticate(&token.0).await?, &session_id).await }
    }

    /// Changes the password of `token`'s user after checking the current one;
    /// every other session of the user ends, this one goes on. Raises
    /// `InvalidCredentials` for a wrong `current_password`, `ValidationError`
    /// for a `new_password` the rules refuse (length, common passwords),
    /// `Unauthorized`, `RateLimited` (wrong passwords count against the
    /// account's login limit).
    fn change_password(agora, token: SessionToken, current_password: Text, new_password: Text) {
        let change = PasswordChange { current_password, new_password };
        async move { agora.change_password(&agora.authenticate(&token.0).await?, change).await }
    }

    /// Deletes `token`'s user after checking their `password`, with their
    /// posts, votes and sessions: every token of theirs is refused afterwards.
    /// Raises `InvalidCredentials` for a wrong password, `Unauthorized`,
    /// `RateLimited` (wrong passwords count against the account's login limit).
    fn delete_account(agora, token: SessionToken, password: Text) {
        let deletion = AccountDeletion { password };
        async move { agora.delete_account(&agora.authenticate(&token.0).await?, deletion).await }
    }

    /// Mails a password reset link to the account with this `email`, if
    /// there is one, and returns `None` at once, the same for every address
    /// (delivery happens in the background, with retries; each address
    /// gets at most 3 mails per 15 minutes). Needs `public_url` and a
    /// mailer (`mailer=` or `smtp_url`). Raises `ValidationError` for a
    /// malformed address, `RateLimited` when `client_ip` asks too often.
    #[pyo3(signature = (email, *, client_ip = None))]
    fn forgot_password(agora, email: Text, client_ip: Option<ClientIp>) {
        let (request, client) = (EmailRequest { email }, client_info(client_ip, None));
        async move { agora.forgot_password(request, &client).await }
    }

    /// Like `forgot_password`, with an address verification link (an
    /// address verified already gets nothing).
    #[pyo3(signature = (email, *, client_ip = None))]
    fn request_verify_token(agora, email: Text, client_ip: Option<ClientIp>) {
        let (request, client) = (EmailRequest { email }, client_info(client_ip, None));
        async move { agora.request_verify_token(request, &client).await }
    }

    /// Sets a new password with the token of a reset link: the token is
    /// used up and every session of the user ends (their access and refresh
    /// tokens are refused at once). Raises `BadRequest`
    /// (`RESET_PASSWORD_BAD_TOKEN`) for a token that is unknown, used,
    /// expired or a verification token, `ValidationError` for a refused
    /// password (the token stays usable).
    #[pyo3(signature = (token, new_password, *, client_ip = None))]
    fn reset_password(agora, token: Text, new_password: Text, client_ip: Option<ClientIp>) {
        let (request, client) = (ResetPasswordRequest { token, new_password }, client_info(client_ip, None));
        async move { agora.reset_password(request, &client).await }
    }

    /// Marks the address of the token's user verified and returns the
    /// `User` (`email_verified=True`); the token is used up. Raises
    /// `BadRequest` (`VERIFY_USER_BAD_TOKEN`) for a token that is unknown,
    /// used, expired or a reset token, or an address verified already.
    #[pyo3(signature = (token, *, client_ip = None))]
    fn verify(agora, token: Text, client_ip: Option<ClientIp>) {
        let (request, client) = (VerifyRequest { token }, client_info(client_ip, None));
        async move { Ok(User { inner: agora.verify_email(request, &client).await? }) }
    }

    /// The user an access token belongs to. Raises `Unauthorized` for any
    /// invalid, expired or tampered token, an ended session, or the token of
    /// a deleted user.
    fn authenticate(agora, access_token: AccessToken) {
        async move { Ok(User { inner: agora.authenticate(&access_token.0).await?.into_user() }) }
    }

    /// A user by id. Raises `NotFound`.
    fn get_user(agora, id: Int<Path>) {
        async move { Ok(User { inner: agora.get_user(UserId(id)).await? }) }
    }

    /// Changes `user`'s `username`, `bio` and `image`: an omitted argument
    /// keeps the field, `None` (or `""`) clears it. Returns the updated
    /// `User`. Raises `ValidationError` (bad username, bio over 1,000
    /// characters, image not an http(s) URL), `Conflict` (`USERNAME_TAKEN`:
    /// another user's, in any case).
    #[pyo3(signature = (user, *, username = Change::default(), bio = Change::default(), image = Change::default()))]
    fn update_profile(agora, user: Actor, username: Change, bio: Change, image: Change) {
        let request = ProfileUpdate { username, bio, image };
        async move { Ok(User { inner: agora.update_profile(&user.resolve(&agora).await?, request).await? }) }
    }

    /// The profile of the user with this `username` (case-insensitive), as
    /// `user` sees it (`following`); `user=None` is an anonymous viewer.
    /// Raises `NotFound` (`PROFILE_NOT_FOUND`).
    fn profile(agora, user: Option<Actor>, username: Text) {
        async move { Ok(Profile { inner: agora.profile(viewer(&agora, user).await?.as_ref(), &username).await? }) }
    }

    /// `user` follows the user with this `username` and gets their profile
    /// (`following=True`). Idempotent: one edge however often (and
    /// concurrently) it is called. Raises `ValidationError` for yourself,
    /// `NotFound` (`PROFILE_NOT_FOUND`) for an unknown username.
    fn follow(agora, user: Actor, username: Text) {
        async move { Ok(Profile { inner: agora.follow(&user.resolve(&agora).await?, &username).await? }) }
    }

    /// `user` no longer follows the user with this `username` (idempotent)
    /// and gets their profile (`following=False`). Raises `NotFound`
    /// (`PROFILE_NOT_FOUND`).
    fn unfollow(agora, user: Actor, username: Text) {
        async move { Ok(Profile { inner: agora.unfollow(&user.resolve(&agora).await?, &username).await? }) }
    }

    /// Returns when the database (and Redis, if configured) answers; raises
    /// `Unavailable` otherwise.
    fn health(agora) {
        async move { agora.health().await }
    }

    /// What the servers answer to `GET /health`: `(status, body, headers)`,
    /// the body their JSON bytes (every dependency's check, the database's
    /// and Redis's when throttling counts there, with its latency; on 503
    /// the same shape with the failing check's `reason` and the error's
    /// `detail` and `code`). Never raises for a dependency that is down.
    fn health_answer(agora) {
        async move {
            let answer = agora.health_response().await;
            let headers: Vec<(String, String)> =
                answer.headers.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect();
            Ok((answer.status, answer.body, headers))
        }
    }

    /// Creates a post owned by `user`, with an optional `description` (at
    /// most 1,000 characters) and `tags` (at most 10; trimmed, lower-cased,
    /// deduplicated, sorted). Raises `ValidationError` for a blank or
    /// oversized title (300 characters) or content (10,000), or a bad tag.
    #[pyo3(signature = (user, title, content, published = true, *, description = None, tags = None))]
    fn create_post(agora, user: Actor, title: Text, content: Text, published: bool, description: Option<Text>, tags: Option<Vec<Text>>) {
        let post = PostCreate { title, content, published, description, tags };
        async move {
            let caller = user.resolve(&agora).await?;
            Ok(Post { inner: agora.create_post(&caller, post).await? })
        }
    }

    /// One post with its votes (`voted`: whether `user` voted for it;
    /// `user=None` is an anonymous viewer). Someone else's unpublished post
    /// raises `NotFound`, exactly like a missing one.
    fn get_post(agora, user: Option<Actor>, id: Int<Path>) {
        async move {
            let inner = match user {
                // The session is checked by the post's own look-up: one round trip.
                Some(Actor::Token(token)) => agora.get_post_with_token(&token, PostId(id)).await?,
                user => {
                    let viewer = viewer(&agora, user).await?;
                    agora.get_post(viewer.as_ref(), PostId(id)).await?
                }
            };
            Ok(PostWithVotes { inner })
        }
    }

    /// Posts visible to `user` (`None`: anonymous, published posts only),
    /// newest first: `limit` 1..=100, `skip` >= 0, `search` a
    /// case-insensitive substring of the title (empty: all). `after=<id>`
    /// (keyset paging) lists only posts with a smaller id: pass the last id
    /// of a page to get the next one as fast as the first. `tag`, `author`
    /// and `voted_by` (usernames) filter. The arguments go through the
    /// core's query constructors, so their bounds and errors are those of
    /// `GET /posts`; like the HTTP API, the caller is authenticated first.
    #[pyo3(signature = (user, limit = Int::of(10), skip = Int::of(0), search = Text::of(""), *, after = None, tag = None, author = None, voted_by = None),
           text_signature = "($self, user, limit=10, skip=0, search='', *, after=None, tag=None, author=None, voted_by=None)")]
    fn list_posts(agora, user: Option<Actor>, limit: Int<Query>, skip: Int<Query>, search: Text, after: Option<Int<Query>>, tag: Option<Text>, author: Option<Text>, voted_by: Option<Text>) {
        let query = ListQuery::filtered(ListQuery::new(limit, skip, after, search), tag.as_deref(), author.as_deref(), voted_by.as_deref());
        async move {
            let viewer = viewer(&agora, user).await?;
            let posts = agora.list_posts(viewer.as_ref(), query?).await?;
            Ok(posts.into_iter().map(|inner| PostWithVotes { inner }).collect::<Vec<_>>())
        }
    }

    /// `user`'s feed: the published posts of the users they follow, newest
    /// first, paged and filtered like `list_posts`.
    #[pyo3(signature = (user, limit = Int::of(10), skip = Int::of(0), search = Text::of(""), *, after = None, tag = None, author = None, voted_by = None),
           text_signature = "($self, user, limit=10, skip=0, search='', *, after=None, tag=None, author=None, voted_by=None)")]
    fn feed(agora, user: Actor, limit: Int<Query>, skip: Int<Query>, search: Text, after: Option<Int<Query>>, tag: Option<Text>, author: Option<Text>, voted_by: Option<Text>) {
        let query = ListQuery::filtered(ListQuery::new(limit, skip, after, search), tag.as_deref(), author.as_deref(), voted_by.as_deref());
        async move {
            let caller = user.resolve(&agora).await?;
            let posts = agora.feed(&caller, query?).await?;
            Ok(posts.into_iter().map(|inner| PostWithVotes { inner }).collect::<Vec<_>>())
        }
    }

    /// The tags of published posts with their counts, most used first,
    /// paged by `limit` (1..=100) and `skip`.
    #[pyo3(signature = (limit = Int::of(10), skip = Int::of(0)), text_signature = "($self, limit=10, skip=0)")]
    fn tags(agora, limit: Int<Query>, skip: Int<Query>) {
        async move {
            let tags = agora.tags(&ListQuery::new(limit, skip, None, String::new())?).await?;
            Ok(tags.into_iter().map(|inner| TagCount { inner }).collect::<Vec<_>>())
        }
    }

    /// Replaces a post's title, content and visibility; `description` and
    /// `tags` replace the post's when given (`None` keeps them). Raises
    /// `NotFound`, `Forbidden` (not the owner) or `ValidationError`.
    #[pyo3(signature = (user, id, title, content, published = true, *, description = None, tags = None))]
    fn update_post(agora, user: Actor, id: Int<Path>, title: Text, content: Text, published: bool, description: Option<Text>, tags: Option<Vec<Text>>) {
        let post = PostCreate { title, content, published, description, tags };
        async move {
            let caller = user.resolve(&agora).await?;
            Ok(Post { inner: agora.update_post(&caller, PostId(id), post).await? })
        }
    }

    /// Deletes a post and its votes. Raises `NotFound` or `Forbidden`.
    fn delete_post(agora, user: Actor, id: Int<Path>) {
        async move { agora.delete_post(&user.resolve(&agora).await?, PostId(id)).await }
    }

    /// The comments on a post `user` can see (`None`: anonymous), oldest
    /// first, paged by `limit`, `skip` and `after` (a comment id: only newer
    /// ones). Raises `NotFound` (`POST_NOT_FOUND`).
    #[pyo3(signature = (user, post_id, limit = Int::of(10), skip = Int::of(0), *, after = None),
           text_signature = "($self, user, post_id, limit=10, skip=0, *, after=None)")]
    fn comments(agora, user: Option<Actor>, post_id: Int<Path>, limit: Int<Query>, skip: Int<Query>, after: Option<Int<Query>>) {
        async move {
            let viewer = viewer(&agora, user).await?;
            let query = ListQuery::new(limit, skip, after, String::new())?;
            let comments = agora.comments(viewer.as_ref(), PostId(post_id), &query).await?;
            Ok(comments.into_iter().map(|inner| Comment { inner }).collect::<Vec<_>>())
        }
    }

    /// `user` comments on a post they can see. Raises `ValidationError` (a
    /// blank body or one over 10,000 characters), `NotFound`
    /// (`POST_NOT_FOUND`).
    fn add_comment(agora, user: Actor, post_id: Int<Path>, body: Text) {
        let request = CommentCreate { body };
        async move { Ok(Comment { inner: agora.add_comment(&user.resolve(&agora).await?, PostId(post_id), request).await? }) }
    }

    /// Deletes one of `user`'s comments. Raises `NotFound` (the post, or
    /// the comment on that post: `COMMENT_NOT_FOUND`), `Forbidden`
    /// (`NOT_COMMENT_AUTHOR`: someone else's).
    fn delete_comment(agora, user: Actor, post_id: Int<Path>, comment_id: Int<Path>) {
        async move { agora.delete_comment(&user.resolve(&agora).await?, PostId(post_id), CommentId(comment_id)).await }
    }

    /// `dir=1` adds `user`'s vote (`Conflict` if already there), `dir=0`
    /// removes it (`NotFound` if there was none). An unknown or invisible
    /// post raises `NotFound`; any other `dir` raises `ValidationError`.
    fn vote(agora, user: Actor, post_id: Int<Body>, dir: Int<Body>) {
        async move {
            let caller = user.resolve(&agora).await?;
            let outcome = agora.vote(&caller, VoteRequest { post_id, dir }).await?;
            Ok(VoteResult { inner: Vote { post_id, outcome } })
        }
    }
}
