"""Helpers shared by the binding's tests: unique emails, URLs, hand-made JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

SECRET = "test-secret-that-is-at-least-32-bytes-long"
PASSWORD = "correct horse battery"

_counter = itertools.count()


def unique_email(prefix: str = "user") -> str:
    """An email no other test uses."""
    return f"{prefix}{next(_counter)}-{time.monotonic_ns()}@example.com"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy-style URL of an absolute path (four slashes)."""
    assert path.is_absolute()
    return f"sqlite:///{path}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_kid(secret: str) -> str:
    """The ``kid`` Agora gives an HS256 secret: its RFC 7638 JWK thumbprint."""
    jwk = json.dumps({"k": _b64(secret.encode()), "kty": "oct"}, separators=(",", ":"))
    return _b64(hashlib.sha256(jwk.encode()).digest())


def make_jwt(claims: Dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    """A compact JWT with Agora's access-token header (``typ: at+jwt`` and
    the secret's ``kid``), signed with HMAC-SHA256 (or unsigned for
    ``alg="none"``)."""
    header = _b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": hmac_kid(secret)}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def claims_for(user_id: int, *, exp_offset: int = 600) -> Dict[str, Any]:
    """Claims shaped like Agora's own tokens (issuer and audience ``agora``,
    the defaults), without a session (``sid``)."""
    now = int(time.time())
    return {
        "iss": "agora",
        "aud": "agora",
        "sub": str(user_id),
        "user_id": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + exp_offset,
        "jti": "0123456789abcdef",
    }


# SQL on an Agora database from Python runs in a child process: Python's
# sqlite3 module and Agora's bundled SQLite are two copies of the library,
# and two copies in one process do not see each other's POSIX locks.
_SQL_CHILD = """
import json, sqlite3, sys
path, statements = sys.argv[1], json.loads(sys.argv[2])
connection = sqlite3.connect(path)
rows = []
for sql, params in statements:
    rows = connection.execute(sql, params).fetchall()
connection.commit()
print(json.dumps(rows))
"""

_LOCK_CHILD = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


def run_sql(path: Path, *statements: Tuple[str, Sequence[Any]]) -> List[List[Any]]:
    """Runs SQL statements on the database at ``path`` in a child process and
    returns the rows of the last one."""
    result = subprocess.run(
        [sys.executable, "-c", _SQL_CHILD, str(path), json.dumps(statements)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows: List[List[Any]] = json.loads(result.stdout)
    return rows


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Holds SQLite's write lock on ``path`` from another process."""
    child = subprocess.Popen(
        [sys.executable, "-c", _LOCK_CHILD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        yield
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def coverage(ticks: Sequence[float], start: float, end: float, max_gap: float = 0.002) -> float:
    """The share of ``[start, end]`` during which a ticking thread or task
    kept running: the sum of its short gaps between ticks over the window.

    If a call held the GIL (or blocked the event loop) from ``start`` to
    ``end``, nothing else could tick inside and this stays near 0; other
    processes stealing the CPU lower it a little but never structurally.
    """
    inside = [t for t in ticks if start <= t <= end]
    covered = sum(b - a for a, b in zip(inside, inside[1:]) if b - a < max_gap)
    return covered / (end - start)
