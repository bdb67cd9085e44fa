"""The synchronous API: every method, its results and its errors."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List, Tuple

import pytest
from support import (
    PASSWORD,
    SECRET,
    claims_for,
    make_jwt,
    run_sql,
    coverage,
    sqlite_url,
    unique_email,
    write_locked,
)

import agora

# An argon2id hash of "weak but valid password" with m=8192, t=1, p=1: weaker
# than Agora's parameters (made once with argon2-cffi).
WEAK_PASSWORD = "weak but valid password"
WEAK_HASH = (
    "$argon2id$v=19$m=8192,t=1,p=1$E+IzLkaYkKJgIIQ9A8PpNQ$"
    "UKjZrDMbWVVMdpkeC6/sX3QgPl+asf+2KEN8vQxGkNw"
)


# --- users -------------------------------------------------------------------


def test_register_returns_a_user_with_a_lowercased_email_and_an_aware_timestamp(
    app: agora.Agora,
) -> None:
    before = datetime.now(timezone.utc)
    user = app.register("Ada.Lovelace@Example.COM", PASSWORD)
    assert isinstance(user, agora.User)
    assert user.id >= 1
    assert user.email == "ada.lovelace@example.com"
    assert user.created_at.tzinfo is not None
    assert user.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= user.created_at <= datetime.now(timezone.utc)


def test_user_to_dict_is_the_http_json_shape(user: agora.User) -> None:
    data = user.to_dict()
    assert list(data) == ["id", "email", "created_at", "username", "bio", "image", "email_verified"]
    assert data["id"] == user.id and data["email"] == user.email
    assert data["created_at"].endswith("Z")
    parsed = datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
    assert parsed == user.created_at
    assert json.loads(json.dumps(data)) == data


def test_users_compare_by_value_and_are_hashable_and_frozen(
    app: agora.Agora, user: agora.User
) -> None:
    again = app.get_user(user.id)
    assert again == user and hash(again) == hash(user)
    assert len({user, again}) == 1
    assert user.email in repr(user)
    with pytest.raises(AttributeError):
        user.email = "x@example.com"  # type: ignore[misc]
    with pytest.raises(TypeError):
        agora.User()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("email", "password", "locs"),
    [
        ("not-an-email", PASSWORD, [["body", "email"]]),
        ("ok@example.com", "short", [["body", "password"]]),
        ("ok@example.com", "x" * 129, [["body", "password"]]),
        ("bad", "short", [["body", "email"], ["body", "password"]]),
    ],
)
def test_register_rejects_bad_input_with_field_errors(
    app: agora.Agora, email: str, password: str, locs: list
) -> None:
    with pytest.raises(agora.ValidationError) as caught:
        app.register(email, password)
    err = caught.value
    assert [e["loc"] for e in err.errors] == locs
    assert all(set(e) == {"loc", "msg", "type"} for e in err.errors)
    assert err.status_code == 422
    assert err.detail == err.errors
    assert err.to_dict() == {"detail": err.errors, "code": "VALIDATION_ERROR"}
    assert isinstance(err, ValueError) and isinstance(err, agora.AgoraError)
    assert "body." in str(err)


def test_password_length_counts_characters_not_bytes(app: agora.Agora) -> None:
    assert app.register(unique_email(), "é" * 8).id >= 1
    assert app.register(unique_email(), "x" * 128).id >= 1


def test_a_taken_email_is_a_conflict_whatever_its_case(
    app: agora.Agora, user: agora.User
) -> None:
    with pytest.raises(agora.Conflict) as caught:
        app.register(user.email.upper(), PASSWORD)
    assert caught.value.status_code == 409
    assert user.email in caught.value.message


def test_get_user_finds_users_and_raises_not_found(app: agora.Agora, user: agora.User) -> None:
    assert app.get_user(user.id) == user
    with pytest.raises(agora.NotFound) as caught:
        app.get_user(999_999)
    assert caught.value.status_code == 404
    assert isinstance(caught.value, LookupError)
    assert caught.value.detail == "User with id: 999999 does not exist"


# --- login and tokens ------------------------------------------------------------


def test_login_issues_a_bearer_token_for_the_configured_lifetime(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email.upper(), PASSWORD)
    assert isinstance(token, agora.Token)
    assert token.token_type == "bearer"
    assert token.expires_in == 1800
    assert token.access_token.count(".") == 2
    assert token.refresh_token and token.refresh_expires_in > token.expires_in
    assert token.to_dict() == {
        "access_token": token.access_token,
        "token_type": "bearer",
        "expires_in": 1800,
        "refresh_token": token.refresh_token,
        "refresh_expires_in": token.refresh_expires_in,
    }
    assert token.access_token not in repr(token)
    assert token.refresh_token not in repr(token)
    assert app.authenticate(token.access_token) == user


def test_login_gives_the_same_error_for_an_unknown_email_and_a_wrong_password(
    app: agora.Agora, user: agora.User
) -> None:
    errors = []
    for email, password in [
        (user.email, "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not even an email", PASSWORD),
    ]:
        with pytest.raises(agora.InvalidCredentials) as caught:
            app.login(email, password)
        errors.append((caught.value.status_code, caught.value.detail))
    assert errors == [(403, "Invalid Credentials")] * 3


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        make_jwt(claims_for(1), secret="another-secret-of-at-least-32-bytes!!"),
        make_jwt(claims_for(1), alg="none"),
        make_jwt(claims_for(1, exp_offset=-3600)),
        make_jwt({**claims_for(1), "sub": "2"}),
    ],
    ids=["empty", "garbage", "three-parts", "other-secret", "alg-none", "expired", "sub-mismatch"],
)
def test_authenticate_refuses_invalid_tokens(app: agora.Agora, user: agora.User, token: str) -> None:
    assert user.id == 1
    with pytest.raises(agora.Unauthorized) as caught:
        app.authenticate(token)
    err = caught.value
    assert (err.status_code, err.detail) == (401, "Could not validate credentials")
    assert err.headers == {"WWW-Authenticate": "Bearer"}


def test_a_well_signed_token_without_a_session_is_refused(
    app: agora.Agora, user: agora.User
) -> None:
    forged = make_jwt(claims_for(user.id))
    assert app.verify_token(forged) == user.id  # the signature is right...
    with pytest.raises(agora.Unauthorized):
        app.authenticate(forged)  # ...but no login started that session


def test_repeated_failed_logins_are_rate_limited(app: agora.Agora, user: agora.User) -> None:
    for _ in range(5):
        with pytest.raises(agora.InvalidCredentials):
            app.login(user.email, "wrong password", client_ip="192.0.2.7")
    with pytest.raises(agora.RateLimited) as caught:
        app.login(user.email, PASSWORD, client_ip="192.0.2.8")
    err = caught.value
    assert err.status_code == 429 and err.retry_after > 0
    # The servers' headers: the wait, and the policy that refused (per account).
    assert err.headers == {
        "Retry-After": str(err.retry_after),
        "Ratelimit-Policy": '"login";q=5;w=900',
        "Ratelimit": f'"login";r=0;t={err.retry_after}',
    }


def test_registrations_are_rate_limited_per_client_ip(app: agora.Agora) -> None:
    for _ in range(20):
        app.register(unique_email(), PASSWORD, client_ip="198.51.100.1", user_agent="pytest")
    with pytest.raises(agora.RateLimited):
        app.register(unique_email(), PASSWORD, client_ip="198.51.100.1")
    assert app.register(unique_email(), PASSWORD, client_ip="2001:db8::1").id > 0
    assert app.register(unique_email(), PASSWORD).id > 0  # no IP known: not throttled per IP


def test_throttling_can_be_turned_off(db_path: Path) -> None:
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, throttle=False)
    for _ in range(21):
        app.register(unique_email(), PASSWORD, client_ip="198.51.100.2")
    email = unique_email()
    app.register(email, PASSWORD)
    for _ in range(6):
        with pytest.raises(agora.InvalidCredentials):
            app.login(email, "wrong password")
    assert app.login(email, PASSWORD).token_type == "bearer"


def test_client_ip_must_be_an_ip_address(app: agora.Agora) -> None:
    with pytest.raises(ValueError, match="client_ip"):
        app.login("a@example.com", PASSWORD, client_ip="not-an-ip")


def test_verify_token_checks_the_token_but_not_the_user(app: agora.Agora, user: agora.User) -> None:
    token = app.login(user.email, PASSWORD)
    assert app.verify_token(token.access_token) == user.id
    ghost = make_jwt(claims_for(424242))
    assert app.verify_token(ghost) == 424242
    with pytest.raises(agora.Unauthorized):
        app.authenticate(ghost)
    with pytest.raises(agora.Unauthorized):
        app.verify_token(make_jwt(claims_for(user.id), alg="none"))


def test_tokens_of_one_secret_are_refused_by_another(db_path: Path, user: agora.User) -> None:
    first = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    token = first.login(user.email, PASSWORD)
    other = agora.Agora(sqlite_url(db_path), jwt_secret=os.urandom(32))
    with pytest.raises(agora.Unauthorized):
        other.authenticate(token.access_token)
    assert agora.Agora(sqlite_url(db_path), jwt_secret=SECRET.encode()).authenticate(
        token.access_token
    ) == user


def test_without_a_secret_one_is_generated_kept_private_and_reused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "kept.db")
    first = agora.Agora(url)
    secret_file = tmp_path / "kept.db.jwt-secret"
    assert secret_file.exists()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_text().strip()) >= 32
    user = first.register(unique_email(), PASSWORD)
    token = first.login(user.email, PASSWORD)
    restarted = agora.Agora(url)
    assert restarted.authenticate(token.access_token) == user


def test_access_token_ttl_takes_seconds_or_a_timedelta(db_path: Path) -> None:
    url = sqlite_url(db_path)
    by_int = agora.Agora(url, jwt_secret=SECRET, access_token_ttl=90)
    by_delta = agora.Agora(url, jwt_secret=SECRET, access_token_ttl=timedelta(hours=1))
    assert by_int.access_token_ttl == timedelta(seconds=90)
    email = unique_email()
    by_int.register(email, PASSWORD)
    assert by_int.login(email, PASSWORD).expires_in == 90
    assert by_delta.login(email, PASSWORD).expires_in == 3600


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"jwt_secret": "too short"}, ValueError),
        ({"jwt_secret": 12345}, TypeError),
        ({"access_token_ttl": 0}, ValueError),
        ({"access_token_ttl": -5}, ValueError),
        ({"access_token_ttl": timedelta(milliseconds=10)}, ValueError),
        ({"access_token_ttl": "30m"}, TypeError),
        ({"access_token_ttl": True}, TypeError),
    ],
)
def test_bad_settings_are_refused_at_construction(
    db_path: Path, kwargs: dict, error: type
) -> None:
    kwargs.setdefault("jwt_secret", SECRET)
    with pytest.raises(error):
        agora.Agora(sqlite_url(db_path), **kwargs)


def test_short_secret_message_names_the_argument(db_path: Path) -> None:
    with pytest.raises(ValueError, match="jwt_secret: .*at least 32 bytes"):
        agora.Agora(sqlite_url(db_path), jwt_secret="short")


# --- database URLs ---------------------------------------------------------------


def test_sqlalchemy_and_sqlx_relative_urls_open_files_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    three = agora.Agora("sqlite:///three.db", jwt_secret=SECRET)
    two = agora.Agora("sqlite://two.db", jwt_secret=SECRET)
    assert three.database_url == "sqlite://three.db"
    assert (tmp_path / "three.db").exists() and (tmp_path / "two.db").exists()
    three.register(unique_email(), PASSWORD)
    assert run_sql(tmp_path / "three.db", ("SELECT count(*) FROM users", [])) == [[1]]
    assert two.database_url == "sqlite://two.db"


def test_the_default_database_is_agora_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = agora.Agora()
    assert app.database_url == "sqlite://agora.db"
    assert (tmp_path / "agora.db").exists()
    assert (tmp_path / "agora.db.jwt-secret").exists()


def test_four_slashes_mean_an_absolute_path(tmp_path: Path) -> None:
    app = agora.Agora(f"sqlite:///{tmp_path}/abs.db", jwt_secret=SECRET)
    assert app.database_url == f"sqlite://{tmp_path}/abs.db"
    assert (tmp_path / "abs.db").exists()


def test_in_memory_databases_leave_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ["sqlite://", "sqlite:///:memory:", "sqlite::memory:"]:
        app = agora.Agora(url)
        assert app.database_url == "sqlite::memory:"
        user = app.register(unique_email(), PASSWORD)
        assert app.authenticate(app.login(user.email, PASSWORD).access_token) == user
    assert os.listdir(tmp_path) == []


def test_unsupported_and_unopenable_databases_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        agora.Agora("oracle://db", jwt_secret=SECRET)
    missing = tmp_path / "missing-dir"
    with pytest.raises(agora.Unavailable, match=r"^database_url: the directory .*missing-dir .*does not exist: create it"):
        agora.Agora(sqlite_url(missing / "x.db"), jwt_secret=SECRET)
    assert not missing.exists()


def test_health_answers_when_the_database_does(app: agora.Agora) -> None:
    assert app.health() is None


def test_a_locked_database_is_unavailable_with_the_cause_kept_out_of_the_message(
    app: agora.Agora, db_path: Path
) -> None:
    with write_locked(db_path), pytest.raises(agora.Unavailable) as caught:
        app.register(unique_email(), PASSWORD)  # waits for the 5 s busy timeout
    err = caught.value
    assert err.status_code == 503
    assert err.detail == "Service temporarily unavailable, try again later"
    assert "locked" in str(err.__cause__)
    assert "locked" not in str(err)


# --- posts -----------------------------------------------------------------------


def test_create_post_defaults_to_published_and_carries_its_owner(
    app: agora.Agora, user: agora.User
) -> None:
    post = app.create_post(user, "Hello", "First post")
    assert isinstance(post, agora.Post)
    assert (post.title, post.content, post.published) == ("Hello", "First post", True)
    assert post.owner_id == user.id and post.owner == user
    assert post.owner.email == user.email
    assert post.created_at.tzinfo is not None
    data = post.to_dict()
    assert list(data) == [
        "id",
        "title",
        "content",
        "published",
        "created_at",
        "owner_id",
        "owner",
        "description",
        "tags",
        "updated_at",
    ]
    assert (post.description, post.tags, post.updated_at) == (None, [], None)
    assert data["owner"] == user.to_dict()


@pytest.mark.parametrize(
    ("title", "content", "locs"),
    [
        ("   ", "x", [["body", "title"]]),
        ("t", "", [["body", "content"]]),
        ("t" * 301, "x" * 10_001, [["body", "title"], ["body", "content"]]),
        ("nul\0", "x", [["body", "title"]]),
    ],
)
def test_create_post_validates_title_and_content(
    app: agora.Agora, user: agora.User, title: str, content: str, locs: list
) -> None:
    with pytest.raises(agora.ValidationError) as caught:
        app.create_post(user, title, content)
    assert [e["loc"] for e in caught.value.errors] == locs


def test_get_post_returns_the_post_with_its_votes(app: agora.Agora, user: agora.User) -> None:
    post = app.create_post(user, "Counted", "body")
    found = app.get_post(user, post.id)
    assert isinstance(found, agora.PostWithVotes)
    assert found.post == post and (found.votes, found.voted) == (0, False)
    assert found.to_dict() == {"Post": post.to_dict(), "votes": 0, "voted": False}
    with pytest.raises(agora.NotFound, match="post with id: 999999 was not found"):
        app.get_post(user, 999_999)


def test_list_posts_is_newest_first_searchable_and_paged(app: agora.Agora, user: agora.User) -> None:
    marker = unique_email("m").split("@")[0]
    ids = [app.create_post(user, f"{marker} number {i}", "body").id for i in range(5)]
    app.create_post(user, "unrelated", "body")
    listed = app.list_posts(user, search=marker.upper())
    assert [p.post.id for p in listed] == ids[::-1]
    page = app.list_posts(user, limit=2, skip=1, search=marker)
    assert [p.post.id for p in page] == [ids[3], ids[2]]
    assert len(app.list_posts(user)) == 6
    assert len(app.list_posts(user, limit=100)) == 6
    after = app.list_posts(user, limit=2, search=marker, after=ids[3])
    assert [p.post.id for p in after] == [ids[2], ids[1]]


@pytest.mark.parametrize(
    ("kwargs", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 101}, ["query", "limit"]),
        ({"skip": -1}, ["query", "skip"]),
        ({"search": "a\0b"}, ["query", "search"]),
    ],
)
def test_list_posts_enforces_the_http_query_bounds(
    app: agora.Agora, user: agora.User, kwargs: dict, loc: list
) -> None:
    with pytest.raises(agora.ValidationError) as caught:
        app.list_posts(user, **kwargs)
    assert [e["loc"] for e in caught.value.errors] == [loc]


def test_only_the_owner_may_update_or_delete_a_post(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    post = app.create_post(user, "Mine", "body")
    with pytest.raises(agora.Forbidden) as caught:
        app.update_post(other, post.id, "Theirs", "body")
    assert caught.value.status_code == 403
    assert caught.value.detail == "Not authorized to perform requested action"
    with pytest.raises(agora.Forbidden):
        app.delete_post(other, post.id)
    updated = app.update_post(user, post.id, "Still mine", "new body", published=False)
    assert (updated.id, updated.title, updated.content, updated.published) == (
        post.id,
        "Still mine",
        "new body",
        False,
    )
    with pytest.raises(agora.ValidationError):
        app.update_post(user, post.id, "", "body")
    assert app.delete_post(user, post.id) is None
    with pytest.raises(agora.NotFound):
        app.get_post(user, post.id)
    with pytest.raises(agora.NotFound):
        app.delete_post(user, post.id)
    with pytest.raises(agora.NotFound):
        app.update_post(user, post.id, "gone", "gone")


def test_unpublished_posts_are_visible_to_their_owner_only(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    draft = app.create_post(user, "Draft", "secret", published=False)
    assert app.get_post(user, draft.id).post == draft
    assert [p.post.id for p in app.list_posts(user)] == [draft.id]
    assert app.list_posts(other) == []
    with pytest.raises(agora.NotFound):
        app.get_post(other, draft.id)
    with pytest.raises(agora.NotFound):
        app.update_post(other, draft.id, "x", "y")
    with pytest.raises(agora.NotFound):
        app.vote(other, draft.id, 1)


# --- votes -----------------------------------------------------------------------


def test_votes_are_added_once_and_removed_once(
    app: agora.Agora, user: agora.User, other: agora.User
) -> None:
    post = app.create_post(user, "Vote on me", "body")
    added = app.vote(other, post.id, 1)
    assert isinstance(added, agora.VoteResult)
    assert (added.post_id, added.added, added.message) == (post.id, True, "successfully added vote")
    assert added.to_dict() == {"message": "successfully added vote"}
    assert app.get_post(user, post.id).votes == 1
    with pytest.raises(agora.Conflict) as caught:
        app.vote(other, post.id, 1)
    assert caught.value.status_code == 409
    removed = app.vote(other, post.id, 0)
    assert (removed.added, removed.to_dict()) == (False, {"message": "successfully deleted vote"})
    assert app.get_post(user, post.id).votes == 0
    with pytest.raises(agora.NotFound, match="Vote does not exist"):
        app.vote(other, post.id, 0)


def test_vote_rejects_other_directions_and_unknown_posts(app: agora.Agora, user: agora.User) -> None:
    post = app.create_post(user, "p", "c")
    with pytest.raises(agora.ValidationError) as caught:
        app.vote(user, post.id, 2)
    assert [e["loc"] for e in caught.value.errors] == [["body", "dir"]]
    with pytest.raises(agora.NotFound, match="post with id: 999999 was not found"):
        app.vote(user, 999_999, 1)


# --- the acting user -------------------------------------------------------------


def test_protected_calls_accept_a_user_a_token_or_a_token_string(
    app: agora.Agora, user: agora.User
) -> None:
    token = app.login(user.email, PASSWORD)
    by_user = app.create_post(user, "by user", "c")
    by_token = app.create_post(token, "by token", "c")
    by_string = app.create_post(token.access_token, "by string", "c")
    assert {by_user.owner, by_token.owner, by_string.owner} == {user}
    with pytest.raises(agora.Unauthorized):
        app.create_post("not a token", "t", "c")
    with pytest.raises(agora.Unauthorized):
        app.list_posts(make_jwt(claims_for(user.id), alg="none"))
    with pytest.raises(TypeError, match="agora.User"):
        app.create_post(user.id, "t", "c")  # type: ignore[arg-type]


def test_a_deleted_users_token_and_object_stop_working(
    app: agora.Agora, user: agora.User, db_path: Path
) -> None:
    token = app.login(user.email, PASSWORD)
    run_sql(db_path, ("DELETE FROM users WHERE id = ?", [user.id]))
    with pytest.raises(agora.Unauthorized):
        app.authenticate(token.access_token)
    with pytest.raises(agora.Unauthorized):
        app.create_post(user, "orphan", "c")


# --- hashing helpers ------------------------------------------------------------


def test_hash_password_makes_salted_owasp_argon2id_hashes() -> None:
    first = agora.hash_password("hunter2 hunter2")
    second = agora.hash_password("hunter2 hunter2")
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert first != second
    assert agora.verify_password("hunter2 hunter2", first)
    assert not agora.verify_password("hunter2 hunter3", first)
    assert not agora.needs_rehash(first)


def test_verify_password_reads_weaker_hashes_and_needs_rehash_flags_them() -> None:
    assert agora.verify_password(WEAK_PASSWORD, WEAK_HASH)
    assert not agora.verify_password("wrong", WEAK_HASH)
    assert agora.needs_rehash(WEAK_HASH)
    assert agora.needs_rehash("$2b$12$abcdefghijklmnopqrstuuQWERTYUIOPASDFGHJKLZXCVBNM12345")
    assert agora.needs_rehash("not a hash")
    assert agora.verify_password("anything", "not a hash") is False


def test_login_upgrades_a_weaker_stored_hash(app: agora.Agora, db_path: Path) -> None:
    user = app.register(unique_email(), PASSWORD)
    run_sql(db_path, ("UPDATE users SET password_hash = ? WHERE id = ?", [WEAK_HASH, user.id]))
    app.login(user.email, WEAK_PASSWORD)
    [[stored]] = run_sql(db_path, ("SELECT password_hash FROM users WHERE id = ?", [user.id]))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert agora.verify_password(WEAK_PASSWORD, stored)


# --- the error hierarchy ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "status", "builtin"),
    [
        (agora.AgoraError, 500, Exception),
        (agora.ValidationError, 422, ValueError),
        (agora.InvalidCredentials, 403, Exception),
        (agora.Unauthorized, 401, Exception),
        (agora.Forbidden, 403, Exception),
        (agora.NotFound, 404, LookupError),
        (agora.Conflict, 409, Exception),
        (agora.PayloadTooLarge, 413, Exception),
        (agora.RateLimited, 429, Exception),
        (agora.Unavailable, 503, Exception),
    ],
)
def test_every_error_class_has_its_status_and_base(cls: type, status: int, builtin: type) -> None:
    assert issubclass(cls, agora.AgoraError) and issubclass(cls, builtin)
    assert cls.status_code == status
    assert cls.__doc__
    err = cls("message")
    assert (str(err), err.message, err.status_code) == ("message", "message", status)
    assert err.to_dict() == {"detail": err.detail, "code": err.code}


def test_raised_errors_carry_the_code_status_body_and_headers_rust_gives(
    app: agora.Agora, user: agora.User
) -> None:
    with pytest.raises(agora.NotFound) as missing_post:
        app.get_post(user, 999_999)
    err = missing_post.value
    assert (err.code, err.status_code, err.headers) == ("POST_NOT_FOUND", 404, {})
    assert err.to_dict() == {"detail": "post with id: 999999 was not found", "code": "POST_NOT_FOUND"}
    with pytest.raises(agora.NotFound) as missing_user:
        app.get_user(999_999)
    assert (missing_user.value.code, missing_user.value.status_code) == ("USER_NOT_FOUND", 404)
    post = app.create_post(user, "p", "c")
    app.vote(user, post.id, 1)
    with pytest.raises(agora.Conflict) as voted:
        app.vote(user, post.id, 1)
    assert (voted.value.code, voted.value.status_code) == ("VOTE_EXISTS", 409)
    with pytest.raises(agora.Unauthorized) as unauthorized:
        app.authenticate("garbage")
    assert unauthorized.value.to_dict() == {
        "detail": "Could not validate credentials",
        "code": "UNAUTHORIZED",
    }
    assert unauthorized.value.headers == {"WWW-Authenticate": "Bearer"}


@pytest.mark.parametrize(
    ("cls", "code", "headers"),
    [
        (agora.AgoraError, "INTERNAL_ERROR", {}),
        (agora.ValidationError, "VALIDATION_ERROR", {}),
        (agora.InvalidCredentials, "INVALID_CREDENTIALS", {}),
        (agora.Unauthorized, "UNAUTHORIZED", {"WWW-Authenticate": "Bearer"}),
        (agora.Forbidden, "NOT_OWNER", {}),
        (agora.NotFound, "NOT_FOUND", {}),
        (agora.Conflict, "EMAIL_TAKEN", {}),
        (agora.PayloadTooLarge, "PAYLOAD_TOO_LARGE", {}),
        (agora.RateLimited, "RATE_LIMITED", {"Retry-After": "0"}),
        (agora.Unavailable, "SERVICE_UNAVAILABLE", {}),
    ],
)
def test_errors_made_in_python_default_to_their_class_values_from_rust(
    cls: type, code: str, headers: dict
) -> None:
    assert (cls.code, cls.headers) == (code, headers)
    err = cls("message")
    assert (err.code, err.headers) == (code, headers)
    err.headers["X-Extra"] = "1"
    assert cls.headers == headers, "each instance has its own headers"
    given = cls("gone", code="POST_NOT_FOUND", status_code=404, headers={"X": "y"})
    assert (given.code, given.status_code, given.headers) == ("POST_NOT_FOUND", 404, {"X": "y"})


def test_rate_limited_carries_retry_after() -> None:
    err = agora.RateLimited("Too many requests", retry_after=30)
    assert err.retry_after == 30
    assert err.headers == {"Retry-After": "30"}


def test_errors_never_leak_the_password(app: agora.Agora, user: agora.User) -> None:
    secret = "a-very-secret-password-value"
    with pytest.raises(agora.InvalidCredentials) as caught:
        app.login(user.email, secret)
    assert secret not in repr(caught.value) and secret not in str(caught.value.to_dict())


# --- threads ---------------------------------------------------------------------


def test_eight_threads_log_in_and_authenticate_at_once(app: agora.Agora) -> None:
    users = [app.register(unique_email(f"t{i}-"), f"{PASSWORD} {i}") for i in range(8)]
    barrier = threading.Barrier(8)
    results: dict = {}
    errors: list = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            token = app.login(users[i].email, f"{PASSWORD} {i}")
            results[i] = app.authenticate(token.access_token)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [results[i] for i in range(8)] == users


def test_the_gil_is_released_while_hashing() -> None:
    """A pure-Python thread keeps running while another thread is inside
    hash_password: it ticks through a good part of at least one hash (a call holding
    the GIL leaves it under 0.1; a loaded machine lowers the other side)."""
    windows: List[Tuple[float, float]] = []
    done = threading.Event()

    def hash_some() -> None:
        for _ in range(8):
            start = time.perf_counter()
            agora.hash_password("correct horse battery staple")
            windows.append((start, time.perf_counter()))
        done.set()

    ticks: List[float] = []
    worker = threading.Thread(target=hash_some)
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    worker.join()
    best = max(coverage(ticks, start, end) for start, end in windows)
    assert best > 0.35, [round(coverage(ticks, s, e), 2) for s, e in windows]
