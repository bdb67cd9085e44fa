"""Type stubs for the native module ``agora._agora`` (re-exported by ``agora``)."""

from datetime import datetime, timedelta
from os import PathLike
from types import ModuleType, TracebackType
from typing import (
    Any,
    Callable,
    Coroutine,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    final,
)

from typing_extensions import Self, TypedDict, Unpack, disjoint_base

from ._mail import Mail

__version__: str

_Actor = Union[User, Token, str]
_Viewer = Optional[_Actor]
_AccessToken = Union[Token, str]
_T = TypeVar("_T")
_Coroutine = Coroutine[Any, Any, _T]
#: A duration: seconds (``int`` or ``float``) or a ``timedelta``.
_Seconds = Union[int, float, timedelta]
_Path = Union[str, "PathLike[str]"]
#: A ``mailer=`` callable: takes the mail, its return value is ignored (an
#: awaitable is awaited); raising is a delivery failure.
_Mailer = Callable[[Mail], object]
#: ``{"password_reset": {"subject": ..., "text": ..., "html": ...},
#: "verify_email": {...}}``; an omitted kind or part keeps the default.
_MailTemplates = Mapping[str, Mapping[str, str]]

class _Result:
    """What every result object has (a stub-only base)."""

    def to_dict(self) -> Dict[str, Any]:
        """The HTTP API's JSON for this object, as Python values."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

class _Settings(TypedDict, total=False):
    """The keyword arguments of :class:`Agora` and :class:`AsyncAgora` (and
    of :func:`serve`): one per ``AGORA_*`` variable of the Rust servers,
    named in lower case without ``AGORA_`` (``agora._agora._settings()``
    lists them), plus ``mail_templates`` and ``mailer``. ``None`` keeps the
    default. Durations are seconds (``int`` or ``float``) or a
    ``timedelta``."""

    jwt_secret: Union[str, bytes, None]
    jwt_algorithm: Optional[str]
    jwt_private_key_file: Optional[_Path]
    jwt_verify_key_files: Optional[Sequence[_Path]]
    jwt_previous_secrets: Optional[Sequence[Union[str, bytes]]]
    jwt_issuer: Optional[str]
    jwt_audience: Optional[str]
    jwt_leeway: Optional[_Seconds]
    access_token_ttl: Optional[_Seconds]
    refresh_token_ttl: Optional[_Seconds]
    session_lifetime: Optional[_Seconds]
    refresh_reuse_grace: Optional[_Seconds]
    throttle: Optional[bool]
    hide_emails: Optional[bool]
    public_url: Optional[str]
    smtp_url: Optional[str]
    mail_from: Optional[str]
    password_reset_ttl: Optional[_Seconds]
    verify_token_ttl: Optional[_Seconds]
    require_verified_email: Optional[bool]
    trusted_proxy_header: Optional[str]
    trusted_proxy_hops: Optional[int]
    redis_url: Optional[str]
    redis_prefix: Optional[str]
    redis_timeout: Optional[_Seconds]
    migration_lock_timeout: Optional[_Seconds]
    db_max_connections: Optional[int]
    db_acquire_timeout: Optional[_Seconds]
    db_statement_timeout: Optional[_Seconds]
    db_schema: Optional[str]
    hash_concurrency: Optional[int]
    password_min_chars: Optional[int]
    password_max_chars: Optional[int]
    password_blocklist: Optional[bool]
    mail_templates: Optional[_MailTemplates]
    mailer: Optional[_Mailer]

class _EnvSettings(_Settings, total=False):
    """The keyword arguments of ``Agora.from_env``: :class:`_Settings` and
    ``database_url``."""

    database_url: Optional[str]

class _ServerSettings(_Settings, total=False):
    """The keyword arguments of :func:`serve`: :class:`_Settings` and the
    HTTP server's own."""

    header_timeout: Optional[_Seconds]
    body_timeout: Optional[_Seconds]
    idle_timeout: Optional[_Seconds]
    max_connections: Optional[int]
    shutdown_timeout: Optional[_Seconds]
    cors_origins: Optional[Sequence[str]]
    body_limit: Optional[int]
    metrics_bind: Optional[str]
    pool_max_connections: Optional[int]
    pool_acquire_timeout: Optional[_Seconds]
    pool_statement_timeout: Optional[_Seconds]

class _ServerEnvSettings(_ServerSettings, total=False):
    """The keyword arguments of :func:`serve_from_env`."""

    database_url: Optional[str]
    bind: Optional[str]

class _Service:
    """What :class:`Agora` and :class:`AsyncAgora` share besides the
    operations (a stub-only base)."""

    def __new__(
        cls,
        database_url: _Path = "sqlite:///agora.db",
        **settings: Unpack[_Settings],
    ) -> Self: ...
    @classmethod
    def from_env(cls, **settings: Unpack[_EnvSettings]) -> Self:
        """An instance configured by the ``AGORA_*`` environment variables,
        as the Rust servers read them; keyword arguments take precedence.
        Errors name the variable at fault."""
    @property
    def database_url(self) -> str:
        """The database URL in use (as sqlx reads it, password redacted)."""
    @property
    def access_token_ttl(self) -> timedelta:
        """The access token lifetime."""
    def verify_token(self, access_token: _AccessToken) -> int:
        """A valid token's user id, without a database look-up (does not
        notice a deleted user; never awaitable). Raises ``Unauthorized``."""
    def jwks(self) -> Optional[Dict[str, Any]]:
        """The public keys that verify this instance's tokens as a JSON Web
        Key Set (``{"keys": [...]}``, as ``GET /.well-known/jwks.json``
        serves it); ``None`` with an HMAC secret. Never awaitable."""

@final
class User(_Result):
    """A registered user: ``id``, ``email`` (lower-cased), ``created_at``
    (aware UTC datetime), the profile's ``username``, ``bio`` and
    ``image`` (each ``None`` until set), and ``email_verified``. Never
    carries a password."""

    @property
    def id(self) -> int:
        """The user's id."""
    @property
    def email(self) -> Optional[str]:
        """The user's email address, lower-cased; ``None`` for another user's
        address when ``hide_emails=True`` hides it."""
    @property
    def created_at(self) -> datetime:
        """When the user registered (timezone-aware, UTC)."""
    @property
    def username(self) -> Optional[str]:
        """The public handle (as typed; unique case-insensitively), if chosen."""
    @property
    def bio(self) -> Optional[str]:
        """Free text about the user, if set."""
    @property
    def image(self) -> Optional[str]:
        """The URL of the user's picture, if set."""
    @property
    def email_verified(self) -> bool:
        """Whether the user proved the address is theirs (``verify``)."""

@final
class Post(_Result):
    """A post: ``id``, ``title``, ``content``, ``published``, ``created_at``,
    ``owner_id``, ``owner`` (a :class:`User`), ``description``, ``tags``
    (normalised, sorted) and ``updated_at``."""

    @property
    def id(self) -> int:
        """The post's id."""
    @property
    def title(self) -> str:
        """The title."""
    @property
    def content(self) -> str:
        """The body text."""
    @property
    def published(self) -> bool:
        """Whether other users can see it."""
    @property
    def created_at(self) -> datetime:
        """When the post was created (timezone-aware, UTC)."""
    @property
    def owner_id(self) -> int:
        """The owner's id."""
    @property
    def owner(self) -> User:
        """The owner."""
    @property
    def description(self) -> Optional[str]:
        """A short summary, if given."""
    @property
    def tags(self) -> List[str]:
        """The tags: trimmed, lower-cased, deduplicated, in alphabetical order."""
    @property
    def updated_at(self) -> Optional[datetime]:
        """When it was last edited (timezone-aware, UTC); ``None`` until then."""

@final
class PostWithVotes(_Result):
    """A post with its vote count, as ``GET /posts`` lists it
    (``to_dict()``: ``{"Post": {...}, "votes": n, "voted": bool}``)."""

    @property
    def post(self) -> Post:
        """The post."""
    @property
    def votes(self) -> int:
        """How many users voted for it."""
    @property
    def voted(self) -> bool:
        """Whether the viewer is one of them (``False`` for anonymous viewers)."""

@final
class Profile(_Result):
    """A user's public face, as ``GET /profiles/{username}`` answers it:
    ``username``, ``bio``, ``image``, and ``following`` (whether the viewer
    follows them; ``False`` for anonymous viewers)."""

    @property
    def username(self) -> str:
        """The username."""
    @property
    def bio(self) -> Optional[str]:
        """Free text, if set."""
    @property
    def image(self) -> Optional[str]:
        """An image URL, if set."""
    @property
    def following(self) -> bool:
        """Whether the viewer follows this user."""

@final
class TagCount(_Result):
    """A tag with how many published posts carry it, as ``GET /tags`` lists it."""

    @property
    def tag(self) -> str:
        """The tag (lower-cased)."""
    @property
    def posts(self) -> int:
        """How many published posts carry it."""

@final
class Comment(_Result):
    """A comment on a post: ``id``, ``post_id``, ``body``, ``created_at``
    (aware UTC datetime) and ``author`` (a :class:`User`)."""

    @property
    def id(self) -> int:
        """The comment's id."""
    @property
    def post_id(self) -> int:
        """The post it is on."""
    @property
    def body(self) -> str:
        """Its text."""
    @property
    def created_at(self) -> datetime:
        """When it was written (timezone-aware, UTC)."""
    @property
    def author(self) -> User:
        """Who wrote it."""

@final
class Token(_Result):
    """The tokens of a session, as ``POST /login`` and ``POST /token/refresh``
    answer them. Its ``repr`` hides both tokens."""

    @property
    def access_token(self) -> str:
        """The signed JWT, for an ``Authorization: Bearer <token>`` header."""
    @property
    def token_type(self) -> str:
        """Always ``"bearer"``."""
    @property
    def expires_in(self) -> int:
        """Seconds until the access token expires."""
    @property
    def refresh_token(self) -> str:
        """The opaque refresh token of this session, for ``refresh`` (each one
        works once)."""
    @property
    def refresh_expires_in(self) -> int:
        """Seconds until the refresh token expires if unused."""

@final
class VoteResult(_Result):
    """What a vote did: ``added`` (``True`` for ``dir=1``, ``False`` for
    ``dir=0``), ``post_id``, and the HTTP API's ``message``."""

    @property
    def post_id(self) -> int:
        """The post voted on."""
    @property
    def added(self) -> bool:
        """``True`` when a vote was added, ``False`` when one was removed."""
    @property
    def message(self) -> str:
        """``"successfully added vote"`` or ``"successfully deleted vote"``."""

@final
class Session(_Result):
    """One of the user's active sessions, as ``GET /sessions`` lists it:
    ``id``, ``created_at``, ``last_used_at``, ``expires_at`` (aware UTC
    datetimes), ``user_agent`` and ``ip`` (as given at login, or ``None``),
    and ``current`` (whether it is the session of the token that asked)."""

    @property
    def id(self) -> str:
        """The session's id (hex), for ``end_session``."""
    @property
    def created_at(self) -> datetime:
        """When the session began: the login (timezone-aware, UTC)."""
    @property
    def last_used_at(self) -> datetime:
        """When it was last refreshed, or created (timezone-aware, UTC)."""
    @property
    def expires_at(self) -> datetime:
        """Its absolute end, however often it is refreshed (timezone-aware, UTC)."""
    @property
    def user_agent(self) -> Optional[str]:
        """The client's ``User-Agent`` at login, if known."""
    @property
    def ip(self) -> Optional[str]:
        """The client's IP address at login, if known."""
    @property
    def current(self) -> bool:
        """Whether this is the session of the access token that listed it."""

@final
class Agora(_Service):
    """Agora's services for synchronous Python code: users, login, tokens,
    posts and votes, profiles, follows, tags and comments over a SQLite
    database.

    ``database_url`` defaults to ``sqlite:///agora.db`` (``agora.db`` in the
    working directory, created and migrated on first use). SQLite URLs follow
    SQLAlchemy: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``sqlite://`` for in-memory; sqlx's ``sqlite://relative.db`` works too.

    ``jwt_secret`` (``str`` or ``bytes``, at least 32 bytes) signs access
    tokens; with ``None`` and SQLite a secret is generated once and kept in
    ``<database>.jwt-secret`` (mode 0600) so tokens survive restarts; with
    PostgreSQL or MySQL it is required (the same value on every process).
    ``access_token_ttl`` is the token lifetime in seconds or a ``timedelta``;
    30 minutes by default. ``refresh_reuse_grace`` (seconds or a
    ``timedelta``, 10 seconds by default) is how long after a refresh token
    was exchanged a client retrying concurrently may exchange it again; a
    replay after that ends the session. ``throttle=False`` turns off login
    and registration throttling (for test suites that sign up many users).
    ``hide_emails=True`` hides other users' email addresses (``None``) in
    ``get_user`` and post owners; users still see their own.

    Account mail (``forgot_password``, ``request_verify_token``):
    ``public_url`` is where the app is reached, the only base of the links;
    mail goes to ``mailer`` (a callable taking a :class:`~agora.Mail` dict;
    raising is a failure, retried; an ``async def`` runs on a private event
    loop) or to the SMTP server ``smtp_url`` from ``mail_from``.
    ``password_reset_ttl`` (1 hour) and ``verify_token_ttl`` (1 day) are
    the links' lifetimes; ``require_verified_email=True`` refuses logins
    until the address is verified; ``mail_templates`` replaces the words
    (placeholders ``{link}`` and ``{expires}``).

    One instance is safe to share across threads. Every method releases the
    GIL while it hashes or waits for the database. Methods that the HTTP API
    protects take the acting ``user`` first: an :class:`User` from this
    library, or an access token (``str`` or :class:`Token`). Session calls
    (``logout``, ``logout_all``, ``sessions``, ``end_session``,
    ``change_password``, ``delete_account``) take the access ``token``
    itself, since they act on its session. Reads (``profile``,
    ``get_post``, ``list_posts``, ``comments``) also take ``user=None``: an
    anonymous viewer.

    An instance belongs to the process that created it: in a child of
    ``fork()`` (e.g. ``gunicorn --preload``) every call raises
    :class:`ForkedProcess` at once. Create it in each worker process, e.g.
    in FastAPI's lifespan handler.
    """

    def register(
        self,
        email: str,
        password: str,
        *,
        username: Optional[str] = None,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> User:
        """Registers a user, with an optional public ``username``. Raises
        ``ValidationError`` for a bad email, username or a password outside
        8..=128 characters, ``Conflict`` for a taken email or username
        (case-insensitive; ``code`` ``EMAIL_TAKEN`` or ``USERNAME_TAKEN``),
        ``RateLimited`` when ``client_ip`` registers too often."""
    def login(
        self,
        email: str,
        password: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> Token:
        """Starts a session and issues its tokens. Raises
        ``InvalidCredentials`` for an unknown email or a wrong password alike,
        ``RateLimited`` after repeated failures for the account or
        ``client_ip`` (pass the caller's IP from a web app)."""
    def refresh(
        self,
        refresh_token: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> Token:
        """Exchanges a refresh token for a new :class:`Token` (rotation).
        Replaying an exchanged refresh token after ``refresh_reuse_grace``
        ends the session. Raises ``Unauthorized`` for an unknown, expired,
        replayed or ended refresh token, and for an access token."""
    def logout(self, token: _AccessToken) -> None:
        """Ends the session of ``token``: its refresh token and every access
        token of the session stop working. Raises ``Unauthorized``."""
    def logout_all(self, token: _AccessToken) -> int:
        """Ends every session of ``token``'s user, this one included; returns
        how many. Raises ``Unauthorized``."""
    def sessions(self, token: _AccessToken) -> List[Session]:
        """The active sessions of ``token``'s user, newest first, ``current``
        marking ``token``'s. Raises ``Unauthorized``."""
    def end_session(self, token: _AccessToken, session_id: str) -> None:
        """Ends one of ``token``'s user's sessions. Raises ``NotFound`` when
        it is not an active session of theirs, ``Unauthorized``."""
    def change_password(
        self, token: _AccessToken, current_password: str, new_password: str
    ) -> None:
        """Changes the password after checking the current one; the user's
        other sessions end. Raises ``InvalidCredentials`` (wrong current
        password), ``ValidationError`` (refused new password), ``Unauthorized``."""
    def delete_account(self, token: _AccessToken, password: str) -> None:
        """Deletes ``token``'s user with their posts, votes and sessions after
        checking ``password``. Raises ``InvalidCredentials``, ``Unauthorized``."""
    def forgot_password(self, email: str, *, client_ip: Optional[str] = None) -> None:
        """Mails a password reset link to the account with this address, if
        any, in the background; returns ``None`` at once for every address
        (at most 3 mails per address per 15 minutes). Raises
        ``ValidationError`` (malformed address), ``RateLimited``."""
    def request_verify_token(self, email: str, *, client_ip: Optional[str] = None) -> None:
        """Like ``forgot_password``, with an address verification link (an
        address verified already gets nothing)."""
    def reset_password(
        self, token: str, new_password: str, *, client_ip: Optional[str] = None
    ) -> None:
        """Sets a new password with a reset link's token (used up; every
        session of the user ends). Raises ``BadRequest``
        (``RESET_PASSWORD_BAD_TOKEN``), ``ValidationError`` (refused
        password; the token stays usable)."""
    def verify(self, token: str, *, client_ip: Optional[str] = None) -> User:
        """Marks the token's user's address verified and returns the user.
        Raises ``BadRequest`` (``VERIFY_USER_BAD_TOKEN``)."""
    def authenticate(self, access_token: _AccessToken) -> User:
        """The user an access token belongs to. Raises ``Unauthorized``."""
    def get_user(self, id: int) -> User:
        """A user by id. Raises ``NotFound``."""
    def update_profile(
        self,
        user: _Actor,
        *,
        username: Optional[str] = ...,
        bio: Optional[str] = ...,
        image: Optional[str] = ...,
    ) -> User:
        """Changes ``user``'s profile: an omitted argument keeps the field,
        ``None`` (or ``""``) clears it. Raises ``ValidationError``,
        ``Conflict`` (``USERNAME_TAKEN``)."""
    def profile(self, user: _Viewer, username: str) -> Profile:
        """The profile of ``username`` (case-insensitive) as ``user`` sees it
        (``None``: anonymous). Raises ``NotFound`` (``PROFILE_NOT_FOUND``)."""
    def follow(self, user: _Actor, username: str) -> Profile:
        """``user`` follows ``username`` (idempotent). Raises
        ``ValidationError`` for yourself, ``NotFound`` (``PROFILE_NOT_FOUND``)."""
    def unfollow(self, user: _Actor, username: str) -> Profile:
        """``user`` stops following ``username`` (idempotent). Raises
        ``NotFound`` (``PROFILE_NOT_FOUND``)."""
    def health(self) -> None:
        """Returns when the database answers; raises ``Unavailable`` otherwise."""
    def health_answer(self) -> Tuple[int, bytes, List[Tuple[str, str]]]:
        """What the servers answer to ``GET /health``: ``(status, body,
        headers)``, the body their JSON bytes (every dependency's check with
        its latency; on 503 the failing check's ``reason`` and the error's
        ``detail`` and ``code``). Never raises for a dependency that is down."""
    def create_post(
        self,
        user: _Actor,
        title: str,
        content: str,
        published: bool = True,
        *,
        description: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
    ) -> Post:
        """Creates a post owned by ``user`` (``tags`` are trimmed,
        lower-cased, deduplicated and sorted). Raises ``ValidationError``."""
    def get_post(self, user: _Viewer, id: int) -> PostWithVotes:
        """One post with its votes (``user=None``: anonymous). Raises
        ``NotFound`` (also for someone else's unpublished post)."""
    def list_posts(
        self,
        user: _Viewer,
        limit: int = 10,
        skip: int = 0,
        search: str = "",
        *,
        after: Optional[int] = None,
        tag: Optional[str] = None,
        author: Optional[str] = None,
        voted_by: Optional[str] = None,
    ) -> List[PostWithVotes]:
        """Posts visible to ``user`` (``None``: anonymous), newest first;
        ``limit`` 1..=100, ``skip`` >= 0, ``search`` a case-insensitive
        title substring; ``after=<id>`` keeps only posts with a smaller id
        (keyset paging); ``tag``, ``author`` and ``voted_by`` (usernames)
        filter."""
    def feed(
        self,
        user: _Actor,
        limit: int = 10,
        skip: int = 0,
        search: str = "",
        *,
        after: Optional[int] = None,
        tag: Optional[str] = None,
        author: Optional[str] = None,
        voted_by: Optional[str] = None,
    ) -> List[PostWithVotes]:
        """The published posts of the users ``user`` follows, newest first,
        paged and filtered like ``list_posts``."""
    def tags(self, limit: int = 10, skip: int = 0) -> List[TagCount]:
        """The tags of published posts with their counts, most used first."""
    def update_post(
        self,
        user: _Actor,
        id: int,
        title: str,
        content: str,
        published: bool = True,
        *,
        description: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
    ) -> Post:
        """Replaces a post's fields (``description`` and ``tags`` only when
        given). Raises ``NotFound``, ``Forbidden`` or ``ValidationError``."""
    def delete_post(self, user: _Actor, id: int) -> None:
        """Deletes a post and its votes. Raises ``NotFound`` or ``Forbidden``."""
    def comments(
        self,
        user: _Viewer,
        post_id: int,
        limit: int = 10,
        skip: int = 0,
        *,
        after: Optional[int] = None,
    ) -> List[Comment]:
        """The comments on a post ``user`` can see (``None``: anonymous),
        oldest first. Raises ``NotFound``."""
    def add_comment(self, user: _Actor, post_id: int, body: str) -> Comment:
        """``user`` comments on a post. Raises ``ValidationError``, ``NotFound``."""
    def delete_comment(self, user: _Actor, post_id: int, comment_id: int) -> None:
        """Deletes one of ``user``'s comments. Raises ``NotFound``
        (``COMMENT_NOT_FOUND``), ``Forbidden`` (``NOT_COMMENT_AUTHOR``)."""
    def vote(self, user: _Actor, post_id: int, dir: int) -> VoteResult:
        """``dir=1`` adds the vote (``Conflict`` if there), ``dir=0`` removes
        it (``NotFound`` if none). Raises ``NotFound`` for an unknown or
        invisible post, ``ValidationError`` for another ``dir``."""

@disjoint_base
class AsyncAgora(_Service):
    """Agora's services with awaitable methods, for asyncio apps (FastAPI,
    Starlette): the arguments, rules and docstrings of :class:`Agora`.

    Typed as ``agora.AsyncAgora``, the subclass that makes each method a
    coroutine function (the native methods return awaitables).
    """

    def register(
        self,
        email: str,
        password: str,
        *,
        username: Optional[str] = None,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> _Coroutine[User]: ...
    def login(
        self,
        email: str,
        password: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> _Coroutine[Token]: ...
    def refresh(
        self,
        refresh_token: str,
        *,
        client_ip: Optional[str] = None,
        user_agent: Optional[str] = None,
    ) -> _Coroutine[Token]: ...
    def logout(self, token: _AccessToken) -> _Coroutine[None]: ...
    def logout_all(self, token: _AccessToken) -> _Coroutine[int]: ...
    def sessions(self, token: _AccessToken) -> _Coroutine[List[Session]]: ...
    def end_session(self, token: _AccessToken, session_id: str) -> _Coroutine[None]: ...
    def change_password(
        self, token: _AccessToken, current_password: str, new_password: str
    ) -> _Coroutine[None]: ...
    def delete_account(self, token: _AccessToken, password: str) -> _Coroutine[None]: ...
    def forgot_password(
        self, email: str, *, client_ip: Optional[str] = None
    ) -> _Coroutine[None]: ...
    def request_verify_token(
        self, email: str, *, client_ip: Optional[str] = None
    ) -> _Coroutine[None]: ...
    def reset_password(
        self, token: str, new_password: str, *, client_ip: Optional[str] = None
    ) -> _Coroutine[None]: ...
    def verify(self, token: str, *, client_ip: Optional[str] = None) -> _Coroutine[User]: ...
    def authenticate(self, access_token: _AccessToken) -> _Coroutine[User]: ...
    def get_user(self, id: int) -> _Coroutine[User]: ...
    def update_profile(
        self,
        user: _Actor,
        *,
        username: Optional[str] = ...,
        bio: Optional[str] = ...,
        image: Optional[str] = ...,
    ) -> _Coroutine[User]: ...
    def profile(self, user: _Viewer, username: str) -> _Coroutine[Profile]: ...
    def follow(self, user: _Actor, username: str) -> _Coroutine[Profile]: ...
    def unfollow(self, user: _Actor, username: str) -> _Coroutine[Profile]: ...
    def health(self) -> _Coroutine[None]: ...
    def health_answer(self) -> _Coroutine[Tuple[int, bytes, List[Tuple[str, str]]]]: ...
    def create_post(
        self,
        user: _Actor,
        title: str,
        content: str,
        published: bool = True,
        *,
        description: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
    ) -> _Coroutine[Post]: ...
    def get_post(self, user: _Viewer, id: int) -> _Coroutine[PostWithVotes]: ...
    def list_posts(
        self,
        user: _Viewer,
        limit: int = 10,
        skip: int = 0,
        search: str = "",
        *,
        after: Optional[int] = None,
        tag: Optional[str] = None,
        author: Optional[str] = None,
        voted_by: Optional[str] = None,
    ) -> _Coroutine[List[PostWithVotes]]: ...
    def feed(
        self,
        user: _Actor,
        limit: int = 10,
        skip: int = 0,
        search: str = "",
        *,
        after: Optional[int] = None,
        tag: Optional[str] = None,
        author: Optional[str] = None,
        voted_by: Optional[str] = None,
    ) -> _Coroutine[List[PostWithVotes]]: ...
    def tags(self, limit: int = 10, skip: int = 0) -> _Coroutine[List[TagCount]]: ...
    def update_post(
        self,
        user: _Actor,
        id: int,
        title: str,
        content: str,
        published: bool = True,
        *,
        description: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
    ) -> _Coroutine[Post]: ...
    def delete_post(self, user: _Actor, id: int) -> _Coroutine[None]: ...
    def comments(
        self,
        user: _Viewer,
        post_id: int,
        limit: int = 10,
        skip: int = 0,
        *,
        after: Optional[int] = None,
    ) -> _Coroutine[List[Comment]]: ...
    def add_comment(self, user: _Actor, post_id: int, body: str) -> _Coroutine[Comment]: ...
    def delete_comment(self, user: _Actor, post_id: int, comment_id: int) -> _Coroutine[None]: ...
    def vote(self, user: _Actor, post_id: int, dir: int) -> _Coroutine[VoteResult]: ...

@final
class Server:
    """A running Agora HTTP server started by :func:`serve`; a context
    manager that stops it at the end of the block."""

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8000``, with the real port."""
    @property
    def host(self) -> str:
        """The address the server listens on."""
    @property
    def port(self) -> int:
        """The port the server listens on (the real one with ``port=0``)."""
    @property
    def running(self) -> bool:
        """Whether the server is still serving."""
    def stop(self, timeout: float = 10.0) -> None:
        """Stops accepting connections, lets requests in flight finish for up
        to ``timeout`` seconds, and waits for the server to end."""
    def wait(self) -> None:
        """Blocks until the server stops; Ctrl-C raises ``KeyboardInterrupt``."""
    def __enter__(self) -> Server: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: _Path = "sqlite:///agora.db",
    **settings: Unpack[_ServerSettings],
) -> Server:
    """Starts Agora's HTTP API (the Rust axum server) in the background and
    returns at once; ``port=0`` picks a free port (see ``Server.url``).

    The settings are those of :class:`Agora` and the server's own, each
    defaulting to the servers' default: ``body_limit`` (bytes, 64 KiB),
    ``cors_origins`` (none: CORS off), the HTTP ``header_timeout``,
    ``body_timeout`` and ``idle_timeout``, ``max_connections`` and
    ``shutdown_timeout`` (for requests in flight at ``stop()``).
    ``pool_max_connections``, ``pool_acquire_timeout`` and
    ``pool_statement_timeout`` are older names of ``db_max_connections``,
    ``db_acquire_timeout`` and ``db_statement_timeout``."""

def serve_from_env(**settings: Unpack[_ServerEnvSettings]) -> Server:
    """Starts the HTTP server configured by the ``AGORA_*`` environment
    variables exactly as the Rust servers read them (``AGORA_BIND`` is the
    address); keyword arguments take precedence."""

def _settings() -> List[Tuple[str, str, str, bool]]:
    """Every setting: ``(argument, variable, field, taken by Agora)``, one
    per ``AGORA_*`` variable of the servers (``False``: :func:`serve`
    only)."""

def hash_password(password: str) -> str:
    """Hashes ``password`` with argon2id (m=19456 KiB, t=2, p=1) and a fresh
    salt; returns the PHC string. Releases the GIL while it hashes."""

def verify_password(password: str, hash: str) -> bool:
    """Whether ``password`` matches the PHC string ``hash`` (``False`` for a
    malformed hash). Releases the GIL while it hashes."""

def needs_rehash(hash: str) -> bool:
    """Whether ``hash`` is weaker than the current parameters (or another
    algorithm, or malformed) and should be replaced after the next login."""

def _set_error_defaults(module: ModuleType) -> None:
    """Sets the default ``code``, ``status_code`` and ``headers`` of the
    exception classes in ``module`` (``agora._errors``) from Rust."""
