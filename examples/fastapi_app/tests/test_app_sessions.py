"""The session routes of the FastAPI example through TestClient: the same
paths, status codes and bodies as the Rust API (adapter-axum)."""

from __future__ import annotations

from typing import Any, Callable, Dict

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"  # the password the signup fixture uses
NEW_PASSWORD = "a brand new passphrase"
UNAUTHORIZED = {"detail": "Could not validate credentials", "code": "UNAUTHORIZED"}

Signup = Callable[[], Dict[str, Any]]


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, email: str, password: str = PASSWORD) -> Dict[str, Any]:
    response = client.post("/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    token: Dict[str, Any] = response.json()
    return token


def test_token_refresh_rotates_the_refresh_token(client: TestClient, signup: Signup) -> None:
    user = signup()
    refreshed = client.post("/token/refresh", json={"refresh_token": user["refresh_token"]})
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert list(body) == ["access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"]
    assert body["refresh_token"] != user["refresh_token"] and body["token_type"] == "bearer"
    assert client.get("/users/me", headers=bearer(body["access_token"])).json()["email"] == user["email"]
    refused = client.post("/token/refresh", json={"refresh_token": user["token"]})  # an access token
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
    missing = client.post("/token/refresh", json={})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "refresh_token"]


def test_logout_ends_the_session_with_204(client: TestClient, signup: Signup) -> None:
    user = signup()
    assert client.post("/logout", headers=user["headers"]).status_code == 204
    assert client.get("/users/me", headers=user["headers"]).status_code == 401
    again = client.post("/token/refresh", json={"refresh_token": user["refresh_token"]})
    assert again.status_code == 401
    assert client.post("/logout").status_code == 401


def test_logout_all_ends_every_session_with_204(client: TestClient, signup: Signup) -> None:
    user = signup()
    second = login(client, user["email"])
    assert client.post("/logout/all", headers=user["headers"]).status_code == 204
    for token in (user["token"], second["access_token"]):
        assert client.get("/users/me", headers=bearer(token)).status_code == 401


def test_sessions_are_listed_and_ended_by_id(client: TestClient, signup: Signup) -> None:
    user = signup()
    other_device = login(client, user["email"])
    listed = client.get("/sessions", headers=user["headers"])
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert all(
        list(s) == ["id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"]
        for s in sessions
    )
    assert sorted(s["current"] for s in sessions) == [False, True]
    [other_id] = [s["id"] for s in sessions if not s["current"]]
    ended = client.delete(f"/sessions/{other_id}", headers=user["headers"])
    assert (ended.status_code, ended.content) == (204, b"")
    assert client.get("/users/me", headers=bearer(other_device["access_token"])).status_code == 401
    gone = client.delete(f"/sessions/{other_id}", headers=user["headers"])
    assert (gone.status_code, gone.json()) == (404, {"detail": "Session not found", "code": "SESSION_NOT_FOUND"})
    assert client.get("/sessions").status_code == 401


def test_password_change_checks_the_current_password_and_ends_other_sessions(
    client: TestClient, signup: Signup
) -> None:
    user = signup()
    other_device = login(client, user["email"])

    def change(current: str, new: str) -> Any:
        body = {"current_password": current, "new_password": new}
        return client.put("/users/me/password", json=body, headers=user["headers"])

    wrong = change("not my password", NEW_PASSWORD)
    assert (wrong.status_code, wrong.json()) == (403, {"detail": "Invalid Credentials", "code": "INVALID_CREDENTIALS"})
    common = change(PASSWORD, "password123")
    assert common.status_code == 422 and common.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert change(PASSWORD, NEW_PASSWORD).status_code == 204
    assert client.get("/users/me", headers=user["headers"]).status_code == 200
    assert client.get("/users/me", headers=bearer(other_device["access_token"])).status_code == 401
    assert client.post("/login", data={"username": user["email"], "password": PASSWORD}).status_code == 403
    login(client, user["email"], NEW_PASSWORD)


def test_account_deletion_needs_the_password_and_ends_every_token(
    client: TestClient, signup: Signup
) -> None:
    user = signup()

    def delete(password: str) -> Any:
        return client.request("DELETE", "/users/me", json={"password": password}, headers=user["headers"])

    assert delete("not my password").status_code == 403
    deleted = delete(PASSWORD)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get("/users/me", headers=user["headers"]).status_code == 401
    assert client.post("/token/refresh", json={"refresh_token": user["refresh_token"]}).status_code == 401
    assert client.get(f"/users/{user['id']}").status_code == 404
