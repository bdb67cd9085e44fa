"""Sessions and their tokens: refresh rotation and reuse detection, logout,
the session list, password change and account deletion (issue 6)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora

NEW_PASSWORD = "a brand new passphrase"


def session_id(app: agora.Agora, token: agora.Token) -> str:
    """The id of ``token``'s session, as ``sessions`` marks it."""
    [current] = [s for s in app.sessions(token) if s.current]
    return current.id


def test_refresh_rotates_the_refresh_token_and_issues_a_new_access_token(
    app: agora.Agora, user: agora.User
) -> None:
    first = app.login(user.email, PASSWORD)
    second = app.refresh(first.refresh_token, client_ip="192.0.2.1", user_agent="pytest")
    assert isinstance(second, agora.Token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert (second.token_type, second.expires_in) == ("bearer", 1800)
    assert 0 < second.refresh_expires_in <= first.refresh_expires_in
    assert list(second.to_dict()) == [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    ]
    assert second.refresh_token not in repr(second) and second.access_token not in repr(second)
    assert app.authenticate(second.access_token) == user
    assert session_id(app, second) == session_id(app, first)  # the same session goes on
    third = app.refresh(second.refresh_token)
    assert app.authenticate(third.access_token) == user


def test_replaying_a_refresh_token_within_the_grace_window_is_a_retry_not_reuse(
    app: agora.Agora, user: agora.User
) -> None:
    first = app.login(user.email, PASSWORD)
    second = app.refresh(first.refresh_token)
    retried = app.refresh(first.refresh_token)  # default grace: 10 seconds
    assert retried.refresh_token == second.refresh_token  # one chain of tokens per session
    assert app.authenticate(retried.access_token) == user
    assert app.authenticate(second.access_token) == user


def test_replaying_a_rotated_refresh_token_after_the_grace_window_revokes_the_session(
    db_path: Path,
) -> None:
    app = agora.Agora(
        sqlite_url(db_path), jwt_secret=SECRET, refresh_reuse_grace=timedelta(milliseconds=50)
    )
    email = unique_email()
    app.register(email, PASSWORD)
    stolen = app.login(email, PASSWORD)
    other_device = app.login(email, PASSWORD)
    rotated = app.refresh(stolen.refresh_token)
    time.sleep(0.3)
    with pytest.raises(agora.Unauthorized):
        app.refresh(stolen.refresh_token)  # reuse: the whole session ends...
    with pytest.raises(agora.Unauthorized):
        app.refresh(rotated.refresh_token)
    with pytest.raises(agora.Unauthorized):
        app.authenticate(rotated.access_token)
    assert app.authenticate(other_device.access_token).email == email  # ...not the others


@pytest.mark.parametrize(
    ("grace", "error"),
    [(-1, ValueError), (timedelta(seconds=-1), ValueError), ("10s", TypeError), (True, TypeError)],
)
def test_refresh_reuse_grace_takes_seconds_or_a_timedelta_and_refuses_the_rest(
    db_path: Path, grace: Any, error: type
) -> None:
    url = sqlite_url(db_path)
    agora.Agora(url, jwt_secret=SECRET, refresh_reuse_grace=0)
    agora.AsyncAgora(url, jwt_secret=SECRET, refresh_reuse_grace=timedelta(seconds=2))
    with pytest.raises(error, match="refresh_reuse_grace"):
        agora.Agora(url, jwt_secret=SECRET, refresh_reuse_grace=grace)


def test_a_refresh_token_is_refused_as_an_access_token_and_an_access_token_at_refresh(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    with pytest.raises(agora.Unauthorized):
        app.authenticate(token.refresh_token)
    with pytest.raises(agora.Unauthorized):
        app.logout(token.refresh_token)
    with pytest.raises(agora.Unauthorized) as caught:
        app.refresh(token.access_token)
    assert (caught.value.status_code, caught.value.detail) == (401, "Could not validate credentials")
    for garbage in ["", "x" * 1000, "not-a-token"]:
        with pytest.raises(agora.Unauthorized):
            app.refresh(garbage)
    assert app.authenticate(app.refresh(token.refresh_token).access_token) == user


def test_logout_ends_the_access_and_refresh_tokens_of_its_session_only(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    elsewhere = app.login(user.email, PASSWORD)
    assert app.logout(token) is None
    with pytest.raises(agora.Unauthorized):
        app.authenticate(token.access_token)
    with pytest.raises(agora.Unauthorized):
        app.refresh(token.refresh_token)
    with pytest.raises(agora.Unauthorized):
        app.logout(token.access_token)
    assert app.authenticate(elsewhere.access_token) == user


def test_logout_all_ends_every_session_of_the_user_and_counts_them(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    tokens = [app.login(user.email, PASSWORD) for _ in range(3)]
    someone_else = app.login(other.email, PASSWORD)
    assert app.logout_all(tokens[0].access_token) == 3
    for token in tokens:
        with pytest.raises(agora.Unauthorized):
            app.authenticate(token.access_token)
        with pytest.raises(agora.Unauthorized):
            app.refresh(token.refresh_token)
    assert app.authenticate(someone_else.access_token) == other


def test_sessions_lists_the_active_sessions_and_marks_the_current_one(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    phone = app.login(user.email, PASSWORD, client_ip="2001:db8::7", user_agent="phone/1.0")
    laptop = app.login(user.email, PASSWORD)
    app.login(other.email, PASSWORD)
    app.logout(app.login(user.email, PASSWORD))  # ended: not listed
    sessions = app.sessions(phone)
    assert len(sessions) == 2 and all(isinstance(s, agora.Session) for s in sessions)
    [current] = [s for s in sessions if s.current]
    [other_session] = [s for s in sessions if not s.current]
    assert (current.ip, current.user_agent) == ("2001:db8::7", "phone/1.0")
    assert (other_session.ip, other_session.user_agent) == (None, None)
    for stamp in (current.created_at, current.last_used_at, current.expires_at):
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
    assert before <= current.created_at <= current.last_used_at < current.expires_at
    assert [s.current for s in app.sessions(laptop.access_token)] == [
        s.id == other_session.id for s in app.sessions(laptop.access_token)
    ]
    data = current.to_dict()
    assert list(data) == ["id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"]
    assert data["id"] == current.id and data["current"] is True
    assert datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")) == current.created_at
    assert json.loads(json.dumps(data)) == data
    assert current in app.sessions(phone) and len({current, *app.sessions(phone)}) == 2
    assert current.id in repr(current) and phone.access_token not in repr(current)
    with pytest.raises(AttributeError):
        current.current = False  # type: ignore[misc]


def test_end_session_ends_one_of_the_users_sessions_and_others_are_not_found(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    mine = app.login(user.email, PASSWORD)
    stolen = app.login(user.email, PASSWORD)
    theirs = app.login(other.email, PASSWORD)
    stolen_id, their_id = session_id(app, stolen), session_id(app, theirs)
    assert app.end_session(mine, stolen_id) is None
    with pytest.raises(agora.Unauthorized):
        app.authenticate(stolen.access_token)
    with pytest.raises(agora.Unauthorized):
        app.refresh(stolen.refresh_token)
    assert [s.current for s in app.sessions(mine)] == [True]
    for missing in [stolen_id, their_id, "nope", "f" * 100]:
        with pytest.raises(agora.NotFound) as caught:
            app.end_session(mine, missing)
        assert (caught.value.status_code, caught.value.detail) == (404, "Session not found")
    assert app.authenticate(theirs.access_token) == other


def test_change_password_with_a_wrong_current_password_is_invalid_credentials(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    with pytest.raises(agora.InvalidCredentials) as caught:
        app.change_password(token, "not my password", NEW_PASSWORD)
    assert (caught.value.status_code, caught.value.detail) == (403, "Invalid Credentials")
    assert app.login(user.email, PASSWORD).token_type == "bearer"  # unchanged


def test_change_password_replaces_the_password_and_ends_the_other_sessions(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    elsewhere = app.login(user.email, PASSWORD)
    assert app.change_password(token.access_token, PASSWORD, NEW_PASSWORD) is None
    assert app.authenticate(token.access_token) == user  # this session goes on
    assert app.authenticate(app.refresh(token.refresh_token).access_token) == user
    with pytest.raises(agora.Unauthorized):
        app.authenticate(elsewhere.access_token)
    with pytest.raises(agora.Unauthorized):
        app.refresh(elsewhere.refresh_token)
    with pytest.raises(agora.InvalidCredentials):
        app.login(user.email, PASSWORD)
    assert app.authenticate(app.login(user.email, NEW_PASSWORD).access_token) == user


def test_delete_account_checks_the_password_then_makes_every_token_unauthorized(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    elsewhere = app.login(user.email, PASSWORD)
    app.create_post(token, "Gone soon", "with the account")
    with pytest.raises(agora.InvalidCredentials):
        app.delete_account(token, "not my password")
    assert app.delete_account(token, PASSWORD) is None
    for access in (token.access_token, elsewhere.access_token):
        with pytest.raises(agora.Unauthorized):
            app.authenticate(access)
        with pytest.raises(agora.Unauthorized):
            app.sessions(access)
    with pytest.raises(agora.Unauthorized):
        app.refresh(elsewhere.refresh_token)
    with pytest.raises(agora.NotFound):
        app.get_user(user.id)
    with pytest.raises(agora.InvalidCredentials):
        app.login(user.email, PASSWORD)


def test_a_common_password_is_a_validation_error_at_registration_and_password_change(
    app: agora.Agora, user: agora.User
) -> None:
    with pytest.raises(agora.ValidationError) as caught:
        app.register(unique_email(), "password123")
    assert [e["loc"] for e in caught.value.errors] == [["body", "password"]]
    assert caught.value.status_code == 422
    token = app.login(user.email, PASSWORD)
    with pytest.raises(agora.ValidationError) as caught:
        app.change_password(token, PASSWORD, "password123")
    assert [e["loc"] for e in caught.value.errors] == [["body", "new_password"]]
    with pytest.raises(agora.ValidationError):
        app.change_password(token, PASSWORD, "short")
    assert app.login(user.email, PASSWORD).token_type == "bearer"  # unchanged


SESSION_CALLS: Dict[str, Callable[[agora.Agora, Any], Any]] = {
    "logout": lambda app, token: app.logout(token),
    "logout_all": lambda app, token: app.logout_all(token),
    "sessions": lambda app, token: app.sessions(token),
    "end_session": lambda app, token: app.end_session(token, "0" * 32),
    "change_password": lambda app, token: app.change_password(token, PASSWORD, NEW_PASSWORD),
    "delete_account": lambda app, token: app.delete_account(token, PASSWORD),
}


@pytest.mark.parametrize("call", list(SESSION_CALLS))
def test_session_calls_take_an_access_token_not_a_user_and_refuse_bad_tokens(
    app: agora.Agora, user: agora.User, call: str
) -> None:
    with pytest.raises(TypeError, match="agora.Token or an access token"):
        SESSION_CALLS[call](app, user)
    for bad in ["", "garbage", app.login(user.email, PASSWORD).refresh_token]:
        with pytest.raises(agora.Unauthorized) as caught:
            SESSION_CALLS[call](app, bad)
        assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


def test_hide_emails_hides_other_users_addresses_but_not_ones_own(tmp_path: Path) -> None:
    app = agora.Agora(f"sqlite:///{tmp_path / 'private.db'}", throttle=False, hide_emails=True)
    alice = app.register("alice@example.com", "correct horse battery")
    app.register("bob@example.com", "correct horse battery")
    alice_token = app.login("alice@example.com", "correct horse battery")
    bob_token = app.login("bob@example.com", "correct horse battery")
    post = app.create_post(alice_token, "Hello", "From Alice")
    assert post.owner.email == "alice@example.com"
    assert app.get_post(alice_token, post.id).post.owner.email == "alice@example.com"
    seen_by_bob = app.get_post(bob_token, post.id).post.owner
    assert seen_by_bob.email is None and seen_by_bob.id == alice.id
    assert seen_by_bob.to_dict()["email"] is None
    assert app.get_user(alice.id).email is None
    assert app.authenticate(bob_token.access_token).email == "bob@example.com"
