"""The exceptions Agora raises, rooted at :class:`AgoraError`.

Each exception carries what the Agora HTTP API answers for it: the
``status_code``, the body's stable ``code`` (``"POST_NOT_FOUND"``) and
``detail``, and the ``headers``; so a FastAPI app can map any of them in one
place::

    except agora.AgoraError as e:
        raise HTTPException(e.status_code, detail=e.detail, headers=e.headers)

This module only defines the class hierarchy: the native module fills in
every value from Agora's Rust core (one table of codes and statuses), both
for the exceptions it raises and as each class's defaults. They are plain
Python classes, so they can be caught, subclassed and raised in tests.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, TypedDict

from . import _agora

__all__ = [
    "AgoraError",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "ForkedProcess",
    "InvalidCredentials",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "ValidationError",
]


class FieldError(TypedDict):
    """One validation problem, as FastAPI reports it.

    ``loc`` is where (``["body", "email"]``, ``["query", "limit"]``), ``msg``
    a human-readable explanation, ``type`` a short category such as
    ``"missing"``, ``"value_error"`` or ``"string_too_short"``.
    """

    loc: List[str]
    msg: str
    type: str


class AgoraError(Exception):
    """Base class of every Agora error; raised itself for unexpected failures.

    ``str(exc)`` and ``exc.message`` are safe to show to clients: for server
    errors (5xx) they are fixed text, and the cause is only attached as
    ``__cause__`` for tracebacks and logs.

    The class attributes ``code``, ``status_code`` and ``headers`` are what
    an instance created in Python carries unless given others.
    """

    #: The stable, machine-readable error code, e.g. ``"POST_NOT_FOUND"``.
    code: str
    #: The HTTP status a web framework should answer with.
    status_code: int
    #: Headers the HTTP answer should carry (``WWW-Authenticate`` for
    #: :class:`Unauthorized`, ``Retry-After`` for :class:`RateLimited`).
    headers: Dict[str, str]

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status_code: Optional[int] = None,
        detail: Any = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        """Creates the error with its client-safe ``message``; the other
        values default to the class's."""
        super().__init__(message)
        self.message = message
        self.code = self.code if code is None else code
        self.status_code = self.status_code if status_code is None else status_code
        #: The ``detail`` of the HTTP error body: the message, or the field
        #: errors of a :class:`ValidationError`.
        self.detail: Any = message if detail is None else detail
        self.headers = dict(self.headers if headers is None else headers)

    def to_dict(self) -> Dict[str, Any]:
        """The HTTP API's error body: ``{"detail": ..., "code": ...}``."""
        return {"detail": self.detail, "code": self.code}

    def __repr__(self) -> str:
        """``ClassName('message')``."""
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(AgoraError, ValueError):
    """The input is malformed or breaks a rule (HTTP 422).

    ``errors`` lists every problem as :class:`FieldError` dicts
    (``{"loc": [...], "msg": ..., "type": ...}``), which is also the
    ``detail`` of the HTTP answer.
    """

    def __init__(
        self, message: str, errors: Optional[List[FieldError]] = None, **fields: Any
    ) -> None:
        """Creates the error with its ``message`` and field ``errors``."""
        fields.setdefault("detail", list(errors or []))
        super().__init__(message, **fields)

    @property
    def errors(self) -> List[FieldError]:
        """The field errors, as FastAPI's 422 bodies carry them."""
        errors: List[FieldError] = self.detail
        return errors


class BadRequest(AgoraError):
    """A well-formed request that cannot be honoured (HTTP 400): a password
    reset or address verification token that is unknown, used up, expired
    or of the other kind (``code`` ``RESET_PASSWORD_BAD_TOKEN`` or
    ``VERIFY_USER_BAD_TOKEN``)."""


class InvalidCredentials(AgoraError):
    """Login with an unknown email or a wrong password; the same error for
    both (HTTP 403, ``"Invalid Credentials"``, as the original API answers)."""


class Unauthorized(AgoraError):
    """No valid access token: missing, malformed, tampered, expired, or its
    user is gone (HTTP 401 with ``WWW-Authenticate: Bearer``)."""


class Forbidden(AgoraError):
    """Authenticated, but not allowed to act on this object, such as someone
    else's post (HTTP 403); also a correct login refused until the address
    is verified (``LOGIN_USER_NOT_VERIFIED``, with
    ``require_verified_email=True``)."""


class NotFound(AgoraError, LookupError):
    """The object does not exist or is not visible to the caller (HTTP 404)."""


class Conflict(AgoraError):
    """The operation collides with existing state: a taken email, a repeated
    vote (HTTP 409)."""


class PayloadTooLarge(AgoraError):
    """A request body over the configured limit (HTTP 413); raised by the
    HTTP server only."""


class RateLimited(AgoraError):
    """Too many attempts (HTTP 429); retry after ``retry_after`` seconds
    (also the ``Retry-After`` header)."""

    #: Seconds until a retry may succeed.
    retry_after: int

    def __init__(self, message: str, retry_after: int = 0, **fields: Any) -> None:
        """Creates the error with its ``message`` and ``retry_after`` seconds."""
        fields.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(message, **fields)
        self.retry_after = retry_after


class Unavailable(AgoraError):
    """The database (or Redis) is unreachable; retrying later may work
    (HTTP 503). Also raised by ``Agora(...)`` when the database cannot be
    opened, with the driver's error as ``__cause__``."""


class ForkedProcess(AgoraError, RuntimeError):
    """An :class:`Agora` or :class:`AsyncAgora` used in another process than
    the one that created it: a child of ``os.fork()`` (``gunicorn
    --preload``, ``multiprocessing`` with the ``fork`` start method) has a
    copy of the instance but not its database connections and threads, so
    every call raises this at once (HTTP 500, ``INTERNAL_ERROR``) instead of
    hanging. Create the instance in each worker process, after the fork:
    e.g. in FastAPI's lifespan handler."""


_agora._set_error_defaults(sys.modules[__name__])
