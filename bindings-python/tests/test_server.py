"""agora.serve(): the Rust HTTP server from Python, and the shared HTTP
contract suite run against it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora

REPO = Path(__file__).resolve().parents[2]


def request(
    method: str,
    url: str,
    body: Optional[Dict[str, Any]] = None,
    token: Optional[str] = None,
    form: Optional[str] = None,
) -> Tuple[int, Any]:
    """One HTTP request; returns the status and the decoded JSON body."""
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if form is not None:
        data = form.encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def test_serve_answers_the_http_api_on_a_free_port(tmp_path: Path) -> None:
    with agora.serve(port=0, database_url=sqlite_url(tmp_path / "http.db"), jwt_secret=SECRET) as server:
        assert server.running
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert request("GET", server.url + "/") == (200, {"message": "Hello World"})
        email = unique_email()
        status, created = request("POST", server.url + "/users", {"email": email, "password": PASSWORD})
        assert status == 201 and created["email"] == email
        status, token = request("POST", server.url + "/login", form=f"username={email}&password={PASSWORD}")
        assert status == 200 and token["token_type"] == "bearer"
        status, post = request(
            "POST", server.url + "/posts", {"title": "Over HTTP", "content": "c"}, token["access_token"]
        )
        assert status == 201 and post["owner"]["email"] == email
        # The same database through the Python API sees the same data, and
        # its tokens are interchangeable with the server's (same secret).
        app = agora.Agora(sqlite_url(tmp_path / "http.db"), jwt_secret=SECRET)
        assert app.get_post(token["access_token"], post["id"]).post.to_dict() == post
        status, body = request("GET", server.url + "/posts/999999", token=token["access_token"])
        assert (status, body) == (
            404,
            {"detail": "post with id: 999999 was not found", "code": "POST_NOT_FOUND"},
        )
    assert not server.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_stop_is_idempotent_and_the_port_is_free_again(tmp_path: Path) -> None:
    server = agora.serve(port=0, database_url=sqlite_url(tmp_path / "a.db"), jwt_secret=SECRET)
    port = server.port
    assert "running=True" in repr(server)
    server.stop()
    server.stop()
    server.wait()
    assert not server.running and "running=False" in repr(server)
    again = agora.serve(port=port, database_url=sqlite_url(tmp_path / "a.db"), jwt_secret=SECRET)
    try:
        assert request("GET", again.url + "/")[0] == 200
    finally:
        again.stop()


def test_a_taken_port_is_an_os_error(tmp_path: Path) -> None:
    with agora.serve(port=0, database_url=sqlite_url(tmp_path / "b.db"), jwt_secret=SECRET) as server:
        with pytest.raises(OSError, match="cannot listen"):
            agora.serve(port=server.port, database_url=sqlite_url(tmp_path / "b.db"), jwt_secret=SECRET)


def contract_binary() -> Path:
    """The `agora-contract` binary: $AGORA_CONTRACT_BIN, or built with cargo."""
    if os.environ.get("AGORA_CONTRACT_BIN"):
        return Path(os.environ["AGORA_CONTRACT_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "agora-contract"],
        cwd=REPO,
        check=True,
    )
    return target / "debug" / "agora-contract"


def test_the_http_contract_suite_passes_against_agora_serve(tmp_path: Path) -> None:
    binary = contract_binary()
    assert binary.exists(), binary
    # The suite signs up many users from one address: throttling off, as the
    # Rust contract tests run it (tests of throttling live with the core).
    with agora.serve(port=0, database_url=sqlite_url(tmp_path / "contract.db"), throttle=False) as server:
        result = subprocess.run(
            [str(binary), server.url],
            capture_output=True,
            text=True,
            timeout=900,
        )
    print(result.stdout[-3000:])
    summary = [line for line in result.stdout.splitlines() if line.startswith("contract: ") and " run" in line]
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert summary and " 0 failed" in summary[-1], summary
