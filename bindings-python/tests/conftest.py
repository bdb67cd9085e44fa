"""Fixtures for the binding's tests: a fresh SQLite database per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's database lives."""
    return tmp_path / "agora.db"


@pytest.fixture
def app(db_path: Path) -> agora.Agora:
    """A fresh Agora over its own SQLite file, with a known secret."""
    return agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)


@pytest.fixture
def user(app: agora.Agora) -> agora.User:
    """A registered user (password ``PASSWORD``)."""
    return app.register(unique_email(), PASSWORD)


@pytest.fixture
def other(app: agora.Agora) -> agora.User:
    """A second registered user."""
    return app.register(unique_email("other"), PASSWORD)
