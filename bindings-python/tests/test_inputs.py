"""Every value a caller can pass ends as a result or a documented
``AgoraError``: integers outside 64 bits (ids, ``limit``, ``skip``,
``after``, ``dir``) and a ``client_ip`` that is no address raise
``ValidationError`` (422, at the location the HTTP API reports for the same
value), never ``OverflowError`` or a bare ``ValueError``; ``authenticate``
takes an ``agora.Token`` like every protected call. Sync and async."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Tuple, Union

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora

BIG = 2**63  # one past i64::MAX
HUGE = 2**64
TINY = -(2**63) - 1  # one below i64::MIN

INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"

Call = Callable[[Any, agora.User], Any]

#: (call, the field errors it raises): every integer argument of the API.
CASES: List[Tuple[str, Call, List[List[str]]]] = [
    ("get_user", lambda a, u: a.get_user(BIG), [["path", "id"]]),
    ("get_user-negative", lambda a, u: a.get_user(TINY), [["path", "id"]]),
    ("get_post", lambda a, u: a.get_post(u, BIG), [["path", "id"]]),
    ("get_post-anonymous", lambda a, u: a.get_post(None, TINY), [["path", "id"]]),
    ("update_post", lambda a, u: a.update_post(u, HUGE, "t", "c"), [["path", "id"]]),
    ("delete_post", lambda a, u: a.delete_post(u, BIG), [["path", "id"]]),
    ("list_posts-limit", lambda a, u: a.list_posts(u, limit=BIG), [["query", "limit"]]),
    ("list_posts-skip", lambda a, u: a.list_posts(u, skip=HUGE), [["query", "skip"]]),
    ("list_posts-after", lambda a, u: a.list_posts(None, after=BIG), [["query", "after"]]),
    (
        "list_posts-all",
        lambda a, u: a.list_posts(u, TINY, HUGE, after=BIG),
        [["query", "limit"], ["query", "skip"], ["query", "after"]],
    ),
    ("feed", lambda a, u: a.feed(u, limit=BIG, skip=TINY), [["query", "limit"], ["query", "skip"]]),
    ("tags", lambda a, u: a.tags(limit=2**100, skip=HUGE), [["query", "limit"], ["query", "skip"]]),
    ("comments-post", lambda a, u: a.comments(None, BIG), [["path", "post_id"]]),
    (
        "comments-paging",
        lambda a, u: a.comments(u, 1, BIG, HUGE, after=TINY),
        [["query", "limit"], ["query", "skip"], ["query", "after"]],
    ),
    ("add_comment", lambda a, u: a.add_comment(u, BIG, "hi"), [["path", "post_id"]]),
    (
        "delete_comment",
        lambda a, u: a.delete_comment(u, HUGE, BIG),
        [["path", "post_id"], ["path", "comment_id"]],
    ),
    ("vote-post", lambda a, u: a.vote(u, BIG, 1), [["body", "post_id"]]),
    ("vote-dir", lambda a, u: a.vote(u, 1, HUGE), [["body", "dir"]]),
]


def check(error: agora.ValidationError, locs: List[List[str]]) -> None:
    assert error.status_code == 422 and error.code == "VALIDATION_ERROR"
    assert isinstance(error, ValueError) and not isinstance(error, OverflowError)
    assert [e["loc"] for e in error.errors] == locs
    for field in error.errors:
        if field["loc"][0] == "body":  # as POST /vote answers a JSON number out of range
            assert (field["msg"], field["type"]) == ("Input should be a valid integer", "int_type")
        else:  # as parse_path_id and the query parser answer
            assert (field["msg"], field["type"]) == (INT_PARSING, "int_parsing")
    assert error.to_dict() == {"detail": error.errors, "code": "VALIDATION_ERROR"}


@pytest.fixture
def aapp(db_path: Path) -> agora.AsyncAgora:
    return agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)


@pytest.mark.parametrize("name,call,locs", CASES, ids=[c[0] for c in CASES])
def test_out_of_range_integers_are_validation_errors(
    app: agora.Agora, user: agora.User, name: str, call: Call, locs: List[List[str]]
) -> None:
    with pytest.raises(agora.ValidationError) as raised:
        call(app, user)
    check(raised.value, locs)


@pytest.mark.parametrize("name,call,locs", CASES, ids=[c[0] for c in CASES])
def test_out_of_range_integers_are_validation_errors_async(
    aapp: agora.AsyncAgora, name: str, call: Call, locs: List[List[str]]
) -> None:
    async def run() -> None:
        user = await aapp.register(unique_email(), PASSWORD)
        with pytest.raises(agora.ValidationError) as raised:
            await call(aapp, user)
        check(raised.value, locs)

    asyncio.run(run())


def test_the_edges_of_the_range_are_ordinary_values(app: agora.Agora, user: agora.User) -> None:
    for id in (2**63 - 1, -(2**63)):
        with pytest.raises(agora.NotFound):
            app.get_user(id)
        with pytest.raises(agora.NotFound):
            app.get_post(user, id)
    assert app.list_posts(user, after=2**63 - 1) == []
    # In range but out of bounds: core's own rule, as before.
    with pytest.raises(agora.ValidationError) as raised:
        app.list_posts(user, limit=2**63 - 1)
    assert raised.value.errors[0]["type"] == "range_error"


def test_a_non_integer_is_still_a_type_error(app: agora.Agora, user: agora.User) -> None:
    with pytest.raises(TypeError):
        app.get_user(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.list_posts(user, limit="10")  # type: ignore[arg-type]


BAD_IPS = ["nope", "", "256.0.0.1", "::g", "203.0.113.7:8080", "203.0.113.7\ud800"]

IpCall = Callable[[Any, str, str], Any]
IP_CALLS: List[Tuple[str, IpCall]] = [
    ("register", lambda a, email, ip: a.register(email, PASSWORD, client_ip=ip)),
    ("login", lambda a, email, ip: a.login(email, PASSWORD, client_ip=ip)),
    ("refresh", lambda a, email, ip: a.refresh("whatever", client_ip=ip)),
    ("forgot_password", lambda a, email, ip: a.forgot_password(email, client_ip=ip)),
    ("request_verify_token", lambda a, email, ip: a.request_verify_token(email, client_ip=ip)),
    ("reset_password", lambda a, email, ip: a.reset_password("t", PASSWORD, client_ip=ip)),
    ("verify", lambda a, email, ip: a.verify("t", client_ip=ip)),
]


def check_ip(error: agora.ValidationError) -> None:
    assert error.status_code == 422
    assert error.errors == [
        {"loc": ["client_ip"], "msg": "value is not a valid IPv4 or IPv6 address", "type": "ip_any_address"}
    ]


@pytest.mark.parametrize("bad", BAD_IPS)
@pytest.mark.parametrize("name,call", IP_CALLS, ids=[c[0] for c in IP_CALLS])
def test_a_client_ip_that_is_no_address_is_a_validation_error(
    app: agora.Agora, name: str, call: IpCall, bad: str
) -> None:
    with pytest.raises(agora.ValidationError) as raised:
        call(app, unique_email(), bad)
    check_ip(raised.value)


@pytest.mark.parametrize("name,call", IP_CALLS, ids=[c[0] for c in IP_CALLS])
def test_a_client_ip_that_is_no_address_is_a_validation_error_async(
    aapp: agora.AsyncAgora, name: str, call: IpCall
) -> None:
    async def run() -> None:
        with pytest.raises(agora.ValidationError) as raised:
            await call(aapp, unique_email(), "not-an-ip")
        check_ip(raised.value)

    asyncio.run(run())


def test_client_ips_of_both_families_are_taken(app: agora.Agora) -> None:
    email = unique_email()
    app.register(email, PASSWORD, client_ip=" 203.0.113.7 ")
    assert app.login(email, PASSWORD, client_ip="2001:db8::1").token_type == "bearer"


def test_authenticate_takes_a_token_or_its_string(app: agora.Agora, user: agora.User) -> None:
    token = app.login(user.email, PASSWORD)
    assert app.authenticate(token) == user
    assert app.authenticate(token.access_token) == user
    assert app.verify_token(token) == user.id
    with pytest.raises(TypeError, match="access_token must be an agora.Token"):
        app.authenticate(user)  # type: ignore[arg-type]


def test_authenticate_takes_a_token_async(aapp: agora.AsyncAgora) -> None:
    async def run() -> None:
        email = unique_email()
        user = await aapp.register(email, PASSWORD)
        token = await aapp.login(email, PASSWORD)
        assert await aapp.authenticate(token) == user
        assert await aapp.authenticate(token.access_token) == user

    asyncio.run(run())


UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"

#: Text UTF-8 cannot hold (lone surrogates, which ``json.loads`` lets
#: through): a ValidationError naming the argument, not UnicodeEncodeError.
TEXT_CASES: List[Tuple[str, Call, List[List[str]]]] = [
    ("register", lambda a, u: a.register("a\ud800@example.com", "x\udc00" * 8), [["email"], ["password"]]),
    ("login", lambda a, u: a.login(u.email, PASSWORD, user_agent="\ud800"), [["user_agent"]]),
    ("update_profile", lambda a, u: a.update_profile(u, bio="\ud800"), [["bio"]]),
    ("create_post", lambda a, u: a.create_post(u, "t", "c", tags=["ok", "\ud800"]), [["tags"]]),
    ("list_posts", lambda a, u: a.list_posts(u, search="\ud800", tag="\udfff"), [["search"], ["tag"]]),
    ("add_comment", lambda a, u: a.add_comment(u, 1, "\ud800"), [["body"]]),
]


@pytest.mark.parametrize("name,call,locs", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_text_utf8_cannot_hold_is_a_validation_error(
    app: agora.Agora, user: agora.User, name: str, call: Call, locs: List[List[str]]
) -> None:
    with pytest.raises(agora.ValidationError) as raised:
        call(app, user)
    assert [e["loc"] for e in raised.value.errors] == locs
    assert {(e["msg"], e["type"]) for e in raised.value.errors} == {(UNICODE, "string_unicode")}


def test_a_token_utf8_cannot_hold_is_unauthorized(app: agora.Agora, user: agora.User) -> None:
    with pytest.raises(agora.Unauthorized):
        app.authenticate("\ud800")
    with pytest.raises(agora.Unauthorized):
        app.list_posts("abc\udc80")
    with pytest.raises(agora.Unauthorized):
        app.verify_token("\ud800")
