"""AsyncAgora: the same services as coroutines, never blocking the event loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from datetime import timedelta
from pathlib import Path
from typing import List

import pytest
from support import PASSWORD, SECRET, coverage, sqlite_url, unique_email

import agora


@pytest.fixture
def aapp(db_path: Path) -> agora.AsyncAgora:
    """A fresh AsyncAgora over its own SQLite file."""
    return agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)


def test_every_method_of_agora_has_an_async_twin() -> None:
    sync = {name for name in dir(agora.Agora) if not name.startswith("_")}
    asynchronous = {name for name in dir(agora.AsyncAgora) if not name.startswith("_")}
    assert sync == asynchronous
    # The generated operations are coroutines; the rest (no I/O, or
    # constructors) stay plain: the properties, verify_token, jwks, from_env.
    operations = set(agora.Agora._operations)
    assert operations and operations < sync
    for name in sync:
        method = getattr(agora.AsyncAgora, name)
        assert inspect.iscoroutinefunction(method) == (name in operations), name
        assert method.__doc__, name


def test_the_whole_flow_works_with_await(aapp: agora.AsyncAgora) -> None:
    async def flow() -> None:
        email = unique_email()
        user = await aapp.register(email.upper(), PASSWORD)
        assert user.email == email
        assert await aapp.get_user(user.id) == user
        token = await aapp.login(email, PASSWORD)
        assert await aapp.authenticate(token.access_token) == user
        assert aapp.verify_token(token.access_token) == user.id
        assert await aapp.health() is None
        post = await aapp.create_post(token, "Async hello", "body")
        assert post.owner == user
        assert (await aapp.get_post(user, post.id)).votes == 0
        voted = await aapp.vote(token.access_token, post.id, 1)
        assert voted.added
        listed = await aapp.list_posts(user, limit=5, search="ASYNC")
        assert [(p.post.id, p.votes) for p in listed] == [(post.id, 1)]
        assert await aapp.list_posts(user, after=post.id) == []
        updated = await aapp.update_post(user, post.id, "Edited", "body", published=False)
        assert (updated.title, updated.published) == ("Edited", False)
        assert (await aapp.vote(user, post.id, 0)).added is False
        assert await aapp.delete_post(user, post.id) is None

    asyncio.run(flow())


def test_the_session_calls_work_with_await(db_path: Path) -> None:
    aapp = agora.AsyncAgora(
        sqlite_url(db_path), jwt_secret=SECRET, refresh_reuse_grace=timedelta(milliseconds=50)
    )

    async def flow() -> None:
        email = unique_email()
        user = await aapp.register(email, PASSWORD)
        first = await aapp.login(email, PASSWORD, client_ip="192.0.2.9", user_agent="asyncio")
        token = await aapp.refresh(first.refresh_token, client_ip="192.0.2.9")
        assert await aapp.authenticate(token.access_token) == user
        await asyncio.sleep(0.3)
        with pytest.raises(agora.Unauthorized):
            await aapp.refresh(first.refresh_token)  # reuse after the grace: session ended
        token = await aapp.login(email, PASSWORD)
        other = await aapp.login(email, PASSWORD)
        sessions = await aapp.sessions(token)
        assert sorted(s.current for s in sessions) == [False, True]
        [other_id] = [s.id for s in sessions if not s.current]
        assert await aapp.end_session(token.access_token, other_id) is None
        with pytest.raises(agora.NotFound):
            await aapp.end_session(token, other_id)
        with pytest.raises(agora.Unauthorized):
            await aapp.authenticate(other.access_token)
        with pytest.raises(agora.InvalidCredentials):
            await aapp.change_password(token, "wrong password", "a brand new passphrase")
        with pytest.raises(agora.ValidationError):
            await aapp.change_password(token, PASSWORD, "password123")
        assert await aapp.change_password(token, PASSWORD, "a brand new passphrase") is None
        assert await aapp.logout(token) is None
        with pytest.raises(agora.Unauthorized):
            await aapp.sessions(token)
        again = await aapp.login(email, "a brand new passphrase")
        await aapp.login(email, "a brand new passphrase")
        assert await aapp.logout_all(again) == 2
        last = await aapp.login(email, "a brand new passphrase")
        assert await aapp.delete_account(last, "a brand new passphrase") is None
        with pytest.raises(agora.Unauthorized):
            await aapp.authenticate(last.access_token)
        with pytest.raises(TypeError):
            await aapp.logout(user)  # type: ignore[arg-type]

    asyncio.run(flow())


def test_errors_are_raised_as_the_same_classes(aapp: agora.AsyncAgora) -> None:
    async def flow() -> None:
        user = await aapp.register(unique_email(), PASSWORD)
        other = await aapp.register(unique_email(), PASSWORD)
        with pytest.raises(agora.ValidationError) as caught:
            await aapp.register("nope", "short")
        assert len(caught.value.errors) == 2
        with pytest.raises(agora.Conflict):
            await aapp.register(user.email, PASSWORD)
        with pytest.raises(agora.InvalidCredentials):
            await aapp.login(user.email, "wrong password")
        with pytest.raises(agora.Unauthorized):
            await aapp.authenticate("garbage")
        with pytest.raises(agora.NotFound) as caught:
            await aapp.get_user(999_999)
        assert (caught.value.code, caught.value.status_code) == ("USER_NOT_FOUND", 404)
        post = await aapp.create_post(user, "p", "c")
        with pytest.raises(agora.Forbidden):
            await aapp.delete_post(other, post.id)
        with pytest.raises(agora.ValidationError):
            await aapp.list_posts(user, limit=0)
        with pytest.raises(TypeError):
            await aapp.get_post(42, post.id)  # type: ignore[arg-type]

    asyncio.run(flow())


def test_other_tasks_keep_running_during_a_hash(aapp: agora.AsyncAgora) -> None:
    """A ticker task keeps ticking through a good part of an awaited
    registration (an argon2 hash; a blocked loop would leave it at 0), and
    concurrent registrations all complete."""

    async def flow() -> None:
        ticks: List[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.perf_counter())
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        windows = []
        for _ in range(6):
            start = time.perf_counter()
            await aapp.register(unique_email(), PASSWORD)
            windows.append((start, time.perf_counter()))
        users = await asyncio.gather(*(aapp.register(unique_email(), PASSWORD) for _ in range(4)))
        stop.set()
        await task
        assert len({u.id for u in users}) == 4
        best = max(coverage(ticks, start, end) for start, end in windows)
        assert best > 0.35, [round(coverage(ticks, s, e), 2) for s, e in windows]

    asyncio.run(flow())


def test_a_cancelled_call_raises_cancelled_and_leaves_the_service_usable(
    aapp: agora.AsyncAgora,
) -> None:
    async def flow() -> None:
        email = unique_email()
        await aapp.register(email, PASSWORD)
        task = asyncio.create_task(aapp.login(email, PASSWORD))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        token = await aapp.login(email, PASSWORD)
        assert (await aapp.authenticate(token.access_token)).email == email

    asyncio.run(flow())


def test_one_instance_serves_several_event_loops_and_sync_code(db_path: Path) -> None:
    aapp = agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)
    first = asyncio.run(aapp.register(unique_email(), PASSWORD))
    second = asyncio.run(aapp.get_user(first.id))
    assert first == second
    sync = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    token = sync.login(first.email, PASSWORD)
    assert asyncio.run(aapp.authenticate(token.access_token)) == first
    assert "AsyncAgora(database_url=" in repr(aapp)
