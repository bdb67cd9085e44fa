"""The FastAPI example app through FastAPI's TestClient: the original app's
routes, status codes and bodies, with every rule coming from Agora."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict

from fastapi.testclient import TestClient

APP_DIR = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"  # the password the signup fixture uses

Signup = Callable[[], Dict[str, Any]]


def test_root_says_hello(client: TestClient) -> None:
    assert client.get("/").json() == {"message": "Hello World"}


def test_register_then_fetch_the_user(client: TestClient) -> None:
    response = client.post("/users", json={"email": "Ada@Example.com", "password": PASSWORD})
    assert response.status_code == 201
    user = response.json()
    assert list(user) == ["id", "email", "created_at", "username", "bio", "image", "email_verified"]
    assert user["email"] == "ada@example.com" and user["username"] is None
    assert client.get(f"/users/{user['id']}").json() == user
    missing = client.get("/users/999999")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "User with id: 999999 does not exist", "code": "USER_NOT_FOUND"},
    )


def test_register_errors_match_the_original_api(client: TestClient, signup: Signup) -> None:
    taken = signup()["email"]
    duplicate = client.post("/users", json={"email": taken.upper(), "password": PASSWORD})
    assert duplicate.status_code == 409
    bad = client.post("/users", json={"email": "nope", "password": "short"})
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [["body", "email"], ["body", "password"]]
    missing = client.post("/users", json={"email": "a@b.co"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]


def test_login_uses_the_oauth2_password_form(client: TestClient, signup: Signup) -> None:
    email = signup()["email"]
    token = client.post("/login", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200
    assert token.json()["token_type"] == "bearer" and token.json()["expires_in"] == 1800
    for username, password in [(email, "wrong password"), ("nobody@example.com", PASSWORD)]:
        refused = client.post("/login", data={"username": username, "password": password})
        assert (refused.status_code, refused.json()) == (403, {"detail": "Invalid Credentials", "code": "INVALID_CREDENTIALS"})


def test_repeated_failed_logins_get_429_with_retry_after(client: TestClient, signup: Signup) -> None:
    email = signup()["email"]
    for _ in range(5):
        assert client.post("/login", data={"username": email, "password": "wrong"}).status_code == 403
    limited = client.post("/login", data={"username": email, "password": PASSWORD})
    assert (limited.status_code, limited.json()) == (429, {"detail": "Too many requests", "code": "RATE_LIMITED"})
    assert int(limited.headers["retry-after"]) > 0


def test_current_user_needs_a_valid_bearer_token(client: TestClient, signup: Signup) -> None:
    user = signup()
    me = client.get("/users/me", headers=user["headers"])
    assert me.status_code == 200 and me.json()["email"] == user["email"]
    missing = client.get("/users/me")
    assert missing.status_code == 401
    invalid = client.get("/users/me", headers={"Authorization": "Bearer not.a.token"})
    assert (invalid.status_code, invalid.json()) == (
        401,
        {"detail": "Could not validate credentials", "code": "UNAUTHORIZED"},
    )
    assert invalid.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/posts").status_code == 401


def test_posts_are_created_read_updated_and_deleted_by_their_owner(
    client: TestClient, signup: Signup
) -> None:
    owner, other = signup(), signup()
    created = client.post("/posts", json={"title": "Hello", "content": "First"}, headers=owner["headers"])
    assert created.status_code == 201
    post = created.json()
    assert post["published"] is True and post["owner"]["email"] == owner["email"]
    assert post["owner_id"] == owner["id"]
    fetched = client.get(f"/posts/{post['id']}", headers=other["headers"])
    assert fetched.json() == {"Post": post, "votes": 0, "voted": False}

    change = {"title": "Edited", "content": "Second", "published": True}
    forbidden = client.put(f"/posts/{post['id']}", json=change, headers=other["headers"])
    assert (forbidden.status_code, forbidden.json()) == (
        403,
        {"detail": "Not authorized to perform requested action", "code": "NOT_OWNER"},
    )
    assert client.delete(f"/posts/{post['id']}", headers=other["headers"]).status_code == 403
    updated = client.put(f"/posts/{post['id']}", json=change, headers=owner["headers"])
    assert updated.status_code == 200 and updated.json()["title"] == "Edited"

    deleted = client.delete(f"/posts/{post['id']}", headers=owner["headers"])
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(f"/posts/{post['id']}", headers=owner["headers"]).status_code == 404
    assert client.delete(f"/posts/{post['id']}", headers=owner["headers"]).status_code == 404


def test_post_validation_comes_from_agora(client: TestClient, signup: Signup) -> None:
    headers = signup()["headers"]
    blank = client.post("/posts", json={"title": "  ", "content": "x"}, headers=headers)
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "title"]
    assert client.get("/posts/abc", headers=headers).status_code == 422


def test_listing_is_newest_first_searchable_paged_and_bounded(client: TestClient, signup: Signup) -> None:
    headers = signup()["headers"]
    ids = [
        client.post("/posts", json={"title": f"marker-xyz {i}", "content": "c"}, headers=headers).json()["id"]
        for i in range(3)
    ]
    listed = client.get("/posts", params={"search": "MARKER-XYZ"}, headers=headers).json()
    assert [p["Post"]["id"] for p in listed] == ids[::-1]
    page = client.get("/posts", params={"search": "marker-xyz", "limit": 1, "skip": 1}, headers=headers)
    assert [p["Post"]["id"] for p in page.json()] == [ids[1]]
    for params in ({"limit": 0}, {"limit": 101}, {"skip": -1}):
        assert client.get("/posts", params=params, headers=headers).status_code == 422


def test_unpublished_posts_are_hidden_from_others(client: TestClient, signup: Signup) -> None:
    owner, other = signup(), signup()
    draft = client.post(
        "/posts", json={"title": "Draft", "content": "c", "published": False}, headers=owner["headers"]
    ).json()
    assert client.get(f"/posts/{draft['id']}", headers=owner["headers"]).status_code == 200
    assert client.get(f"/posts/{draft['id']}", headers=other["headers"]).status_code == 404
    assert client.get("/posts", headers=other["headers"]).json() == []


def test_votes_follow_the_original_rules(client: TestClient, signup: Signup) -> None:
    owner, voter = signup(), signup()
    post_id = client.post("/posts", json={"title": "t", "content": "c"}, headers=owner["headers"]).json()["id"]

    def vote(direction: int, pid: int = post_id) -> Any:
        return client.post("/vote", json={"post_id": pid, "dir": direction}, headers=voter["headers"])

    first = vote(1)
    assert (first.status_code, first.json()) == (201, {"message": "successfully added vote"})
    assert vote(1).status_code == 409
    assert client.get(f"/posts/{post_id}", headers=owner["headers"]).json()["votes"] == 1
    removed = vote(0)
    assert (removed.status_code, removed.json()) == (201, {"message": "successfully deleted vote"})
    assert vote(0).status_code == 404
    assert vote(1, pid=999_999).status_code == 404
    bad = vote(2)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "dir"]


def test_the_app_runs_under_uvicorn(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "AGORA_DATABASE_URL": f"sqlite:///{tmp_path}/uvicorn.db"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--log-level", "warning"],
        cwd=APP_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.read() == b'{"message":"Hello World"}'
                    break
            except OSError:
                assert server.poll() is None, "uvicorn exited"
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        assert (tmp_path / "uvicorn.db").exists()
        assert (tmp_path / "uvicorn.db.jwt-secret").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_app_serves_the_servers_other_endpoints_too(client: TestClient, signup: Signup) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/feed", "/tags", "/profiles/{username}/follow", "/posts/{id}/comments", "/forgot-password"):
        assert path in paths, path
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    headers = signup()["headers"]
    named = client.put("/users/me", json={"username": "ada_example"}, headers=headers)
    assert named.status_code == 200 and named.json()["username"] == "ada_example"
    profile = client.get("/profiles/ADA_EXAMPLE")
    assert profile.json() == {"username": "ada_example", "bio": None, "image": None, "following": False}
    missing = client.get("/no-such-route")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found", "code": "NOT_FOUND"})
