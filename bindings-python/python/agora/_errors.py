"""The exceptions Agora raises, rooted at :class:`AgoraError`.

Each class carries the HTTP ``status_code`` a web framework should answer
with, and ``detail`` / ``headers`` shaped like the Agora HTTP API's error
bodies, so a FastAPI app can map any of them in one place::

    except agora.AgoraError as e:
        raise HTTPException(e.status_code, detail=e.detail, headers=e.headers)

The native module creates them (one mapping function in Rust); they are plain
Python classes, so they can be caught, subclassed and raised in tests.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, TypedDict

__all__ = [
    "AgoraError",
    "Conflict",
    "FieldError",
    "Forbidden",
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
    """

    #: The HTTP status a web framework should answer with.
    status_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        """Creates the error with its client-safe ``message``."""
        super().__init__(message)
        self.message = message

    @property
    def detail(self) -> Any:
        """The ``detail`` of the HTTP error body: the message, or the field
        errors of a :class:`ValidationError`."""
        return self.message

    @property
    def headers(self) -> Dict[str, str]:
        """Headers the HTTP answer should carry (``WWW-Authenticate`` for
        :class:`Unauthorized`, ``Retry-After`` for :class:`RateLimited`)."""
        return {}

    def to_dict(self) -> Dict[str, Any]:
        """The HTTP API's error body: ``{"detail": ...}``."""
        return {"detail": self.detail}

    def __repr__(self) -> str:
        """``ClassName('message')``."""
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(AgoraError, ValueError):
    """The input is malformed or breaks a rule (HTTP 422).

    ``errors`` lists every problem as :class:`FieldError` dicts
    (``{"loc": [...], "msg": ..., "type": ...}``), which is also the
    ``detail`` of the HTTP answer.
    """

    status_code: ClassVar[int] = 422

    def __init__(self, message: str, errors: Optional[List[FieldError]] = None) -> None:
        """Creates the error with its ``message`` and field ``errors``."""
        super().__init__(message)
        self.errors: List[FieldError] = list(errors or [])

    @property
    def detail(self) -> Any:
        """The field errors, as FastAPI's 422 bodies carry them."""
        return self.errors


class InvalidCredentials(AgoraError):
    """Login with an unknown email or a wrong password; the same error for
    both (HTTP 403, ``"Invalid Credentials"``, as the original API answers)."""

    status_code: ClassVar[int] = 403


class Unauthorized(AgoraError):
    """No valid access token: missing, malformed, tampered, expired, or its
    user is gone (HTTP 401 with ``WWW-Authenticate: Bearer``)."""

    status_code: ClassVar[int] = 401

    @property
    def headers(self) -> Dict[str, str]:
        """``{"WWW-Authenticate": "Bearer"}``."""
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AgoraError):
    """Authenticated, but not allowed to act on this object, such as someone
    else's post (HTTP 403)."""

    status_code: ClassVar[int] = 403


class NotFound(AgoraError, LookupError):
    """The object does not exist or is not visible to the caller (HTTP 404)."""

    status_code: ClassVar[int] = 404


class Conflict(AgoraError):
    """The operation collides with existing state: a taken email, a repeated
    vote (HTTP 409)."""

    status_code: ClassVar[int] = 409


class PayloadTooLarge(AgoraError):
    """A request body over the configured limit (HTTP 413); raised by the
    HTTP server only."""

    status_code: ClassVar[int] = 413


class RateLimited(AgoraError):
    """Too many attempts (HTTP 429); retry after ``retry_after`` seconds."""

    status_code: ClassVar[int] = 429

    def __init__(self, message: str, retry_after: int = 0) -> None:
        """Creates the error with its ``message`` and ``retry_after`` seconds."""
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> Dict[str, str]:
        """``{"Retry-After": "<seconds>"}``."""
        return {"Retry-After": str(self.retry_after)}


class Unavailable(AgoraError):
    """The database is unreachable; retrying later may work (HTTP 503)."""

    status_code: ClassVar[int] = 503
