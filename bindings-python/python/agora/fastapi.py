"""Agora's HTTP API as a FastAPI router: the routes, status codes, JSON
bodies and error answers of the Rust servers, on :class:`agora.Agora` or
:class:`agora.AsyncAgora`.

Needs the optional extra: ``pip install "agora-auth[fastapi]"`` (FastAPI 0.110 or
newer, Pydantic 2). ``import agora`` alone never imports FastAPI::

    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    import agora
    import agora.fastapi

    @asynccontextmanager
    async def lifespan(app):
        app.state.agora = agora.AsyncAgora("sqlite:///agora.db")  # in each worker
        yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(agora.fastapi.create_router())
    agora.fastapi.install(app)     # error bodies, 422 shape, 404/405, body limit

    @app.get("/whoami")
    async def whoami(user: agora.fastapi.CurrentUser) -> str:
        return f"hello user {user.id}"

* :func:`create_router`: every endpoint of the servers that the binding
  serves (``POST /users``, ``POST /login`` with the OAuth2 form or JSON,
  sessions, recovery and verification mail, posts, votes, profiles,
  follows, the feed, tags, comments, ``/health``), with Pydantic response
  models and the error answers declared in the OpenAPI document.
* :data:`current_user` (:data:`CurrentUser`), :data:`optional_user`
  (:data:`OptionalUser`) and :data:`bearer_token` (:data:`BearerToken`):
  dependencies for your own routes; they work in ``def`` and ``async def``
  routes, over ``Agora`` (run in the thread pool) or ``AsyncAgora``.
* :func:`install`: exception handlers giving every :class:`agora.AgoraError`
  the servers' body ``{"detail": ..., "code": ...}`` and headers
  (``WWW-Authenticate`` on 401, ``Retry-After`` on 429), FastAPI's request
  validation errors the servers' 422 ``{"detail": [{"loc", "msg",
  "type"}], "code": "VALIDATION_ERROR"}``, unknown routes and methods
  ``NOT_FOUND``/``METHOD_NOT_ALLOWED``, and the servers' request body
  limit (64 KiB: 413 ``PAYLOAD_TOO_LARGE``).
"""

import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, cast
from urllib.parse import parse_qsl

try:
    from fastapi import APIRouter, Depends, FastAPI, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from fastapi.security import OAuth2PasswordBearer
    from pydantic import AliasChoices, BaseModel, ConfigDict, Field
    from pydantic import ValidationError as PydanticValidationError
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.routing import Match
    from starlette.types import ASGIApp, Message as ASGIMessage, Receive, Scope, Send
except ImportError as missing:  # exercised by a test that blocks the import

    def _distribution() -> str:
        """The distribution this package is installed under (``agora-auth``)."""
        try:
            from importlib.metadata import packages_distributions

            return (packages_distributions().get("agora") or ["agora-auth"])[0]
        except Exception:  # Python 3.9 has no packages_distributions
            return "agora-auth"

    raise ImportError(
        f"agora.fastapi needs FastAPI and Pydantic 2 ({missing}): "
        f'pip install "{_distribution()}[fastapi]"',
        name=getattr(missing, "name", None),
    ) from missing

import agora
from . import _agora

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "MAIL_ON_ITS_WAY",
    "AccountDeletion",
    "AgoraBearer",
    "AgoraDependencies",
    "BearerToken",
    "BodyLimitMiddleware",
    "Comment",
    "CommentCreate",
    "EmailRequest",
    "CurrentUser",
    "FieldErrorItem",
    "Health",
    "HttpError",
    "Live",
    "LoginRequest",
    "Message",
    "OptionalUser",
    "PasswordChange",
    "Post",
    "PostCreate",
    "PostWithVotes",
    "Profile",
    "ProfileUpdate",
    "RefreshRequest",
    "ResetPasswordRequest",
    "Service",
    "Session",
    "TagCount",
    "Token",
    "User",
    "UserCreate",
    "ValidationErrorBody",
    "VerifyRequest",
    "VoteRequest",
    "agora_error_handler",
    "bearer_token",
    "create_router",
    "current_user",
    "get_agora",
    "http_error_handler",
    "install",
    "optional_user",
    "validation_error_handler",
]

_log = logging.getLogger("agora.fastapi")

#: The servers' default request body limit (bytes).
DEFAULT_BODY_LIMIT = 64 * 1024

#: Either service: ``Agora`` (blocking, called in the thread pool) or
#: ``AsyncAgora`` (awaited).
Service = Union[agora.Agora, agora.AsyncAgora]


# --- Response models: the servers' JSON shapes ------------------------------


class User(BaseModel):
    """A user, as ``POST /users``, ``GET /users/{id}`` and ``GET /users/me``
    answer it (``email`` is ``null`` for others' addresses with
    ``hide_emails=True``)."""

    id: int
    email: Optional[str]
    created_at: datetime
    username: Optional[str]
    bio: Optional[str]
    image: Optional[str]
    email_verified: bool


class Post(BaseModel):
    """A post with its owner."""

    id: int
    title: str
    content: str
    published: bool
    created_at: datetime
    owner_id: int
    owner: User
    description: Optional[str] = None
    tags: List[str] = []
    updated_at: Optional[datetime] = None


class PostWithVotes(BaseModel):
    """A post with its vote count and whether the caller voted:
    ``{"Post": {...}, "votes": n, "voted": bool}``."""

    model_config = ConfigDict(populate_by_name=True)

    post: Post = Field(alias="Post")
    votes: int
    voted: bool


class Token(BaseModel):
    """``POST /login`` and ``POST /token/refresh``: the session's tokens."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class Session(BaseModel):
    """One of the caller's sessions (``GET /sessions``)."""

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: Optional[str]
    ip: Optional[str]
    current: bool


class Profile(BaseModel):
    """A user's public profile; ``following``: whether the caller follows them."""

    username: str
    bio: Optional[str]
    image: Optional[str]
    following: bool


class TagCount(BaseModel):
    """A tag and how many published posts carry it."""

    tag: str
    posts: int


class Comment(BaseModel):
    """A comment on a post."""

    id: int
    post_id: int
    body: str
    created_at: datetime
    author: User


class Message(BaseModel):
    """``{"message": ...}``: the greeting, a vote's outcome, a mail request."""

    message: str


class HealthCheck(BaseModel):
    """One dependency's check; ``reason`` only when it failed."""

    status: str
    latency_ms: float
    reason: Optional[str] = None


class Health(BaseModel):
    """``GET /health``; on 503 also the error body's ``detail`` and ``code``."""

    status: str
    database: str
    checks: Dict[str, HealthCheck]


class Live(BaseModel):
    """``GET /health/live``: ``{"status": "ok"}``."""

    status: str


class HttpError(BaseModel):
    """Every error answer but 422: ``{"detail": <message>, "code": <CODE>}``."""

    detail: str
    code: str


class FieldErrorItem(BaseModel):
    """One problem of a 422 answer: where, what, which kind."""

    loc: List[str]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """A 422 answer: ``{"detail": [field errors], "code": "VALIDATION_ERROR"}``."""

    detail: List[FieldErrorItem]
    code: str


# --- Request bodies: strict, as the servers parse JSON (no "1" for 1) --------


class _Body(BaseModel):
    model_config = ConfigDict(strict=True)


class UserCreate(_Body):
    """``POST /users``; Agora checks the address, password and username."""

    email: str
    password: str
    username: Optional[str] = None


class ProfileUpdate(_Body):
    """``PUT /users/me``: an omitted field is kept, ``null`` clears it."""

    username: Optional[str] = None
    bio: Optional[str] = None
    image: Optional[str] = None


class PostCreate(_Body):
    """``POST /posts`` and ``PUT /posts/{id}``."""

    title: str
    content: str
    published: bool = True
    description: Optional[str] = None
    tags: Optional[List[str]] = None


class VoteRequest(_Body):
    """``POST /vote``: ``dir`` 1 votes, 0 takes the vote back."""

    post_id: int
    dir: int


class CommentCreate(_Body):
    """``POST /posts/{id}/comments``."""

    body: str


class RefreshRequest(_Body):
    """``POST /token/refresh``."""

    refresh_token: str


class PasswordChange(_Body):
    """``PUT /users/me/password``."""

    current_password: str
    new_password: str


class AccountDeletion(_Body):
    """``DELETE /users/me``: the password, to prove it is the user."""

    password: str


class EmailRequest(_Body):
    """``POST /forgot-password`` and ``POST /request-verify-token``."""

    email: str


class ResetPasswordRequest(_Body):
    """``POST /reset-password``: a reset link's token and the new password."""

    token: str
    new_password: str


class VerifyRequest(_Body):
    """``POST /verify``: a verification link's token."""

    token: str


class LoginRequest(_Body):
    """``POST /login`` as JSON (``username`` is accepted for ``email``)."""

    email: str = Field(validation_alias=AliasChoices("email", "username"))
    password: str


# --- Dependencies ------------------------------------------------------------

#: What a 401 says, as the servers say it.
_UNAUTHORIZED = "Could not validate credentials"


def _unauthorized() -> agora.Unauthorized:
    """No bearer token: the plain ``WWW-Authenticate: Bearer`` challenge."""
    return agora.Unauthorized(_UNAUTHORIZED)


def _invalid_token() -> agora.Unauthorized:
    """A bearer token that was sent and refused: the servers' challenge
    ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750)."""
    return agora.Unauthorized(_UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _bearer(header: Optional[str]) -> Optional[str]:
    """The token of an ``Authorization`` header as the servers read it
    (scheme case-insensitive, token trimmed); ``None`` without a header;
    :class:`agora.Unauthorized` for any other header."""
    if header is None:
        return None
    scheme, space, token = header.partition(" ")
    token = token.strip()
    if not space or scheme.lower() != "bearer" or not token:
        raise _unauthorized()
    return token


class AgoraBearer(OAuth2PasswordBearer):
    """The OAuth2 password flow in the OpenAPI document (Swagger UI's
    "Authorize" logs in at ``token_url``); as a dependency, the bearer token
    of the request, or ``None`` without an ``Authorization`` header (any
    other header is :class:`agora.Unauthorized`, as on the servers)."""

    def __init__(self, token_url: str = "/login") -> None:
        """``token_url``: where ``POST /login`` is served."""
        super().__init__(tokenUrl=token_url, scheme_name="oauth2", auto_error=False)

    async def __call__(self, request: Request) -> Optional[str]:  # type: ignore[override]
        return _bearer(request.headers.get("authorization"))


async def _call(service: Service, name: str, *args: Any, **kwargs: Any) -> Any:
    """``service.<name>(...)``: awaited on ``AsyncAgora``; on ``Agora`` run in
    the thread pool (the call releases the GIL), so the event loop never
    blocks."""
    method = getattr(service, name)
    if isinstance(service, _agora.AsyncAgora):
        return await method(*args, **kwargs)
    return await run_in_threadpool(method, *args, **kwargs)


async def _with_token(service: Service, name: str, token: str, *args: Any, **kwargs: Any) -> Any:
    """``service.<name>(token, ...)`` for a token the request presented: its
    refusal (``Unauthorized``) gets the ``invalid_token`` challenge."""
    try:
        return await _call(service, name, token, *args, **kwargs)
    except agora.Unauthorized as refused:
        raise _invalid_token() from refused


def _state_service(request: Request) -> Service:
    """``request.app.state.agora``: the instance your lifespan handler opened."""
    service = getattr(request.app.state, "agora", None)
    if not isinstance(service, (agora.Agora, _agora.AsyncAgora)):
        raise RuntimeError(
            "agora.fastapi found no Agora instance in app.state.agora: open one "
            "(agora.AsyncAgora(...) or agora.Agora(...)) in the app's lifespan handler, "
            "or pass service= to create_router() / AgoraDependencies()"
        )
    return service


class AgoraDependencies:
    """The dependencies of one Agora service: :attr:`service`,
    :attr:`bearer_token`, :attr:`current_user` and :attr:`optional_user`.

    ``service`` is an ``Agora`` or ``AsyncAgora`` instance, a callable taking
    the ``Request`` and returning one, or ``None`` (the default) for
    ``request.app.state.agora``, set in a lifespan handler (so that each
    worker process opens its own). ``token_url`` is where ``POST /login`` is
    served, for the OpenAPI document's password flow.
    """

    def __init__(
        self,
        service: Union[Service, Callable[[Request], Service], None] = None,
        *,
        token_url: str = "/login",
    ) -> None:
        """Binds the dependencies to ``service`` and ``token_url``."""
        if service is None:
            resolve: Callable[[Request], Service] = _state_service
        elif isinstance(service, (agora.Agora, _agora.AsyncAgora)):
            instance = service
            resolve = lambda request: instance  # noqa: E731
        elif callable(service):
            resolve = service
        else:
            raise TypeError(
                f"service must be an Agora, an AsyncAgora or a callable, not {type(service).__name__}"
            )
        scheme = AgoraBearer(token_url)

        def get_service(request: Request) -> Service:
            """The Agora service."""
            return resolve(request)

        async def bearer_token(token: Annotated[Optional[str], Depends(scheme)]) -> str:
            """The request's bearer token (401 without one), for calls that
            act on its session (``logout``, ``sessions`` ...)."""
            if token is None:
                raise _unauthorized()
            return token

        async def current_user(
            token: Annotated[str, Depends(bearer_token)],
            service: Annotated[Any, Depends(get_service)],
        ) -> agora.User:
            """The caller, from the bearer token: 401 when it is missing or
            refused (``WWW-Authenticate: Bearer error="invalid_token"``)."""
            user: agora.User = await _with_token(service, "authenticate", token)
            return user

        async def optional_user(
            token: Annotated[Optional[str], Depends(scheme)],
            service: Annotated[Any, Depends(get_service)],
        ) -> Optional[agora.User]:
            """The caller, or ``None`` without an ``Authorization`` header; a
            header that is not a valid bearer token is still 401."""
            if token is None:
                return None
            user: agora.User = await _with_token(service, "authenticate", token)
            return user

        #: The security scheme (the OpenAPI password flow).
        self.scheme = scheme
        #: Dependency: the service.
        self.service = get_service
        #: Dependency: the bearer token (``str``), 401 without one.
        self.bearer_token = bearer_token
        #: Dependency: the caller (:class:`agora.User`), 401 without a valid token.
        self.current_user = current_user
        #: Dependency: the caller or ``None`` (anonymous).
        self.optional_user = optional_user


_default = AgoraDependencies()

#: Dependency: the service in ``request.app.state.agora``.
get_agora = _default.service
#: Dependency: the caller's bearer token (``str``); 401 without one.
bearer_token = _default.bearer_token
#: Dependency: the caller (:class:`agora.User`) over ``app.state.agora``;
#: 401 without a valid access token.
current_user = _default.current_user
#: Dependency: the caller, or ``None`` without an ``Authorization`` header.
optional_user = _default.optional_user

#: ``user: CurrentUser`` in a route's parameters: the signed-in caller.
CurrentUser = Annotated[agora.User, Depends(current_user)]
#: ``user: OptionalUser``: the caller or ``None``.
OptionalUser = Annotated[Optional[agora.User], Depends(optional_user)]
#: ``token: BearerToken``: the raw access token.
BearerToken = Annotated[str, Depends(bearer_token)]


# --- The router --------------------------------------------------------------

_DESCRIPTIONS = {
    400: "The link's token is unknown, spent or expired",
    401: "No bearer token (`WWW-Authenticate: Bearer`), or a refused one: malformed, invalid, "
    'expired or of an ended session (`WWW-Authenticate: Bearer error="invalid_token"`)',
    403: "Not allowed",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with existing state",
    413: "The request body is over the limit",
    422: "Invalid input: each problem with its location",
    429: "Too many attempts; retry after `Retry-After` seconds",
    503: "The database does not answer; retry later",
}

_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`, or `Bearer error=\"invalid_token\"`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until a retry may succeed", "schema": {"type": "integer"}}},
}


def _responses(*statuses: int, **descriptions: str) -> Dict[Union[int, str], Dict[str, Any]]:
    """The OpenAPI ``responses=`` of the error answers ``statuses`` (503 is
    added: every route that uses the database may answer it);
    ``descriptions`` (``e404="..."``) replace the generic text."""
    answers: Dict[Union[int, str], Dict[str, Any]] = {}
    for status in sorted({*statuses, 503}):
        answer: Dict[str, Any] = {
            "model": ValidationErrorBody if status == 422 else HttpError,
            "description": descriptions.get(f"e{status}", _DESCRIPTIONS[status]),
        }
        if status in _HEADERS:
            answer["headers"] = _HEADERS[status]
        answers[status] = answer
    return answers


def _json(value: Any, status_code: int = 200) -> JSONResponse:
    """A result's ``to_dict()`` (the servers' exact JSON) as the answer."""
    return JSONResponse(value, status_code=status_code)


def _empty() -> Response:
    return Response(status_code=204)


def _client(request: Request) -> Dict[str, Optional[str]]:
    """The caller's IP address and User-Agent, for Agora's throttling and
    session list (behind a proxy, run uvicorn with ``--proxy-headers``)."""
    host = request.client.host if request.client else None
    try:
        ip: Optional[str] = str(ipaddress.ip_address(host)) if host else None
    except ValueError:  # e.g. TestClient's "testclient"
        ip = None
    return {"client_ip": ip, "user_agent": request.headers.get("user-agent")}


def _client_ip(request: Request) -> Optional[str]:
    return _client(request)["client_ip"]


def _field_errors(errors: Sequence[Any], prefix: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
    """Pydantic/FastAPI errors as the servers' ``{"loc", "msg", "type"}``
    items (``loc`` as strings; a JSON syntax error at ``["body"]``)."""
    items = []
    for error in errors:
        loc = [*prefix, *(str(part) for part in error.get("loc", ()))]
        if error.get("type") == "json_invalid":
            loc = loc[:1]
        items.append({"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))})
    return items


def _validation_error(items: List[Dict[str, Any]]) -> agora.ValidationError:
    message = "; ".join(f"{'.'.join(item['loc'])}: {item['msg']}" for item in items)
    return agora.ValidationError(message, cast(Any, items))


async def _login_request(request: Request) -> LoginRequest:
    """``POST /login``'s body as the servers read it: the OAuth2 password form
    (``username``, ``password``; other fields ignored) or JSON ``{"email",
    "password"}``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type == "application/x-www-form-urlencoded":
        try:
            fields = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            raise _validation_error([{"loc": ["body"], "msg": "Malformed form body", "type": "form_invalid"}])
        missing = [name for name in ("username", "password") if name not in fields]
        if missing:
            raise _validation_error(
                [{"loc": ["body", name], "msg": "Field required", "type": "missing"} for name in missing]
            )
        return LoginRequest(email=fields["username"], password=fields["password"])
    if not (content_type == "application/json" or (content_type.startswith("application/") and content_type.endswith("+json"))):
        raise _validation_error(
            [{"loc": ["body"], "msg": "Expected a JSON body with Content-Type: application/json", "type": "content_type"}]
        )
    if not raw.strip():
        raise _validation_error([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise _validation_error([{"loc": ["body"], "msg": f"JSON decode error: {e}", "type": "json_invalid"}])
    if not isinstance(value, dict):
        raise _validation_error(
            [
                {
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "type": "model_attributes_type",
                }
            ]
        )
    try:
        return LoginRequest.model_validate(value)
    except PydanticValidationError as e:
        raise _validation_error(_field_errors(e.errors(), ("body",)))


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "The email address"},
                        "password": {"type": "string", "format": "password"},
                        "grant_type": {"type": "string"},
                        "scope": {"type": "string"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["email", "password"],
                    "properties": {"email": {"type": "string"}, "password": {"type": "string", "format": "password"}},
                }
            },
        },
    }
}

#: What ``POST /forgot-password`` and ``POST /request-verify-token`` answer,
#: whether or not the address has an account.
MAIL_ON_ITS_WAY = "If an account has this address, a mail with a link is on its way"


@dataclass
class _PostPage:
    """The query of a listing of posts (``GET /posts``, ``GET /feed``)."""

    limit: int = 10
    skip: int = 0
    search: str = ""
    after: Optional[int] = None
    tag: Optional[str] = None
    author: Optional[str] = None
    voted_by: Optional[str] = None


def create_router(
    service: Union[Service, Callable[[Request], Service], None] = None,
    *,
    prefix: str = "",
    tags: Optional[List[str]] = None,
) -> APIRouter:
    """An ``APIRouter`` serving Agora's HTTP API: the paths, status codes and
    JSON bodies of the Rust servers (each path also with one trailing
    slash, as there).

    ``service``: an ``Agora`` or ``AsyncAgora``, a callable taking the
    ``Request`` and returning one, or ``None`` for
    ``request.app.state.agora`` (open it in the lifespan handler, so that
    each worker process has its own). ``prefix`` is where the API is
    mounted (``"/auth"``), also for the OpenAPI password flow's token URL.
    Call :func:`install` on the app for the servers' error bodies.
    """
    deps = AgoraDependencies(service, token_url=f"{prefix}/login")
    router = APIRouter(prefix=prefix, tags=list(tags) if tags else [])
    Svc = Annotated[Any, Depends(deps.service)]
    Caller = Annotated[agora.User, Depends(deps.current_user)]
    Viewer = Annotated[Optional[agora.User], Depends(deps.optional_user)]
    Token_ = Annotated[str, Depends(deps.bearer_token)]
    Page = Annotated[_PostPage, Depends()]

    def route(method: str, path: str, status_code: int = 200, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Adds the endpoint at ``path`` and, hidden from the schema, at
        ``path/`` (the servers answer both)."""

        def add(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            router.add_api_route(path, endpoint, methods=[method], status_code=status_code, **kwargs)
            if path != "/":
                router.add_api_route(
                    path + "/",
                    endpoint,
                    methods=[method],
                    status_code=status_code,
                    include_in_schema=False,
                    **kwargs,
                )
            return endpoint

        return add

    # -- meta
    @route("GET", "/", response_model=Message, tags=["meta"])
    async def root() -> Response:
        """A greeting."""
        return _json({"message": "Hello World"})

    @route("GET", "/health", response_model=Health, responses=_responses(), tags=["meta"])
    async def health(service: Svc) -> Response:
        """Every dependency answers (the database, and Redis when throttling
        counts there), each check with its latency; 503 with the same shape
        (``status`` ``error``, the failing check's ``reason``, the error's
        ``detail`` and ``code``) when one does not. The servers' answer."""
        status, body, headers = await _call(service, "health_answer")
        return Response(body, status_code=status, headers=dict(headers))

    @route(
        "GET",
        "/.well-known/jwks.json",
        responses=_responses(404, e404="Tokens are signed with a shared secret: no public keys"),
        tags=["meta"],
    )
    async def jwks(service: Svc) -> Response:
        """The public keys that verify access tokens (a JSON Web Key Set);
        404 with an HMAC secret, as on the servers."""
        keys = service.jwks()  # no I/O
        if keys is None:
            raise StarletteHTTPException(404)
        return _json(keys)

    @route("GET", "/health/live", response_model=Live, tags=["meta"])
    async def live() -> Response:
        """The process answers; no dependency is checked."""
        return _json({"status": "ok"})

    # -- users
    @route("POST", "/users", 201, response_model=User, responses=_responses(409, 422, 429), tags=["users"])
    async def register(body: UserCreate, request: Request, service: Svc) -> Response:
        """Registers a user: 409 for a taken email or username, 429 when this
        address registers too often."""
        user = await _call(service, "register", body.email, body.password, username=body.username, **_client(request))
        return _json(user.to_dict(), 201)

    @route("GET", "/users/me", response_model=User, responses=_responses(401), tags=["users"])
    async def me(user: Caller) -> Response:
        """The caller."""
        return _json(user.to_dict())

    @route("PUT", "/users/me", response_model=User, responses=_responses(401, 409, 422), tags=["users"])
    async def update_me(body: ProfileUpdate, user: Caller, service: Svc) -> Response:
        """Changes the caller's username, bio or image: an omitted field is
        kept, ``null`` clears it."""
        changes = {name: getattr(body, name) for name in body.model_fields_set}
        return _json((await _call(service, "update_profile", user, **changes)).to_dict())

    @route("DELETE", "/users/me", 204, responses=_responses(401, 403, 422, 429, e403="Wrong password"), tags=["users"])
    async def delete_account(body: AccountDeletion, token: Token_, service: Svc) -> Response:
        """Deletes the caller with their posts, votes and sessions."""
        await _with_token(service, "delete_account", token, body.password)
        return _empty()

    @route("PUT", "/users/me/password", 204, responses=_responses(401, 403, 422, 429, e403="Wrong current password"), tags=["users"])
    async def change_password(body: PasswordChange, token: Token_, service: Svc) -> Response:
        """Changes the caller's password; their other sessions end."""
        await _with_token(service, "change_password", token, body.current_password, body.new_password)
        return _empty()

    @route("GET", "/users/{id}", response_model=User, responses=_responses(404, 422), tags=["users"])
    async def get_user(id: int, service: Svc) -> Response:
        """A user by id."""
        return _json((await _call(service, "get_user", id)).to_dict())

    # -- login, sessions, account mail
    @route(
        "POST",
        "/login",
        response_model=Token,
        responses=_responses(403, 422, 429, e403="Wrong email or password (or, with require_verified_email, an unverified address)"),
        openapi_extra=_LOGIN_BODY,
        tags=["auth"],
    )
    async def login(request: Request, service: Svc) -> Response:
        """A token pair for an email and password: the OAuth2 password form
        (``username``, ``password``) or JSON ``{"email", "password"}``."""
        body = await _login_request(request)
        token = await _call(service, "login", body.email, body.password, **_client(request))
        return _json(token.to_dict())

    @route("POST", "/token/refresh", response_model=Token, responses=_responses(401, 422, 429), tags=["auth"])
    async def refresh(body: RefreshRequest, request: Request, service: Svc) -> Response:
        """A new token pair for a refresh token (each works once)."""
        token = await _call(service, "refresh", body.refresh_token, **_client(request))
        return _json(token.to_dict())

    @route("POST", "/logout", 204, responses=_responses(401), tags=["auth"])
    async def logout(token: Token_, service: Svc) -> Response:
        """Ends the caller's session: its access and refresh tokens."""
        await _with_token(service, "logout", token)
        return _empty()

    @route("POST", "/logout/all", 204, responses=_responses(401), tags=["auth"])
    async def logout_all(token: Token_, service: Svc) -> Response:
        """Ends every session of the caller, this one included."""
        await _with_token(service, "logout_all", token)
        return _empty()

    @route("GET", "/sessions", response_model=List[Session], responses=_responses(401), tags=["auth"])
    async def sessions(token: Token_, service: Svc) -> Response:
        """The caller's active sessions, newest first; ``current`` marks this one."""
        return _json([s.to_dict() for s in await _with_token(service, "sessions", token)])

    @route("DELETE", "/sessions/{id}", 204, responses=_responses(401, 404, 422), tags=["auth"])
    async def end_session(id: str, token: Token_, service: Svc) -> Response:
        """Ends one of the caller's sessions."""
        await _with_token(service, "end_session", token, id)
        return _empty()

    @route("POST", "/forgot-password", 202, response_model=Message, responses=_responses(422, 429), tags=["auth"])
    async def forgot_password(body: EmailRequest, request: Request, service: Svc) -> Response:
        """Mails a password reset link, if the address has an account; the
        same answer either way."""
        await _call(service, "forgot_password", body.email, client_ip=_client_ip(request))
        return _json({"message": MAIL_ON_ITS_WAY}, 202)

    @route("POST", "/reset-password", 204, responses=_responses(400, 422), tags=["auth"])
    async def reset_password(body: ResetPasswordRequest, request: Request, service: Svc) -> Response:
        """A new password with a reset link's token; every session ends."""
        await _call(service, "reset_password", body.token, body.new_password, client_ip=_client_ip(request))
        return _empty()

    @route("POST", "/request-verify-token", 202, response_model=Message, responses=_responses(422, 429), tags=["auth"])
    async def request_verify_token(body: EmailRequest, request: Request, service: Svc) -> Response:
        """Mails an address verification link, if the address has an
        unverified account; the same answer either way."""
        await _call(service, "request_verify_token", body.email, client_ip=_client_ip(request))
        return _json({"message": MAIL_ON_ITS_WAY}, 202)

    @route("POST", "/verify", response_model=User, responses=_responses(400, 422), tags=["auth"])
    async def verify(body: VerifyRequest, request: Request, service: Svc) -> Response:
        """Verifies the address with a link's token; the user."""
        user = await _call(service, "verify", body.token, client_ip=_client_ip(request))
        return _json(user.to_dict())

    # -- posts
    @route("GET", "/posts", response_model=List[PostWithVotes], responses=_responses(401, 422), tags=["posts"])
    async def list_posts(user: Caller, service: Svc, page: Page) -> Response:
        """Posts visible to the caller, newest first (``limit`` 1..=100;
        ``after``: keyset paging by id; ``tag``, ``author``, ``voted_by``: filters)."""
        return _json([p.to_dict() for p in await _call(service, "list_posts", user, **vars(page))])

    @route("POST", "/posts", 201, response_model=Post, responses=_responses(401, 422), tags=["posts"])
    async def create_post(body: PostCreate, user: Caller, service: Svc) -> Response:
        """Creates a post owned by the caller."""
        post = await _call(
            service, "create_post", user, body.title, body.content, body.published, description=body.description, tags=body.tags
        )
        return _json(post.to_dict(), 201)

    @route("GET", "/posts/{id}", response_model=PostWithVotes, responses=_responses(401, 404, 422), tags=["posts"])
    async def get_post(id: int, token: Token_, service: Svc) -> Response:
        """One post with its votes (the token's session is checked by the
        post's own look-up: one database round trip)."""
        return _json((await _with_token(service, "get_post", token, id)).to_dict())

    @route("PUT", "/posts/{id}", response_model=Post, responses=_responses(401, 403, 404, 422, e403="Not the caller's post"), tags=["posts"])
    async def update_post(id: int, body: PostCreate, user: Caller, service: Svc) -> Response:
        """Replaces the caller's post (description and tags only when given)."""
        post = await _call(
            service, "update_post", user, id, body.title, body.content, body.published, description=body.description, tags=body.tags
        )
        return _json(post.to_dict())

    @route("DELETE", "/posts/{id}", 204, responses=_responses(401, 403, 404, 422, e403="Not the caller's post"), tags=["posts"])
    async def delete_post(id: int, user: Caller, service: Svc) -> Response:
        """Deletes the caller's post and its votes."""
        await _call(service, "delete_post", user, id)
        return _empty()

    @route("GET", "/posts/{id}/comments", response_model=List[Comment], responses=_responses(401, 404, 422), tags=["comments"])
    async def comments(
        id: int, user: Caller, service: Svc, limit: int = 10, skip: int = 0, after: Optional[int] = None
    ) -> Response:
        """The post's comments, oldest first."""
        found = await _call(service, "comments", user, id, limit, skip, after=after)
        return _json([c.to_dict() for c in found])

    @route("POST", "/posts/{id}/comments", 201, response_model=Comment, responses=_responses(401, 404, 422), tags=["comments"])
    async def add_comment(id: int, body: CommentCreate, user: Caller, service: Svc) -> Response:
        """Comments on a post."""
        return _json((await _call(service, "add_comment", user, id, body.body)).to_dict(), 201)

    @route(
        "DELETE",
        "/posts/{id}/comments/{comment_id}",
        204,
        responses=_responses(401, 403, 404, 422, e403="Not the comment's author"),
        tags=["comments"],
    )
    async def delete_comment(id: int, comment_id: int, user: Caller, service: Svc) -> Response:
        """Deletes one of the caller's comments."""
        await _call(service, "delete_comment", user, id, comment_id)
        return _empty()

    @route("GET", "/feed", response_model=List[PostWithVotes], responses=_responses(401, 422), tags=["posts"])
    async def feed(user: Caller, service: Svc, page: Page) -> Response:
        """Published posts of the users the caller follows, newest first."""
        return _json([p.to_dict() for p in await _call(service, "feed", user, **vars(page))])

    @route("GET", "/tags", response_model=List[TagCount], responses=_responses(422), tags=["posts"])
    async def tags_in_use(service: Svc, limit: int = 10, skip: int = 0) -> Response:
        """Tags of published posts, most used first."""
        return _json([t.to_dict() for t in await _call(service, "tags", limit, skip)])

    @route("POST", "/vote", 201, response_model=Message, responses=_responses(401, 404, 409, 422), tags=["posts"])
    async def vote(body: VoteRequest, user: Caller, service: Svc) -> Response:
        """Adds (``dir`` 1; 409 when there) or removes (``dir`` 0; 404 when
        none) the caller's vote."""
        result = await _call(service, "vote", user, body.post_id, body.dir)
        return _json({"message": result.message}, 201)

    # -- profiles
    @route("GET", "/profiles/{username}", response_model=Profile, responses=_responses(401, 404, 422), tags=["profiles"])
    async def profile(username: str, user: Viewer, service: Svc) -> Response:
        """A profile; ``following`` is the caller's (``false`` without a token)."""
        return _json((await _call(service, "profile", user, username)).to_dict())

    @route("POST", "/profiles/{username}/follow", response_model=Profile, responses=_responses(401, 404, 422), tags=["profiles"])
    async def follow(username: str, user: Caller, service: Svc) -> Response:
        """The caller follows the user (idempotent; 422 for yourself)."""
        return _json((await _call(service, "follow", user, username)).to_dict())

    @route("DELETE", "/profiles/{username}/follow", response_model=Profile, responses=_responses(401, 404, 422), tags=["profiles"])
    async def unfollow(username: str, user: Caller, service: Svc) -> Response:
        """The caller stops following the user (idempotent)."""
        return _json((await _call(service, "unfollow", user, username)).to_dict())

    return router


# --- Error answers -----------------------------------------------------------

#: The servers' codes of the errors FastAPI and Starlette raise themselves.
_HTTP_CODES = {
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


async def agora_error_handler(request: Request, exc: Exception) -> Response:
    """An :class:`agora.AgoraError` as the servers answer it: its status,
    ``{"detail": ..., "code": ...}`` and headers; a 5xx is logged with its
    cause on the ``agora.fastapi`` logger."""
    error = cast(agora.AgoraError, exc)
    if error.status_code >= 500:
        _log.error("%s %s failed: %s (%s)", request.method, request.url.path, error.message, error.code, exc_info=error)
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=error.headers or None)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's ``RequestValidationError`` as the servers' 422:
    ``{"detail": [{"loc", "msg", "type"}], "code": "VALIDATION_ERROR"}``."""
    errors = cast(RequestValidationError, exc).errors()
    return JSONResponse({"detail": _field_errors(errors), "code": "VALIDATION_ERROR"}, status_code=422)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """An ``HTTPException`` with a status the servers name (404, 405, 401,
    413, 429, 500, 503) gets their ``code`` beside ``detail``; others, and
    204/304, are answered as FastAPI does."""
    error = cast(StarletteHTTPException, exc)
    headers = getattr(error, "headers", None)
    code = _HTTP_CODES.get(error.status_code)
    if code is None or not isinstance(error.detail, str):
        return await http_exception_handler(request, error)
    if error.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return JSONResponse({"detail": error.detail, "code": code}, status_code=error.status_code, headers=headers)


#: The order of methods in a 405's ``Allow``, the servers' order.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route of the app serves at the request's path, in
    the servers' order and format (``GET,POST``; FastAPI's routes serve no
    ``HEAD``): Starlette names only the first matching route's. Asks each
    route (included routers too) whether it would take the request with
    that method."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHOD_ORDER:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return ",".join(allowed)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with the servers' 413
    ``{"detail": "Request body too large", "code": "PAYLOAD_TOO_LARGE"}``:
    at once when ``Content-Length`` says so, else when the body read grows
    past it (pure ASGI, streaming bodies included)."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_BODY_LIMIT) -> None:
        """Wraps ``app``; ``limit`` in bytes."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("body_limit must be a non-negative integer (bytes)")
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    await _too_large()(scope, receive, send)
                    return
        received = 0

        async def limited() -> ASGIMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise StarletteHTTPException(413, "Request body too large")
            return message

        await self.app(scope, limited, send)


def _too_large() -> JSONResponse:
    return JSONResponse({"detail": "Request body too large", "code": "PAYLOAD_TOO_LARGE"}, status_code=413)


def install(app: FastAPI, *, body_limit: Optional[int] = DEFAULT_BODY_LIMIT) -> None:
    """Makes ``app`` answer errors as the Rust servers do: registers
    :func:`agora_error_handler` for :class:`agora.AgoraError`,
    :func:`validation_error_handler` for FastAPI's request validation and
    :func:`http_error_handler` for ``HTTPException`` (unknown routes: 404
    ``NOT_FOUND``; other methods: 405 with ``Allow``), and adds
    :class:`BodyLimitMiddleware` with ``body_limit`` bytes (64 KiB, the
    servers' default; ``None``: no limit). Call it before the app starts."""
    app.add_exception_handler(agora.AgoraError, agora_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    if body_limit is not None:
        app.add_middleware(BodyLimitMiddleware, limit=body_limit)

