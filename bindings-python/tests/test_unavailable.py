"""A database that cannot be reached is ``agora.Unavailable`` (503), at
construction (with the driver's error as ``__cause__``) and on every call
once it goes away (``health``, ``authenticate``, ``login``): never an
``AgoraError`` 500."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from typing import Any, Callable, List, Tuple
from urllib.parse import urlsplit, urlunsplit

import pytest
from support import PASSWORD, unique_email

import agora

POSTGRES_URL = os.environ.get("AGORA_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="AGORA_TEST_POSTGRES_URL is not set")


def closed_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def causes(error: BaseException) -> List[BaseException]:
    chain = []
    cause = error.__cause__
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    return chain


@pytest.mark.parametrize("scheme", ["postgres", "mysql"])
def test_a_server_refusing_connections_is_unavailable_with_its_cause(scheme: str) -> None:
    port = closed_port()
    url = f"{scheme}://agora@127.0.0.1:{port}/agora"
    for make in (agora.Agora, agora.AsyncAgora):
        with pytest.raises(agora.Unavailable) as raised:
            make(url, jwt_secret=secrets.token_hex(32))
        error = raised.value
        assert error.status_code == 503 and error.code == "SERVICE_UNAVAILABLE"
        assert f"127.0.0.1:{port}" in str(error) and "connection refused" in str(error)
        assert any(isinstance(c, ConnectionRefusedError) for c in causes(error)), causes(error)


def test_an_unopenable_sqlite_file_is_unavailable_with_its_cause() -> None:
    # /proc takes no new files, whoever runs the test (root included).
    with pytest.raises(agora.Unavailable) as raised:
        agora.Agora("sqlite:////proc/agora-test.db", jwt_secret=secrets.token_hex(32))
    assert raised.value.status_code == 503
    assert "unable to open database file" in str(raised.value)
    assert causes(raised.value), "the driver's error is chained"


class Proxy:
    """A TCP forwarder to the database that can be shut: it then refuses new
    connections and cuts the open ones, as a database going down does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: List[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.open = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def check_unavailable(error: agora.AgoraError) -> None:
    assert isinstance(error, agora.Unavailable), repr(error)
    assert error.status_code == 503 and error.code == "SERVICE_UNAVAILABLE"
    assert "storage failure" not in str(error)
    assert error.__cause__ is not None


@needs_postgres
def test_postgres_going_away_is_unavailable_on_every_call() -> None:
    assert POSTGRES_URL
    target = urlsplit(POSTGRES_URL)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    app = agora.Agora(through(proxy, POSTGRES_URL), jwt_secret=secrets.token_hex(32), throttle=False)
    email = unique_email("down")
    app.register(email, PASSWORD)
    token = app.login(email, PASSWORD)
    app.health()
    proxy.close()
    calls: List[Tuple[str, Callable[[], Any]]] = [
        ("health", app.health),
        ("authenticate", lambda: app.authenticate(token)),
        ("login", lambda: app.login(email, PASSWORD)),
    ]
    for name, call in calls:
        with pytest.raises(agora.AgoraError) as raised:
            call()
        check_unavailable(raised.value)


@needs_postgres
def test_postgres_going_away_is_unavailable_async() -> None:
    assert POSTGRES_URL
    target = urlsplit(POSTGRES_URL)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    app = agora.AsyncAgora(through(proxy, POSTGRES_URL), jwt_secret=secrets.token_hex(32), throttle=False)

    async def run() -> None:
        email = unique_email("down")
        await app.register(email, PASSWORD)
        token = await app.login(email, PASSWORD)
        proxy.close()
        for call in (app.health(), app.authenticate(token), app.login(email, PASSWORD)):
            with pytest.raises(agora.AgoraError) as raised:
                await call
            check_unavailable(raised.value)

    asyncio.run(run())
