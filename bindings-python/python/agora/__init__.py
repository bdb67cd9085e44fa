"""Agora: users, JWT login, posts and votes, profiles, follows, tags and
comments, from Python.

A typed binding to Agora's Rust core (the "social media API" of the popular
FastAPI course, rebuilt as a library). Every rule, every hash and every SQL
query runs in Rust; this package gives them a Pythonic face::

    import agora

    app = agora.Agora("sqlite:///agora.db")
    user = app.register("ada@example.com", "correct horse battery")
    token = app.login("ada@example.com", "correct horse battery")
    me = app.authenticate(token.access_token)
    post = app.create_post(me, "Hello", "First post")
    app.vote(me, post.id, 1)
    [page] = app.list_posts(me, search="hello")
    page.to_dict()   # {"Post": {...}, "votes": 1}, the HTTP API's JSON
    token = app.refresh(token.refresh_token)   # rotation: a new token pair
    app.sessions(token)                        # [agora.Session(current=True)]
    app.follow(me, "grace")                    # agora.Profile(following=True)
    app.logout(token)

Account recovery (with ``public_url`` and a ``mailer=`` callable or an
SMTP server): ``forgot_password(email)`` mails a reset link whose token
``reset_password(token, new_password)`` takes; ``request_verify_token``
and ``verify(token)`` prove an address.

* :class:`Agora` blocks (releasing the GIL) and is safe to share across
  threads; :class:`AsyncAgora` has the same methods as coroutines.
* ``mailer=`` takes a callable receiving a :class:`Mail` dict.
* Errors derive from :class:`AgoraError` and carry the HTTP answer's
  ``code`` (e.g. ``"POST_NOT_FOUND"``), ``status_code``, ``detail`` and
  ``headers``, all from Rust.
* :func:`hash_password`, :func:`verify_password` and :func:`needs_rehash`
  are the argon2id primitives alone.
* :func:`serve` runs the Rust HTTP server in the background.
* Settings: every ``AGORA_*`` variable of the Rust servers is a keyword
  argument named in lower case without ``AGORA_`` (``redis_url``,
  ``jwt_leeway``, ...); ``Agora.from_env()``, ``AsyncAgora.from_env()`` and
  :func:`serve_from_env` read the variables themselves.
* Log events of the Rust side (the audit log included) go to Python's
  :mod:`logging`: logger ``agora`` and its children (``agora.audit``).
"""

from ._agora import (
    Agora,
    Comment,
    Post,
    PostWithVotes,
    Profile,
    Server,
    Session,
    TagCount,
    Token,
    User,
    VoteResult,
    __version__,
    hash_password,
    needs_rehash,
    serve,
    serve_from_env,
    verify_password,
)
from ._async import Actor, AsyncAgora
from ._mail import Mail
from ._errors import (
    AgoraError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    ForkedProcess,
    InvalidCredentials,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationError,
)

__all__ = [
    "Actor",
    "Agora",
    "AgoraError",
    "AsyncAgora",
    "BadRequest",
    "Comment",
    "Conflict",
    "FieldError",
    "Forbidden",
    "ForkedProcess",
    "InvalidCredentials",
    "Mail",
    "NotFound",
    "PayloadTooLarge",
    "Post",
    "PostWithVotes",
    "Profile",
    "RateLimited",
    "Server",
    "Session",
    "TagCount",
    "Token",
    "Unauthorized",
    "Unavailable",
    "User",
    "ValidationError",
    "VoteResult",
    "__version__",
    "hash_password",
    "needs_rehash",
    "serve",
    "serve_from_env",
    "verify_password",
]
