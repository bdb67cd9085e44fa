"""Your own FastAPI app with Agora inside: your route `/whoami` for signed-in
users, and Agora's registration and login under `/auth`.
`uvicorn embed:app --port 8002` (from examples/fastapi_app)."""

import ipaddress
import os
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Dict, Optional

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

import agora


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Opened at start-up, in each worker process (SQLite: ./agora.db; the JWT
    # secret is generated once into agora.db.jwt-secret unless AGORA_JWT_SECRET is set).
    url = os.environ.get("AGORA_DATABASE_URL", "sqlite:///agora.db")
    app.state.agora = agora.AsyncAgora(url, jwt_secret=os.environ.get("AGORA_JWT_SECRET"))
    yield


app = FastAPI(lifespan=lifespan)
auth = APIRouter(prefix="/auth")
bearer = OAuth2PasswordBearer(tokenUrl="/auth/login")


def service(request: Request) -> agora.AsyncAgora:
    return request.app.state.agora


def client_ip(request: Request) -> Optional[str]:
    """The caller's address, for Agora's per-IP throttling (None if not an IP)."""
    try:
        return str(ipaddress.ip_address(request.client.host)) if request.client else None
    except ValueError:  # e.g. TestClient's "testclient"
        return None


async def current_user(request: Request, token: Annotated[str, Depends(bearer)]) -> agora.User:
    """The signed-in user: 401 without a valid access token."""
    return await service(request).authenticate(token)


class Registration(BaseModel):
    email: str
    password: str


@auth.post("/users", status_code=201)
async def register(body: Registration, request: Request) -> Dict[str, Any]:
    user = await service(request).register(body.email, body.password, client_ip=client_ip(request))
    return user.to_dict()


@auth.post("/login")
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request) -> Dict[str, Any]:
    token = await service(request).login(form.username, form.password, client_ip=client_ip(request))
    return token.to_dict()


@app.get("/whoami")
async def whoami(user: Annotated[agora.User, Depends(current_user)]) -> str:
    return f"hello user {user.id}"


@app.exception_handler(agora.AgoraError)
async def agora_error(request: Request, exc: agora.AgoraError) -> Any:
    """Agora's errors as HTTP answers: 401, 409, 422, 429 (with Retry-After) ..."""
    http = HTTPException(exc.status_code, exc.detail, headers=exc.headers or None)
    return await http_exception_handler(request, http)


app.include_router(auth)
