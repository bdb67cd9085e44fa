"""Fixtures for the FastAPI example: the app over a temporary database."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
from fastapi.testclient import TestClient

APP_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP_DIR))

from main import create_app  # noqa: E402

SECRET = "fastapi-example-secret-of-32-bytes-or-more"
PASSWORD = "correct horse battery"
_counter = itertools.count()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient over a fresh SQLite database (the lifespan opens it)."""
    app = create_app(database_url=f"sqlite:///{tmp_path}/app.db", jwt_secret=SECRET)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def signup(client: TestClient) -> Callable[[], Dict[str, Any]]:
    """Registers a fresh user and logs in; returns its ``email``, ``id``,
    ``token``, ``refresh_token`` and the ``headers`` that authenticate it."""

    def make() -> Dict[str, Any]:
        email = f"fastapi{next(_counter)}@example.com"
        created = client.post("/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = client.post("/login", data={"username": email, "password": PASSWORD}).json()
        return {
            "email": email,
            "id": created.json()["id"],
            "token": token["access_token"],
            "refresh_token": token["refresh_token"],
            "headers": {"Authorization": f"Bearer {token['access_token']}"},
        }

    return make
