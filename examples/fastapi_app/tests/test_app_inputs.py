"""Values FastAPI takes as ``int`` but Agora cannot (outside 64 bits) are
422 answers, as the Rust servers give, never 500; the app also runs with
several uvicorn worker processes, each opening Agora in its lifespan."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import httpx
import pytest
from fastapi.testclient import TestClient

APP_DIR = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"

Signup = Callable[[], Dict[str, Any]]


def field(loc: List[str], body: bool = False) -> Dict[str, Any]:
    if body:
        return {"loc": loc, "msg": "Input should be a valid integer", "type": "int_type"}
    return {"loc": loc, "msg": INT_PARSING, "type": "int_parsing"}


def invalid(*fields: Dict[str, Any]) -> Dict[str, Any]:
    """The servers' 422 body: the field errors and the code."""
    return {"detail": list(fields), "code": "VALIDATION_ERROR"}


def test_ids_outside_64_bits_are_422_not_500(client: TestClient, signup: Signup) -> None:
    headers = signup()["headers"]
    for id in (2**63, 2**64, -(2**63) - 1):
        user = client.get(f"/users/{id}")
        assert (user.status_code, user.json()) == (422, invalid(field(["path", "id"])))
        post = client.get(f"/posts/{id}", headers=headers)
        assert (post.status_code, post.json()) == (422, invalid(field(["path", "id"])))
        change = {"title": "t", "content": "c"}
        assert client.put(f"/posts/{id}", json=change, headers=headers).status_code == 422
        assert client.delete(f"/posts/{id}", headers=headers).status_code == 422
    # The edges of the range are ordinary ids.
    assert client.get(f"/users/{2**63 - 1}").status_code == 404
    assert client.get(f"/posts/{-(2**63)}", headers=headers).status_code == 404


def test_votes_outside_64_bits_are_422(client: TestClient, signup: Signup) -> None:
    headers = signup()["headers"]
    vote = client.post("/vote", json={"post_id": 2**63, "dir": 1}, headers=headers)
    assert (vote.status_code, vote.json()) == (422, invalid(field(["body", "post_id"], body=True)))
    direction = client.post("/vote", json={"post_id": 1, "dir": 2**64}, headers=headers)
    assert (direction.status_code, direction.json()) == (422, invalid(field(["body", "dir"], body=True)))


def test_paging_outside_64_bits_is_422(client: TestClient, signup: Signup) -> None:
    headers = signup()["headers"]
    limit = client.get("/posts", params={"limit": 2**63}, headers=headers)
    assert (limit.status_code, limit.json()) == (422, invalid(field(["query", "limit"])))
    skip = client.get("/posts", params={"skip": 2**64}, headers=headers)
    assert (skip.status_code, skip.json()) == (422, invalid(field(["query", "skip"])))
    both = client.get("/posts", params={"limit": -(2**63) - 1, "skip": 2**64}, headers=headers)
    assert both.status_code == 422
    assert [e["loc"] for e in both.json()["detail"]] == [["query", "limit"], ["query", "skip"]]


def free_port() -> int:
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    except OSError as e:
        pytest.skip(f"cannot bind a local port: {e}")


def worker_processes(parent: int) -> List[int]:
    """The pids of ``parent``'s children that are multiprocessing workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and b"multiprocessing" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts worker processes through /proc")
def test_the_app_serves_from_several_uvicorn_workers(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AGORA_DATABASE_URL": f"sqlite:///{tmp_path}/workers.db",
        # Every worker signs and checks tokens with the same secret.
        "AGORA_JWT_SECRET": secrets.token_hex(32),
    }
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--workers", "2",
             "--log-level", "warning"],
            cwd=APP_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/", timeout=2).json() == {"message": "Hello World"}:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                text = log.read_text(errors="replace")
                if "error while attempting to bind" in text or "Address already in use" in text:
                    pytest.skip(f"uvicorn cannot bind port {port}")
                pytest.fail(f"uvicorn exited: {text}")
            assert time.monotonic() < deadline, "uvicorn did not start: " + log.read_text(errors="replace")
            time.sleep(0.2)
        # Both workers up (each opened Agora in its lifespan, after it started).
        deadline = time.monotonic() + 30
        while len(worker_processes(server.pid)) < 2:
            assert time.monotonic() < deadline, "two uvicorn workers did not start"
            time.sleep(0.2)

        with httpx.Client(base_url=base, timeout=30) as http:
            email = f"workers-{secrets.token_hex(4)}@example.com"
            assert http.post("/users", json={"email": email, "password": PASSWORD}).status_code == 201
            token = http.post("/login", data={"username": email, "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            post = http.post("/posts", json={"title": "t", "content": "c"}, headers=headers)
            assert post.status_code == 201
            for _ in range(20):  # new connections: spread over the workers by the kernel
                with httpx.Client(base_url=base, timeout=30) as fresh:
                    me = fresh.get("/users/me", headers=headers)
                    assert me.status_code == 200 and me.json()["email"] == email
                    big = fresh.get(f"/posts/{2**63}", headers=headers)
                    assert big.status_code == 422
        assert server.poll() is None, log.read_text(errors="replace")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_text_utf8_cannot_hold_is_422_not_500(client: TestClient) -> None:
    # json.loads accepts an escaped lone surrogate; Agora answers 422 for it.
    body = b'{"email": "a\\ud800@example.com", "password": "correct horse battery"}'
    response = client.post("/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["email"]
    assert response.json()["detail"][0]["type"] == "string_unicode"
