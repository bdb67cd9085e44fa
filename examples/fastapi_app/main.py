"""Agora's HTTP API on FastAPI: the routes of the original FastAPI course app
and the Rust servers' other endpoints, from ``agora.fastapi``.

Run it (from this directory, with ``pip install "./bindings-python[fastapi]"
uvicorn``):

    uvicorn main:app --port 8000

Settings come from the environment: AGORA_DATABASE_URL (default
``sqlite:///agora.db``), AGORA_JWT_SECRET (default: generated and kept beside
the database), AGORA_ACCESS_TOKEN_TTL (seconds, default 1800).
"""

import os
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional, Union

from fastapi import FastAPI

import agora
import agora.fastapi


def create_app(
    database_url: Optional[str] = None,
    jwt_secret: Union[str, bytes, None] = None,
    access_token_ttl: Optional[int] = None,
) -> FastAPI:
    """Builds the app; arguments left out come from the environment."""
    database_url = database_url or os.environ.get("AGORA_DATABASE_URL", "sqlite:///agora.db")
    jwt_secret = jwt_secret or os.environ.get("AGORA_JWT_SECRET") or None
    if access_token_ttl is None and os.environ.get("AGORA_ACCESS_TOKEN_TTL"):
        access_token_ttl = int(os.environ["AGORA_ACCESS_TOKEN_TTL"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened in each worker process, not at module level: an instance
        # used in a child of fork() (gunicorn --preload) raises ForkedProcess.
        app.state.agora = agora.AsyncAgora(database_url, jwt_secret=jwt_secret, access_token_ttl=access_token_ttl)
        yield

    app = FastAPI(title="Agora on FastAPI", lifespan=lifespan)
    app.include_router(agora.fastapi.create_router())
    agora.fastapi.install(app)  # the servers' error bodies, 422 shape and body limit
    return app


app = create_app()
