"""Fork safety: an ``Agora``/``AsyncAgora`` used in a child of ``os.fork()``
raises ``agora.ForkedProcess`` at once (never hangs), naming the fix; the
parent keeps working, and an instance created in the child after the fork
works there."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")

POSTGRES_URL = os.environ.get("AGORA_TEST_POSTGRES_URL")


def in_child(work: Callable[[], Dict[str, Any]], timeout: float = 20.0) -> Dict[str, Any]:
    """Runs ``work`` in a forked child and returns what it reported through a
    pipe; a child that has not finished within ``timeout`` is killed and
    fails the test (a hang is a failure, not a stuck suite)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        os.close(read)
        code = 0
        try:
            report = work()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            report, code = {"unexpected": f"{type(e).__name__}: {e}"}, 1
        os.write(write, json.dumps(report).encode())
        os._exit(code)
    os.close(write)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read)
            pytest.fail(f"the child did not finish within {timeout} s: a call hung")
        time.sleep(0.02)
    with os.fdopen(read, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    assert os.waitstatus_to_exitcode(status) == 0, report
    return report


def refused(call: Callable[[], Any]) -> Dict[str, Any]:
    """What ``call`` raised, as the child reports it (with how long it took)."""
    started = time.monotonic()
    try:
        call()
    except agora.ForkedProcess as e:
        return {
            "class": type(e).__name__,
            "message": str(e),
            "status": e.status_code,
            "runtime_error": isinstance(e, RuntimeError),
            "seconds": time.monotonic() - started,
        }
    return {"class": None}


def check_refusal(report: Dict[str, Any], parent: int) -> None:
    assert report["class"] == "ForkedProcess", report
    assert report["status"] == 500 and report["runtime_error"]
    assert report["seconds"] < 1.0
    message = report["message"]
    assert f"created in process {parent}" in message
    assert "after the fork" in message and "lifespan" in message and "--preload" in message


def test_a_forked_child_is_refused_at_once_and_the_parent_goes_on(db_path: Path) -> None:
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    email = unique_email()
    user = app.register(email, PASSWORD)
    token = app.login(email, PASSWORD)

    def child() -> Dict[str, Any]:
        return {
            "authenticate": refused(lambda: app.authenticate(token)),
            "login": refused(lambda: app.login(email, PASSWORD)),
            "health": refused(app.health),
            "get_user": refused(lambda: app.get_user(user.id)),
            "verify_token": refused(lambda: app.verify_token(token)),
        }

    for report in in_child(child).values():
        check_refusal(report, os.getpid())
    assert app.authenticate(token) == user
    assert app.login(email, PASSWORD).token_type == "bearer"
    app.health()


def test_a_forked_child_is_refused_at_once_async(db_path: Path) -> None:
    app = agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)
    email = unique_email()
    user = asyncio.run(app.register(email, PASSWORD))
    token = asyncio.run(app.login(email, PASSWORD))

    def child() -> Dict[str, Any]:
        async def run() -> Dict[str, Any]:
            report: Dict[str, Any] = {}
            for name, make in [("authenticate", lambda: app.authenticate(token)), ("health", app.health)]:
                started = time.monotonic()
                try:
                    await asyncio.wait_for(make(), 5)
                    report[name] = {"class": None}
                except agora.ForkedProcess as e:
                    report[name] = {
                        "class": type(e).__name__,
                        "message": str(e),
                        "status": e.status_code,
                        "runtime_error": isinstance(e, RuntimeError),
                        "seconds": time.monotonic() - started,
                    }
            return report

        return asyncio.run(run())

    for report in in_child(child).values():
        check_refusal(report, os.getpid())

    async def parent() -> None:
        assert await app.authenticate(token) == user
        await app.health()

    asyncio.run(parent())


def test_an_instance_created_after_the_fork_works_in_the_child(db_path: Path) -> None:
    # The parent has used Agora (its runtime and hashing threads run): the
    # child's own instances must not wait on the parent's threads.
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    email = unique_email()
    app.register(email, PASSWORD)
    agora.verify_password(PASSWORD, agora.hash_password(PASSWORD))

    def child() -> Dict[str, Any]:
        fresh = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
        token = fresh.login(email, PASSWORD)

        async def run() -> str:
            aapp = agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET)
            user = await asyncio.wait_for(aapp.authenticate(token), 10)
            return user.email

        return {
            "sync": fresh.authenticate(token).email,
            "async": asyncio.run(run()),
            "hash": agora.verify_password(PASSWORD, agora.hash_password(PASSWORD)),
        }

    assert in_child(child) == {"sync": email, "async": email, "hash": True}
    assert app.login(email, PASSWORD).token_type == "bearer"


def test_a_server_handle_is_refused_in_a_forked_child_and_the_parent_stops_it(db_path: Path) -> None:
    server = agora.serve(port=0, database_url=sqlite_url(db_path), jwt_secret=SECRET)
    try:

        def child() -> Dict[str, Any]:
            return {
                "stop": refused(server.stop),
                "wait": refused(server.wait),
                "running": refused(lambda: server.running),
                "exit": refused(lambda: server.__exit__(None, None, None)),
            }

        for report in in_child(child).values():
            check_refusal(report, os.getpid())
            assert "server" in report["message"]
        assert server.running  # the child did not stop the parent's server
    finally:
        server.stop()
    assert not server.running


@pytest.mark.skipif(not POSTGRES_URL, reason="AGORA_TEST_POSTGRES_URL is not set")
def test_postgres_parent_keeps_its_connections_after_a_refused_child() -> None:
    assert POSTGRES_URL
    app = agora.Agora(POSTGRES_URL, jwt_secret=secrets.token_hex(32), throttle=False)
    email = unique_email("fork")
    user = app.register(email, PASSWORD)
    token = app.login(email, PASSWORD)

    def child() -> Dict[str, Any]:
        return {"authenticate": refused(lambda: app.authenticate(token))}

    check_refusal(in_child(child)["authenticate"], os.getpid())
    # The child touched none of the parent's pooled connections.
    for _ in range(5):
        assert app.authenticate(token) == user
    app.health()
    app.delete_account(token, PASSWORD)
