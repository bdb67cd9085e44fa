"""Account recovery and address verification: forgot_password,
reset_password, request_verify_token and verify on both faces, the mail
settings, a Python callable as the mailer, and a real SMTP server
(aiosmtpd) behind smtp_url.

Mail is delivered by a background task; every wait for it polls with a
deadline (``Outbox.wait_for``), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import email
import gc
import email.policy
import logging
import re
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora

PUBLIC_URL = "https://app.example.com"
NEW_PASSWORD = "a brand new passphrase"
DEADLINE = 15.0  # seconds: generous for a loaded CI machine


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Polls ``condition`` until it holds; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout} s: {condition.__doc__ or condition}")
        time.sleep(0.01)


class Outbox:
    """A ``mailer=`` callable that keeps every mail it is given."""

    def __init__(self) -> None:
        self.mails: List[agora.Mail] = []
        self.lock = threading.Lock()
        self.threads: List[str] = []

    def __call__(self, mail: agora.Mail) -> None:
        with self.lock:
            self.mails.append(mail)
            self.threads.append(threading.current_thread().name)

    def to(self, address: str, kind: Optional[str] = None) -> List[agora.Mail]:
        with self.lock:
            return [m for m in self.mails if m["to"] == address and kind in (None, m["kind"])]

    def wait_for(self, address: str, kind: Optional[str] = None, count: int = 1) -> List[agora.Mail]:
        """The first ``count`` mails to ``address`` (of ``kind``), waiting
        for them with a deadline."""
        wait_until(lambda: len(self.to(address, kind)) >= count)
        return self.to(address, kind)[:count]


def token_of(mail: agora.Mail) -> str:
    """The token in a mail's link."""
    [token] = parse_qs(urlsplit(mail["link"]).query)["token"]
    return token


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def app(db_path: Path, outbox: Outbox) -> agora.Agora:
    """Agora with a public URL and the outbox as its mailer."""
    return agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, public_url=PUBLIC_URL, mailer=outbox)


def barrier(app: agora.Agora, outbox: Outbox) -> None:
    """Waits until a mail requested now arrives: the requests made before
    it have had their turn (mail tasks start in request order)."""
    address = unique_email("barrier")
    app.register(address, PASSWORD)
    app.forgot_password(address)
    outbox.wait_for(address)


def test_forgot_then_reset_replaces_the_password_and_ends_every_session(
    app: agora.Agora, outbox: Outbox
) -> None:
    address = unique_email()
    app.register(address, PASSWORD)
    old = app.login(address, PASSWORD)
    assert app.forgot_password(address.upper(), client_ip="192.0.2.7") is None
    [mail] = outbox.wait_for(address, "password_reset")
    assert set(mail) == {"kind", "to", "subject", "text", "html", "link"}
    assert mail["subject"] == "Reset your password"
    assert re.fullmatch(re.escape(PUBLIC_URL) + r"/reset-password\?token=[0-9a-f]{64}", mail["link"])
    assert mail["link"] in mail["text"] and "1 hour" in mail["text"]
    assert f'href="{mail["link"]}"' in mail["html"]
    # Called from Agora's own threads, never the caller's.
    assert threading.main_thread().name not in outbox.threads

    assert app.reset_password(token_of(mail), NEW_PASSWORD) is None
    with pytest.raises(agora.InvalidCredentials):
        app.login(address, PASSWORD)
    assert app.login(address, NEW_PASSWORD).access_token
    with pytest.raises(agora.Unauthorized):
        app.authenticate(old.access_token)  # every session ended
    with pytest.raises(agora.Unauthorized):
        app.refresh(old.refresh_token)

    with pytest.raises(agora.BadRequest) as spent:
        app.reset_password(token_of(mail), "yet another passphrase")
    assert spent.value.code == "RESET_PASSWORD_BAD_TOKEN"
    assert spent.value.status_code == 400
    assert isinstance(spent.value, agora.AgoraError)
    assert spent.value.to_dict() == {"detail": spent.value.detail, "code": "RESET_PASSWORD_BAD_TOKEN"}
    app.login(address, NEW_PASSWORD)  # the failed second use changed nothing


def test_a_refused_password_keeps_the_token_usable(app: agora.Agora, outbox: Outbox) -> None:
    address = unique_email()
    app.register(address, PASSWORD)
    app.forgot_password(address)
    [mail] = outbox.wait_for(address)
    for weak in ["short", "password123"]:
        with pytest.raises(agora.ValidationError) as refused:
            app.reset_password(token_of(mail), weak)
        assert refused.value.status_code == 422
        assert refused.value.errors[0]["loc"][-1] == "new_password"
    app.reset_password(token_of(mail), NEW_PASSWORD)
    app.login(address, NEW_PASSWORD)


def test_bad_tokens_are_refused(app: agora.Agora) -> None:
    for token in ["", "0" * 64, "x" * 10_000]:
        with pytest.raises(agora.BadRequest) as reset:
            app.reset_password(token, NEW_PASSWORD)
        assert reset.value.code == "RESET_PASSWORD_BAD_TOKEN"
        with pytest.raises(agora.BadRequest) as verify:
            app.verify(token)
        assert verify.value.code == "VERIFY_USER_BAD_TOKEN"


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    app: agora.Agora, outbox: Outbox
) -> None:
    unknown = unique_email("nobody")
    assert app.forgot_password(unknown) is None
    assert app.request_verify_token(unknown) is None
    with pytest.raises(agora.ValidationError):
        app.forgot_password("not an address")
    barrier(app, outbox)
    assert outbox.to(unknown) == []


def test_verify_marks_the_address_verified_once(app: agora.Agora, outbox: Outbox) -> None:
    address = unique_email()
    user = app.register(address, PASSWORD)
    assert user.email_verified is False
    assert user.to_dict()["email_verified"] is False
    assert app.request_verify_token(address) is None
    [mail] = outbox.wait_for(address, "verify_email")
    assert mail["subject"] == "Confirm your email address"
    assert mail["link"].startswith(f"{PUBLIC_URL}/verify?token=")
    assert "1 day" in mail["text"]

    verified = app.verify(token_of(mail))
    assert (verified.id, verified.email, verified.email_verified) == (user.id, address, True)
    assert verified.to_dict()["email_verified"] is True
    assert app.get_user(user.id).email_verified is True
    with pytest.raises(agora.BadRequest) as spent:
        app.verify(token_of(mail))
    assert (spent.value.code, spent.value.status_code) == ("VERIFY_USER_BAD_TOKEN", 400)

    app.request_verify_token(address)  # verified already: nothing is sent
    barrier(app, outbox)
    assert len(outbox.to(address, "verify_email")) == 1


def test_a_reset_token_never_verifies_and_the_reverse(app: agora.Agora, outbox: Outbox) -> None:
    address = unique_email()
    app.register(address, PASSWORD)
    app.forgot_password(address)
    app.request_verify_token(address)
    [reset] = outbox.wait_for(address, "password_reset")
    [verify] = outbox.wait_for(address, "verify_email")
    with pytest.raises(agora.BadRequest) as wrong:
        app.verify(token_of(reset))
    assert wrong.value.code == "VERIFY_USER_BAD_TOKEN"
    with pytest.raises(agora.BadRequest) as wrong:
        app.reset_password(token_of(verify), NEW_PASSWORD)
    assert wrong.value.code == "RESET_PASSWORD_BAD_TOKEN"
    # Each still works for its own purpose.
    assert app.verify(token_of(verify)).email_verified
    app.reset_password(token_of(reset), NEW_PASSWORD)
    app.login(address, NEW_PASSWORD)


def test_require_verified_email_refuses_login_until_verified(db_path: Path, outbox: Outbox) -> None:
    app = agora.Agora(
        sqlite_url(db_path),
        jwt_secret=SECRET,
        public_url=PUBLIC_URL,
        mailer=outbox,
        require_verified_email=True,
    )
    address = unique_email()
    app.register(address, PASSWORD)
    with pytest.raises(agora.InvalidCredentials):
        app.login(address, "a wrong passphrase")  # a wrong password says nothing more
    with pytest.raises(agora.Forbidden) as refused:
        app.login(address, PASSWORD)
    assert (refused.value.code, refused.value.status_code) == ("LOGIN_USER_NOT_VERIFIED", 403)
    app.request_verify_token(address)
    [mail] = outbox.wait_for(address, "verify_email")
    app.verify(token_of(mail))
    assert app.login(address, PASSWORD).access_token


def test_at_most_three_mails_per_address(app: agora.Agora, outbox: Outbox) -> None:
    address = unique_email()
    app.register(address, PASSWORD)
    for _ in range(5):
        assert app.forgot_password(address) is None  # the same answer every time
    outbox.wait_for(address, count=3)
    barrier(app, outbox)
    assert len(outbox.to(address)) == 3


def test_a_failing_mailer_is_retried_and_logged_without_the_token(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    delivered: List[agora.Mail] = []
    calls: List[str] = []

    def flaky(mail: agora.Mail) -> None:
        calls.append(mail["link"])
        if len(calls) == 1:
            raise ConnectionError(f"relay down while sending {mail['link']} ({token_of(mail)})")
        delivered.append(mail)

    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, public_url=PUBLIC_URL, mailer=flaky)
    address = unique_email()
    app.register(address, PASSWORD)
    with caplog.at_level(logging.WARNING, logger="agora.mail"):
        app.forgot_password(address)
        wait_until(lambda: len(delivered) == 1)  # core retries after 2 s
    assert len(calls) == 2 and calls[0] == calls[1]  # the same mail, sent again
    [record] = [r for r in caplog.records if r.name == "agora.mail"]
    message = record.getMessage()
    assert "ConnectionError" in message and "relay down" in message and "<redacted>" in message
    assert token_of(delivered[0]) not in message and "token=" not in message
    assert address not in message
    app.reset_password(token_of(delivered[0]), NEW_PASSWORD)


def test_the_mailer_may_call_a_synchronous_agora(db_path: Path) -> None:
    found: List[Optional[str]] = []
    holder: List[agora.Agora] = []

    def mailer(mail: agora.Mail) -> None:
        token = holder[0].login(mail["to"], PASSWORD)  # blocks on Agora's runtime
        found.append(holder[0].authenticate(token.access_token).email)

    holder.append(agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, public_url=PUBLIC_URL, mailer=mailer))
    address = unique_email()
    holder[0].register(address, PASSWORD)
    holder[0].forgot_password(address)
    wait_until(lambda: found == [address])


def test_mail_settings_shape_the_mails(db_path: Path, outbox: Outbox) -> None:
    app = agora.Agora(
        sqlite_url(db_path),
        jwt_secret=SECRET,
        public_url="https://example.com/app/",
        mailer=outbox,
        password_reset_ttl=timedelta(minutes=30),
        verify_token_ttl=7200,
        mail_templates={
            "password_reset": {"subject": "Reset (valid {expires})", "html": "<a href='{link}'>go</a>"},
            "verify_email": {"text": "Verify: {link} within {expires}"},
        },
    )
    address = unique_email()
    app.register(address, PASSWORD)
    app.forgot_password(address)
    app.request_verify_token(address)
    [reset] = outbox.wait_for(address, "password_reset")
    [verify] = outbox.wait_for(address, "verify_email")
    assert reset["link"].startswith("https://example.com/app/reset-password?token=")
    assert reset["subject"] == "Reset (valid 30 minutes)"
    assert reset["html"] == f"<a href='{reset['link']}'>go</a>"
    assert "30 minutes" in reset["text"]  # the default text
    assert verify["text"] == f"Verify: {verify['link']} within 2 hours"
    assert verify["subject"] == "Confirm your email address"


def test_an_expired_token_is_refused(db_path: Path, outbox: Outbox) -> None:
    app = agora.Agora(
        sqlite_url(db_path), jwt_secret=SECRET, public_url=PUBLIC_URL, mailer=outbox, password_reset_ttl=1
    )
    address = unique_email()
    app.register(address, PASSWORD)
    app.forgot_password(address)
    [mail] = outbox.wait_for(address)
    time.sleep(1.5)  # the token's lifetime, not a wait for mail
    with pytest.raises(agora.BadRequest):
        app.reset_password(token_of(mail), NEW_PASSWORD)


@pytest.mark.parametrize(
    ("settings", "error", "names"),
    [
        ({"public_url": "app.example.com"}, ValueError, "public_url"),
        ({"public_url": "ftp://app.example.com"}, ValueError, "public_url"),
        ({"public_url": "https://app.example.com/?x=1"}, ValueError, "public_url"),
        ({"public_url": 5}, TypeError, "public_url"),
        ({"mailer": print}, ValueError, "public_url"),
        ({"mailer": "smtp://x", "public_url": PUBLIC_URL}, TypeError, "mailer"),
        (
            {"mailer": print, "public_url": PUBLIC_URL, "smtp_url": "smtp://127.0.0.1:25", "mail_from": "a@example.com"},
            ValueError,
            "smtp_url",
        ),
        ({"smtp_url": "smtp://127.0.0.1:25", "public_url": PUBLIC_URL}, ValueError, "mail_from"),
        ({"smtp_url": "smtp://127.0.0.1:25", "mail_from": "a@example.com"}, ValueError, "public_url"),
        (
            {"smtp_url": "http://127.0.0.1:25", "public_url": PUBLIC_URL, "mail_from": "a@example.com"},
            ValueError,
            "smtp_url",
        ),
        (
            {"smtp_url": "smtp://127.0.0.1:25", "public_url": PUBLIC_URL, "mail_from": "not an address"},
            ValueError,
            "mail_from",
        ),
        ({"password_reset_ttl": 0}, ValueError, "password_reset_ttl"),
        ({"verify_token_ttl": -1}, ValueError, "verify_token_ttl"),
        ({"verify_token_ttl": "1d"}, TypeError, "verify_token_ttl"),
        ({"mail_templates": {"welcome": {"subject": "Hi"}}}, ValueError, "welcome"),
        ({"mail_templates": {"verify_email": {"body": "Hi"}}}, ValueError, "body"),
        ({"mail_templates": ["x"]}, TypeError, "mail_templates"),
    ],
)
def test_refused_mail_settings_name_the_argument(
    db_path: Path, settings: Any, error: type, names: str
) -> None:
    with pytest.raises(error, match=names):
        agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, **settings)


def test_without_public_url_nothing_is_mailed(db_path: Path, outbox: Outbox) -> None:
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)  # no mailer: links are logged by Rust
    address = unique_email()
    app.register(address, PASSWORD)
    assert app.forgot_password(address) is None
    assert app.request_verify_token(address) is None


def test_the_async_face_with_an_async_mailer(db_path: Path) -> None:
    mails: List[agora.Mail] = []
    loops: List[Any] = []

    async def mailer(mail: agora.Mail) -> None:
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        mails.append(mail)

    aapp = agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET, public_url=PUBLIC_URL, mailer=mailer)

    async def arrived(kind: str) -> agora.Mail:
        deadline = time.monotonic() + DEADLINE
        while not [m for m in mails if m["kind"] == kind]:
            assert time.monotonic() < deadline, f"no {kind} mail within {DEADLINE} s"
            await asyncio.sleep(0.01)
        return [m for m in mails if m["kind"] == kind][0]

    async def flow() -> None:
        address = unique_email()
        user = await aapp.register(address, PASSWORD)
        assert await aapp.forgot_password(address) is None
        assert await aapp.request_verify_token(address, client_ip="192.0.2.8") is None
        reset, verify = await arrived("password_reset"), await arrived("verify_email")
        with pytest.raises(agora.BadRequest):
            await aapp.verify(token_of(reset))
        assert await aapp.reset_password(token_of(reset), NEW_PASSWORD) is None
        with pytest.raises(agora.BadRequest) as spent:
            await aapp.reset_password(token_of(reset), NEW_PASSWORD)
        assert spent.value.code == "RESET_PASSWORD_BAD_TOKEN"
        verified = await aapp.verify(token_of(verify))
        assert (verified.id, verified.email_verified) == (user.id, True)
        await aapp.login(address, NEW_PASSWORD)
        # The mailer ran on its own loop, not on this one.
        assert loops and all(loop is not asyncio.get_running_loop() for loop in loops)

    asyncio.run(flow())


# --- a real SMTP server ------------------------------------------------------


class SmtpSink:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.envelopes: List[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple]:
    """An SMTP server on a free local port: ``(url, sink)``."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", sink
    finally:
        controller.stop()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_mail_goes_out_through_a_real_smtp_server(db_path: Path, smtp: tuple) -> None:
    url, sink = smtp
    app = agora.Agora(
        sqlite_url(db_path),
        jwt_secret=SECRET,
        public_url=PUBLIC_URL,
        smtp_url=url,
        mail_from="Agora <no-reply@example.com>",
    )
    address = unique_email()
    app.register(address, PASSWORD)
    assert app.forgot_password(address) is None
    wait_until(lambda: len(sink.envelopes) >= 1)
    [envelope] = sink.envelopes
    assert envelope.mail_from == "no-reply@example.com"
    assert envelope.rcpt_tos == [address]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Agora", "no-reply@example.com")
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    assert message["Subject"] == "Reset your password"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    [link] = re.findall(re.escape(PUBLIC_URL) + r"/reset-password\?token=[0-9a-f]{64}", text_body)
    assert f'href="{link}"' in html_body
    assert "1 hour" in text_body

    token = parse_qs(urlsplit(link).query)["token"][0]
    app.reset_password(token, NEW_PASSWORD)
    app.login(address, NEW_PASSWORD)

    app.request_verify_token(address)
    wait_until(lambda: len(sink.envelopes) >= 2)
    verify = email.message_from_bytes(sink.envelopes[1].original_content, policy=email.policy.default)
    assert verify["Subject"] == "Confirm your email address"
    body = verify.get_body(("plain",))
    assert body is not None
    [link] = re.findall(re.escape(PUBLIC_URL) + r"/verify\?token=[0-9a-f]{64}", body.get_content())
    assert app.verify(parse_qs(urlsplit(link).query)["token"][0]).email_verified
    del app  # freed on this thread, outside Agora's runtime: must not panic
    gc.collect()


def test_the_readme_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("**Account recovery and address verification.**", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["mail"]["kind"] == "password_reset"


def test_serve_takes_the_mail_settings_and_the_mailer(tmp_path: Path, outbox: Outbox) -> None:
    from test_server import request

    with agora.serve(
        port=0,
        database_url=sqlite_url(tmp_path / "http.db"),
        jwt_secret=SECRET,
        public_url=PUBLIC_URL,
        mailer=outbox,
        verify_token_ttl=timedelta(hours=2),
    ) as server:
        address = unique_email()
        assert request("POST", server.url + "/users", {"email": address, "password": PASSWORD})[0] == 201
        status, _ = request("POST", server.url + "/request-verify-token", {"email": address})
        assert status == 202
        [mail] = outbox.wait_for(address, "verify_email")
        assert "2 hours" in mail["text"]
        status, user = request("POST", server.url + "/verify", {"token": token_of(mail)})
        assert (status, user["email"], user["email_verified"]) == (200, address, True)
        status, body = request("POST", server.url + "/verify", {"token": token_of(mail)})
        assert (status, body["code"]) == (400, "VERIFY_USER_BAD_TOKEN")
    with pytest.raises(TypeError, match="mailer"):
        agora.serve(port=0, database_url="sqlite://", public_url=PUBLIC_URL, mailer=42)
