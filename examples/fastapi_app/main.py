"""The original FastAPI course app's routes, built on the `agora` binding.

Run it (from this directory, with the `agora` wheel, fastapi, uvicorn and
python-multipart installed):

    uvicorn main:app --port 8000

Settings come from the environment: AGORA_DATABASE_URL (default
``sqlite:///agora.db``), AGORA_JWT_SECRET (default: generated and kept beside
the database), AGORA_ACCESS_TOKEN_TTL (seconds, default 1800).

Every rule (validation, hashing, tokens, sessions, ownership, visibility,
conflicts) lives in Agora's Rust core; this file only declares routes, a
``current_user`` dependency over ``authenticate`` (session routes take the
bearer token itself), and maps Agora's error hierarchy to ``HTTPException``.
"""

import ipaddress
import os
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Dict, List, Optional, Union

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

import agora


class UserCreate(BaseModel):
    """``POST /users`` body; Agora checks the email and the password length."""

    email: str
    password: str


class PostCreate(BaseModel):
    """``POST /posts`` and ``PUT /posts/{id}`` body; Agora checks the fields."""

    title: str
    content: str
    published: bool = True


class Vote(BaseModel):
    """``POST /vote`` body: ``dir`` 1 votes, 0 takes the vote back."""

    post_id: int
    dir: int


class Refresh(BaseModel):
    """``POST /token/refresh`` body: the refresh token of the last login or refresh."""

    refresh_token: str


class PasswordChange(BaseModel):
    """``PUT /users/me/password`` body; Agora checks both passwords."""

    current_password: str
    new_password: str


class AccountDeletion(BaseModel):
    """``DELETE /users/me`` body: the password, to prove it is the user."""

    password: str


def client_of(request: Request) -> Dict[str, Optional[str]]:
    """The caller's IP and User-Agent, for Agora's login and registration
    throttling (behind a proxy, run uvicorn with --proxy-headers)."""
    host = request.client.host if request.client else None
    try:
        client_ip: Optional[str] = str(ipaddress.ip_address(host)) if host else None
    except ValueError:  # e.g. TestClient's "testclient"
        client_ip = None
    return {"client_ip": client_ip, "user_agent": request.headers.get("user-agent")}


def create_app(
    database_url: Optional[str] = None,
    jwt_secret: Union[str, bytes, None] = None,
    access_token_ttl: Optional[int] = None,
) -> FastAPI:
    """Builds the app; the database opens when the app starts (lifespan).

    Arguments left out come from the environment variables above.
    """
    database_url = database_url or os.environ.get("AGORA_DATABASE_URL", "sqlite:///agora.db")
    jwt_secret = jwt_secret or os.environ.get("AGORA_JWT_SECRET") or None
    if access_token_ttl is None and os.environ.get("AGORA_ACCESS_TOKEN_TTL"):
        access_token_ttl = int(os.environ["AGORA_ACCESS_TOKEN_TTL"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened here, in each worker process, not at module level: an
        # instance used in a child of fork() (gunicorn --preload) raises
        # agora.ForkedProcess.
        app.state.agora = agora.AsyncAgora(
            database_url, jwt_secret=jwt_secret, access_token_ttl=access_token_ttl
        )
        yield

    app = FastAPI(title="Agora on FastAPI", lifespan=lifespan)
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="login")

    def get_agora(request: Request) -> agora.AsyncAgora:
        """The service opened at startup."""
        service: agora.AsyncAgora = request.app.state.agora
        return service

    Service = Annotated[agora.AsyncAgora, Depends(get_agora)]

    async def current_user(token: Annotated[str, Depends(oauth2_scheme)], service: Service) -> agora.User:
        """The caller, from the bearer token (401 when it is not valid)."""
        return await service.authenticate(token)

    CurrentUser = Annotated[agora.User, Depends(current_user)]
    # The raw bearer token (401 when missing), for the routes that act on its session.
    BearerToken = Annotated[str, Depends(oauth2_scheme)]

    @app.exception_handler(agora.AgoraError)
    async def agora_error(request: Request, exc: agora.AgoraError) -> Response:
        """Every Agora error becomes the HTTPException of its status code."""
        http = HTTPException(status_code=exc.status_code, detail=exc.detail, headers=exc.headers or None)
        return await http_exception_handler(request, http)

    @app.get("/")
    async def root() -> Dict[str, str]:
        """A greeting, as in the original app."""
        return {"message": "Hello World"}

    @app.post("/users", status_code=status.HTTP_201_CREATED)
    async def create_user(body: UserCreate, request: Request, service: Service) -> Dict[str, Any]:
        """Registers a user: 201, 409 for a taken email, 422 for bad input."""
        user = await service.register(body.email, body.password, **client_of(request))
        return user.to_dict()

    @app.get("/users/me")
    async def me(user: CurrentUser) -> Dict[str, Any]:
        """The caller."""
        return user.to_dict()

    @app.put("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
    async def change_password(body: PasswordChange, token: BearerToken, service: Service) -> Response:
        """Changes the caller's password and ends their other sessions: 204,
        403 for a wrong current password, 422 for a refused new one."""
        await service.change_password(token, body.current_password, body.new_password)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_account(body: AccountDeletion, token: BearerToken, service: Service) -> Response:
        """Deletes the caller with their posts, votes and sessions: 204, 403
        for a wrong password."""
        await service.delete_account(token, body.password)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/users/{id}")
    async def get_user(id: int, service: Service) -> Dict[str, Any]:
        """A user by id, or 404."""
        return (await service.get_user(id)).to_dict()

    @app.post("/login")
    async def login(
        form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, service: Service
    ) -> Dict[str, Any]:
        """The OAuth2 password flow: 200 with a bearer token, 403 for wrong
        credentials, 429 after repeated failures."""
        token = await service.login(form.username, form.password, **client_of(request))
        return token.to_dict()

    @app.post("/token/refresh")
    async def refresh(body: Refresh, request: Request, service: Service) -> Dict[str, Any]:
        """A new token pair for a refresh token (each works once): 200, 401
        for an unknown, expired or replayed one."""
        token = await service.refresh(body.refresh_token, **client_of(request))
        return token.to_dict()

    @app.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    async def logout(token: BearerToken, service: Service) -> Response:
        """Ends the caller's session (access and refresh tokens): 204."""
        await service.logout(token)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.post("/logout/all", status_code=status.HTTP_204_NO_CONTENT)
    async def logout_all(token: BearerToken, service: Service) -> Response:
        """Ends every session of the caller, this one included: 204."""
        await service.logout_all(token)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/sessions")
    async def list_sessions(token: BearerToken, service: Service) -> List[Dict[str, Any]]:
        """The caller's active sessions, newest first, ``current`` marking this one."""
        return [session.to_dict() for session in await service.sessions(token)]

    @app.delete("/sessions/{id}", status_code=status.HTTP_204_NO_CONTENT)
    async def end_session(id: str, token: BearerToken, service: Service) -> Response:
        """Ends one of the caller's sessions: 204, 404 if it is not theirs."""
        await service.end_session(token, id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.get("/posts")
    async def list_posts(
        user: CurrentUser, service: Service, limit: int = 10, skip: int = 0, search: str = ""
    ) -> List[Dict[str, Any]]:
        """Visible posts with their votes, newest first."""
        posts = await service.list_posts(user, limit=limit, skip=skip, search=search)
        return [post.to_dict() for post in posts]

    @app.post("/posts", status_code=status.HTTP_201_CREATED)
    async def create_post(body: PostCreate, user: CurrentUser, service: Service) -> Dict[str, Any]:
        """Creates a post owned by the caller."""
        post = await service.create_post(user, body.title, body.content, body.published)
        return post.to_dict()

    @app.get("/posts/{id}")
    async def get_post(id: int, user: CurrentUser, service: Service) -> Dict[str, Any]:
        """One post with its votes; 404 when missing or not visible."""
        return (await service.get_post(user, id)).to_dict()

    @app.put("/posts/{id}")
    async def update_post(id: int, body: PostCreate, user: CurrentUser, service: Service) -> Dict[str, Any]:
        """Replaces the caller's post; 403 for someone else's."""
        post = await service.update_post(user, id, body.title, body.content, body.published)
        return post.to_dict()

    @app.delete("/posts/{id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_post(id: int, user: CurrentUser, service: Service) -> Response:
        """Deletes the caller's post; 403 for someone else's."""
        await service.delete_post(user, id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.post("/vote", status_code=status.HTTP_201_CREATED)
    async def vote(body: Vote, user: CurrentUser, service: Service) -> Dict[str, Any]:
        """Adds (dir=1, 409 if repeated) or removes (dir=0, 404 if none) a vote."""
        result = await service.vote(user, body.post_id, body.dir)
        return result.to_dict()

    return app


app = create_app()
