"""The FastAPI program README.md shows whole (`embed.py`): the copy in the
README is the file, and the file runs under uvicorn as the README says."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

APP_DIR = Path(__file__).resolve().parents[1]
README = APP_DIR.parents[1] / "README.md"
PASSWORD = "correct horse battery"


def test_the_readme_shows_embed_py_whole() -> None:
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    program = (APP_DIR / "embed.py").read_text(encoding="utf-8")
    assert program in blocks, "README.md's FastAPI program differs from examples/fastapi_app/embed.py"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`uvicorn embed:app` on a free port over a fresh SQLite database."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AGORA_DATABASE_URL": f"sqlite:///{tmp_path}/embed.db"}
    env.pop("AGORA_JWT_SECRET", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "embed:app", "--port", str(port), "--log-level", "warning"],
        cwd=APP_DIR,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "uvicorn exited"
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        yield base
        assert (tmp_path / "embed.db.jwt-secret").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_register_log_in_and_call_your_own_route(server: str) -> None:
    created = httpx.post(f"{server}/auth/users", json={"email": "ada@example.com", "password": PASSWORD})
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    again = httpx.post(f"{server}/auth/users", json={"email": "ADA@example.com", "password": PASSWORD})
    assert again.status_code == 409, again.text

    wrong = httpx.post(f"{server}/auth/login", data={"username": "ada@example.com", "password": "nope nope nope"})
    assert wrong.status_code == 403, wrong.text
    login = httpx.post(f"{server}/auth/login", data={"username": "ada@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]

    me = httpx.get(f"{server}/whoami", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json() == f"hello user {user_id}"


def test_your_route_refuses_missing_and_bad_tokens(server: str) -> None:
    missing = httpx.get(f"{server}/whoami")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    bad = httpx.get(f"{server}/whoami", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401, bad.text
    assert bad.headers["www-authenticate"].startswith("Bearer")


def test_swagger_authorize_logs_in_under_the_prefix(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    flows = [scheme["flows"] for scheme in spec["components"]["securitySchemes"].values()]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": "/auth/login"}}]
    assert "/auth/login" in spec["paths"] and "/auth/users" in spec["paths"]


def test_registrations_from_one_address_are_throttled(server: str) -> None:
    statuses = [
        httpx.post(f"{server}/auth/users", json={"email": f"u{i}@example.com", "password": PASSWORD}).status_code
        for i in range(30)
    ]
    assert 429 in statuses, statuses
    assert set(statuses) <= {201, 429}, statuses
