"""Agora's Rust log events reach Python's ``logging``: audit events on
``agora.audit``, other events on ``agora.<crate>.<module>``, levels mapped,
fields on the record and in the message, never a password or a token."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, List

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora


def wait_for(caplog: pytest.LogCaptureFixture, found: Callable[[logging.LogRecord], bool]) -> List[logging.LogRecord]:
    """The records so far, once one satisfies ``found`` (records arrive from
    Agora's forwarding thread, a moment after the call)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = list(caplog.records)
        if any(found(r) for r in records):
            return records
        time.sleep(0.02)
    pytest.fail("the expected log record never arrived")


def test_a_failed_login_is_an_audit_record_with_its_fields(caplog: pytest.LogCaptureFixture, db_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="agora")
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    email = unique_email()
    app.register(email, PASSWORD)
    with pytest.raises(agora.InvalidCredentials):
        app.login(email, "a wrong password", client_ip="203.0.113.9")
    records = wait_for(caplog, lambda r: getattr(r, "outcome", None) == "failure")
    [failed] = [r for r in records if getattr(r, "outcome", None) == "failure"]
    assert failed.name == "agora.audit"
    assert failed.levelno == logging.INFO
    assert (failed.event, failed.email, failed.ip) == ("login", email, "203.0.113.9")  # type: ignore[attr-defined]
    message = failed.getMessage()
    assert "event=login" in message and "outcome=failure" in message and "ip=203.0.113.9" in message
    assert failed.pathname.endswith(".rs") and failed.lineno > 0
    assert abs(failed.created - time.time()) < 30
    register = [r for r in records if getattr(r, "event", None) == "register"]
    assert register and isinstance(register[0].user_id, int)  # type: ignore[attr-defined]


def test_no_record_holds_a_password_or_a_token(caplog: pytest.LogCaptureFixture, db_path: Path) -> None:
    caplog.set_level(logging.DEBUG, logger="agora")
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    email, new_password = unique_email(), "a brand new passphrase"
    app.register(email, PASSWORD)
    with pytest.raises(agora.InvalidCredentials):
        app.login(email, "a wrong passphrase")
    token = app.login(email, PASSWORD)
    app.authenticate(token)
    refreshed = app.refresh(token.refresh_token)
    with pytest.raises(agora.Unauthorized):
        app.authenticate(token.access_token + "x")
    app.change_password(refreshed, PASSWORD, new_password)
    app.logout(refreshed)
    records = wait_for(caplog, lambda r: getattr(r, "event", None) == "logout")
    assert any(r.name == "agora.audit" for r in records)
    secrets = [PASSWORD, "a wrong passphrase", new_password, token.access_token, token.refresh_token,
               refreshed.access_token, refreshed.refresh_token]
    for record in records:
        shown = record.getMessage() + repr(vars(record))
        for secret in secrets:
            assert secret not in shown, (record.name, shown)
            assert secret.split(".")[-1] not in shown  # not even a token's signature


def test_debug_events_are_forwarded_only_when_enabled(caplog: pytest.LogCaptureFixture, db_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="agora")
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
    with pytest.raises(agora.Unauthorized):
        app.authenticate("not a token")
    app.register(unique_email(), PASSWORD)  # an INFO event after the DEBUG one
    records = wait_for(caplog, lambda r: getattr(r, "event", None) == "register")
    assert not [r for r in records if r.levelno < logging.INFO]

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="agora")
    app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)  # reads the levels
    with pytest.raises(agora.Unauthorized):
        app.authenticate("not a token")
    records = wait_for(caplog, lambda r: r.levelno == logging.DEBUG and r.name.startswith("agora.core."))
    [rejected] = [r for r in records if "rejected access token" in r.getMessage()]
    assert rejected.name == "agora.core.crypto.jwt" and rejected.levelname == "DEBUG"
    assert "reason" in vars(rejected)


def test_a_disabled_logger_gets_nothing(caplog: pytest.LogCaptureFixture, db_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="agora")
    logging.getLogger("agora.audit").setLevel(logging.ERROR)
    try:
        app = agora.Agora(sqlite_url(db_path), jwt_secret=SECRET)
        email = unique_email()
        app.register(email, PASSWORD)
        with pytest.raises(agora.InvalidCredentials):
            app.login(email, "a wrong passphrase")
        # A WARNING on another logger, as a barrier: emitted after the audit events.
        logging.getLogger("agora.barrier").warning("done")
        time.sleep(0.5)
        assert not [r for r in caplog.records if r.name == "agora.audit"]
    finally:
        logging.getLogger("agora.audit").setLevel(logging.NOTSET)
