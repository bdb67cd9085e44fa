"""Agora's primitives against what a FastAPI app would otherwise use, in one
process: ops per second, the median of several runs, and the ratios the
package's claims rest on, from the same runs.

    pip install ./bindings-python argon2-cffi PyJWT   # a release build of agora
    python bindings-python/bench.py [--runs 5] [--seconds 1.0]

Rows:
- hashing: ``agora.hash_password`` and ``argon2-cffi`` with the same argon2id
  parameters (m=19456 KiB, t=2, p=1), and argon2-cffi's own defaults
  (m=65536 KiB, t=3, p=4) for reference; the same with 2 threads at once.
- verifying a password against a stored hash, same parameters.
- tokens: ``Agora.authenticate`` (HS256 check + one SQLite query for the user
  and their session, returning a ``User``), ``Agora.verify_token`` (the HS256
  check alone), PyJWT's ``jwt.decode`` alone (no database) checking what
  Agora checks (algorithm, signature, expiry, issuer, audience), and PyJWT plus
  a look-up with the standard ``sqlite3`` module, which is what a hand-written
  FastAPI ``current_user`` does.

The rows are measured round-robin (one run of each row, then the next round),
so a load that comes and goes on a shared machine falls on every row alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Callable, List, Tuple

import agora

try:
    import argon2
    import jwt
except ImportError:  # pragma: no cover - a usage error
    sys.exit("bench.py needs the comparison libraries: pip install argon2-cffi PyJWT")

SECRET = "benchmark-secret-that-is-32-bytes-long!!"
PASSWORD = "correct horse battery staple"


def ops_per_second(fn: Callable[[], object], seconds: float, threads: int = 1) -> float:
    """Calls ``fn`` repeatedly from ``threads`` threads for about ``seconds``."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            fn()
            n += 1
        counts[slot] = n

    start = time.perf_counter()
    if threads == 1:
        loop(0)
    else:
        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return sum(counts) / (time.perf_counter() - start)


def median_rates(rows: List[Tuple[str, str, Callable[[], object], int]], runs: int, seconds: float) -> List[float]:
    """The median ops/s of each row, its runs interleaved with the others'."""
    for _, _, fn, _ in rows:
        fn()  # warm up
    samples: List[List[float]] = [[] for _ in rows]
    for _ in range(runs):
        for i, (_, _, fn, threads) in enumerate(rows):
            samples[i].append(ops_per_second(fn, seconds, threads))
    return [statistics.median(s) for s in samples]


def machine() -> str:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    model = sh("lscpu | grep 'Model name' | sed 's/Model name: *//'") or platform.processor()
    return (
        f"{model}, nproc={sh('nproc') or os.cpu_count()}, "
        f"Python {platform.python_version()} ({platform.machine()}), "
        f"agora {agora.__version__}, argon2-cffi {version('argon2-cffi')}, PyJWT {version('PyJWT')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per row (the median is shown)")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one run")
    args = parser.parse_args()
    runs, seconds = args.runs, args.seconds

    same = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    defaults = argon2.PasswordHasher()
    agora_hash = agora.hash_password(PASSWORD)
    cffi_hash = same.hash(PASSWORD)

    with tempfile.TemporaryDirectory() as tmp:
        app = agora.Agora(f"sqlite:///{tmp}/bench.db", jwt_secret=SECRET)
        user = app.register("bench@example.com", PASSWORD)
        token = app.login(user.email, PASSWORD).access_token

        # The hand-written alternative keeps its users in its own file
        # (Python's sqlite3 and Agora's bundled SQLite must not share one in a process).
        plain = sqlite3.connect(f"{tmp}/plain.db", check_same_thread=False)
        plain.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, created_at TEXT)")
        plain.execute("INSERT INTO users VALUES (?, ?, ?)", (user.id, user.email, user.created_at.isoformat()))
        plain.commit()

        def pyjwt_decode() -> object:
            return jwt.decode(
                token,
                SECRET,
                algorithms=["HS256"],
                issuer="agora",
                audience="agora",
                options={"require": ["exp", "iat", "iss", "aud"]},
            )

        def pyjwt_and_sqlite3() -> object:
            claims = pyjwt_decode()
            assert isinstance(claims, dict)
            row = plain.execute(
                "SELECT id, email, created_at FROM users WHERE id = ?", (claims["user_id"],)
            ).fetchone()
            assert row is not None
            return row

        rows: List[Tuple[str, str, Callable[[], object], int]] = [
            ("hash", "agora.hash_password (m=19456, t=2, p=1)", lambda: agora.hash_password(PASSWORD), 1),
            ("hash", "argon2-cffi, same parameters", lambda: same.hash(PASSWORD), 1),
            ("hash", "argon2-cffi defaults (m=65536, t=3, p=4)", lambda: defaults.hash(PASSWORD), 1),
            ("hash", "agora.hash_password, 2 threads", lambda: agora.hash_password(PASSWORD), 2),
            ("hash", "argon2-cffi same parameters, 2 threads", lambda: same.hash(PASSWORD), 2),
            ("verify", "agora.verify_password", lambda: agora.verify_password(PASSWORD, agora_hash), 1),
            ("verify", "argon2-cffi verify, same parameters", lambda: same.verify(cffi_hash, PASSWORD), 1),
            ("token", "Agora.authenticate (HS256 + user and session look-up -> User)", lambda: app.authenticate(token), 1),
            ("token", "Agora.verify_token (HS256 only)", lambda: app.verify_token(token), 1),
            ("token", "PyJWT jwt.decode (HS256 only)", pyjwt_decode, 1),
            ("token", "PyJWT jwt.decode + sqlite3 SELECT", pyjwt_and_sqlite3, 1),
        ]

        print(f"machine: {machine()}")
        print(f"{runs} interleaved runs of {seconds:.1f} s per row; median ops/s\n")
        rates = median_rates(rows, runs, seconds)
        print("| what | operation | ops/s |")
        print("|---|---|---:|")
        for (group, label, _, _), rate in zip(rows, rates):
            shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:,.1f}"
            print(f"| {group} | {label} | {shown} |")
        by_label = {label: rate for (_, label, _, _), rate in zip(rows, rates)}
        ratios = [
            ("hashing: agora.hash_password / argon2-cffi (same parameters)",
             "agora.hash_password (m=19456, t=2, p=1)", "argon2-cffi, same parameters"),
            ("verify_token / PyJWT jwt.decode",
             "Agora.verify_token (HS256 only)", "PyJWT jwt.decode (HS256 only)"),
            ("authenticate (token + database) / PyJWT jwt.decode alone",
             "Agora.authenticate (HS256 + user and session look-up -> User)", "PyJWT jwt.decode (HS256 only)"),
            ("authenticate / PyJWT jwt.decode + sqlite3 SELECT",
             "Agora.authenticate (HS256 + user and session look-up -> User)", "PyJWT jwt.decode + sqlite3 SELECT"),
        ]
        print("\n| ratio (same run) | x |")
        print("|---|---:|")
        for name, ours, theirs in ratios:
            print(f"| {name} | {by_label[ours] / by_label[theirs]:.2f} |")
        plain.close()


if __name__ == "__main__":
    main()
