"""Settings parity with the Rust servers: every ``AGORA_*`` variable is a
keyword argument (lower case, without ``AGORA_``), parsed by core's own
parser; ``from_env`` reads the variables themselves."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict

import pytest
from support import PASSWORD, SECRET, sqlite_url, unique_email

import agora
from agora import _agora

REDIS_URL = os.environ.get("AGORA_TEST_REDIS_URL")
OTHER_SECRET = "another-test-secret-of-at-least-32-bytes"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_server_variable_is_a_keyword_named_after_it() -> None:
    settings = _agora._settings()
    names = {argument for argument, _, _, _ in settings}
    assert {"redis_url", "jwt_leeway", "jwt_previous_secrets", "password_min_chars"} <= names
    for argument, variable, field, _ in settings:
        assert variable == "AGORA_" + argument.upper(), (argument, variable)
        assert field, variable
    by_agora = {argument: taken for argument, _, _, taken in settings}
    assert by_agora["redis_url"] and by_agora["db_max_connections"]
    assert not by_agora["cors_origins"] and not by_agora["body_limit"]


def test_the_stubs_and_the_readme_document_every_setting() -> None:
    stub = (Path(agora.__file__).parent / "_agora.pyi").read_text()
    readme = README.read_text() if README.exists() else None
    for argument, _, _, _ in _agora._settings():
        if argument in ("database_url", "bind"):
            continue
        assert re.search(rf"^    {argument}: ", stub, re.M), f"{argument} is not in _agora.pyi"
        if readme is not None:
            assert f"`{argument}`" in readme, f"{argument} is not in the README"


def test_unknown_and_server_only_keywords_raise_type_error_naming_them(db_path: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'jwt_leway'"):
        agora.Agora(sqlite_url(db_path), jwt_secret=SECRET, jwt_leway=0)
    with pytest.raises(TypeError, match="'cors_origins'.*agora.serve"):
        agora.AsyncAgora(sqlite_url(db_path), jwt_secret=SECRET, cors_origins=["https://a.example"])
    with pytest.raises(TypeError, match="'bind': give host and port"):
        agora.serve(port=0, database_url=sqlite_url(db_path), bind="127.0.0.1:0")
    with pytest.raises(TypeError, match="AGORA_DB_MAX_CONNECTIONS twice"):
        agora.serve(port=0, database_url="sqlite://", pool_max_connections=2, db_max_connections=3)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"jwt_leeway": 61}, ValueError, "^jwt_leeway: at most 60 seconds"),
        ({"jwt_leeway": -1}, ValueError, "jwt_leeway must not be negative"),
        ({"jwt_leeway": "0"}, TypeError, "jwt_leeway must be an int"),
        ({"jwt_algorithm": "HS999"}, ValueError, "^jwt_algorithm: "),
        ({"jwt_algorithm": "EdDSA", "jwt_secret": None}, ValueError, "jwt_private_key_file"),
        ({"jwt_algorithm": "EdDSA"}, ValueError, "unset jwt_secret"),
        (
            {"jwt_private_key_file": "/no/such/key.pem", "jwt_algorithm": "EdDSA", "jwt_secret": None},
            ValueError,
            "jwt_private_key_file",
        ),
        ({"jwt_previous_secrets": ["short"]}, ValueError, "^jwt_previous_secrets: previous secret 1"),
        ({"jwt_previous_secrets": "x" * 40}, ValueError, "jwt_previous_secrets"),
        ({"jwt_previous_secrets": [SECRET + ",x"]}, ValueError, "item 1 contains a comma"),
        ({"password_min_chars": "12"}, TypeError, "password_min_chars must be an int"),
        ({"password_min_chars": 0}, ValueError, "^password_min_chars: "),
        ({"password_blocklist": "off"}, TypeError, "password_blocklist must be a bool"),
        ({"hash_concurrency": 0}, ValueError, "^hash_concurrency: "),
        ({"db_max_connections": 0}, ValueError, "^db_max_connections: "),
        ({"db_acquire_timeout": timedelta(0)}, ValueError, "^db_acquire_timeout: "),
        ({"trusted_proxy_hops": 2}, ValueError, "trusted_proxy_header"),
        ({"redis_prefix": 5}, TypeError, "redis_prefix must be a str"),
        ({"throttle": "off"}, TypeError, "throttle must be a bool"),
    ],
)
def test_refused_values_name_the_argument(
    db_path: Path, settings: Dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        agora.Agora(sqlite_url(db_path), **{"jwt_secret": SECRET, **settings})


def test_jwt_leeway_is_settable_and_zero_expires_a_token_on_time(db_path: Path) -> None:
    url = sqlite_url(db_path)
    strict = agora.Agora(url, jwt_secret=SECRET, access_token_ttl=1, jwt_leeway=0, throttle=False)
    lenient = agora.Agora(url, jwt_secret=SECRET, access_token_ttl=1, throttle=False)  # 10 s leeway
    email = unique_email()
    strict.register(email, PASSWORD)
    token = strict.login(email, PASSWORD)
    assert token.expires_in == 1
    assert strict.authenticate(token).email == email
    time.sleep(2.2)
    with pytest.raises(agora.Unauthorized):
        strict.authenticate(token)
    with pytest.raises(agora.Unauthorized):
        strict.verify_token(token)
    assert lenient.authenticate(token).email == email  # within the default 10 s


def test_issuer_and_audience_must_match(db_path: Path) -> None:
    url = sqlite_url(db_path)
    default = agora.Agora(url, jwt_secret=SECRET, throttle=False)
    custom = agora.Agora(url, jwt_secret=SECRET, jwt_issuer="https://id.example", jwt_audience="shop", throttle=False)
    email = unique_email()
    default.register(email, PASSWORD)
    theirs, ours = default.login(email, PASSWORD), custom.login(email, PASSWORD)
    assert custom.authenticate(ours).email == email
    with pytest.raises(agora.Unauthorized):
        custom.authenticate(theirs)
    with pytest.raises(agora.Unauthorized):
        default.verify_token(ours)


def test_previous_secrets_keep_tokens_of_a_rotated_secret_valid(db_path: Path) -> None:
    url = sqlite_url(db_path)
    old = agora.Agora(url, jwt_secret=SECRET, throttle=False)
    email = unique_email()
    user = old.register(email, PASSWORD)
    token = old.login(email, PASSWORD)
    rotated = agora.Agora(url, jwt_secret=OTHER_SECRET, jwt_previous_secrets=[SECRET.encode()], throttle=False)
    assert rotated.verify_token(token) == user.id
    assert rotated.authenticate(token) == user
    without = agora.Agora(url, jwt_secret=OTHER_SECRET, throttle=False)
    with pytest.raises(agora.Unauthorized):
        without.verify_token(token)
    # New tokens are signed with the new secret: the old instance refuses them.
    with pytest.raises(agora.Unauthorized):
        old.verify_token(rotated.login(email, PASSWORD))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_eddsa_keys_are_read_from_files(db_path: Path, tmp_path: Path) -> None:
    private, public = tmp_path / "ed.pem", tmp_path / "ed.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    url = sqlite_url(db_path)
    signer = agora.Agora(url, jwt_algorithm="EdDSA", jwt_private_key_file=private, throttle=False)
    email = unique_email()
    user = signer.register(email, PASSWORD)
    token = signer.login(email, PASSWORD)
    assert token.access_token.count(".") == 2 and signer.authenticate(token) == user
    # Another instance that only verifies, with the public key (a PathLike).
    verifier = agora.Agora(
        url, jwt_algorithm="EdDSA", jwt_private_key_file=str(private), jwt_verify_key_files=[public], throttle=False
    )
    assert verifier.verify_token(token) == user.id
    hs256 = agora.Agora(url, jwt_secret=SECRET, throttle=False)
    with pytest.raises(agora.Unauthorized):
        hs256.verify_token(token)
    # The public key is published as a JWK Set; a shared secret publishes nothing.
    [key] = verifier.jwks()["keys"]  # type: ignore[index]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA") and "d" not in key
    assert hs256.jwks() is None


def test_the_password_policy_is_settable(db_path: Path) -> None:
    url = sqlite_url(db_path)
    strict = agora.Agora(url, jwt_secret=SECRET, password_min_chars=24, throttle=False)
    with pytest.raises(agora.ValidationError):
        strict.register(unique_email(), PASSWORD)  # 21 characters
    assert strict.register(unique_email(), PASSWORD + " staple").id > 0
    default = agora.Agora(url, jwt_secret=SECRET, throttle=False)
    with pytest.raises(agora.ValidationError):
        default.register(unique_email(), "password123")  # a common password
    open_list = agora.Agora(url, jwt_secret=SECRET, password_blocklist=False, throttle=False)
    assert open_list.register(unique_email(), "password123").id > 0


def test_pool_and_durations_take_python_types(db_path: Path) -> None:
    app = agora.Agora(
        sqlite_url(db_path),
        jwt_secret=SECRET,
        db_max_connections=2,
        db_acquire_timeout=0.5,
        db_statement_timeout=timedelta(seconds=2),
        migration_lock_timeout=5,
        refresh_reuse_grace=0,
        session_lifetime=timedelta(days=1),
        refresh_token_ttl=3600,
        hash_concurrency=1,
        access_token_ttl=90.0,
    )
    email = unique_email()
    app.register(email, PASSWORD)
    assert app.login(email, PASSWORD).expires_in == 90
    app.health()


def test_from_env_reads_the_servers_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGORA_DATABASE_URL", f"sqlite://{tmp_path}/env.db")
    monkeypatch.setenv("AGORA_JWT_SECRET", SECRET)
    monkeypatch.setenv("AGORA_ACCESS_TOKEN_TTL", "90s")
    monkeypatch.setenv("AGORA_JWT_ISSUER", "https://env.example")
    monkeypatch.setenv("AGORA_CORS_ORIGINS", "https://app.example")  # the server's: read, unused
    app = agora.Agora.from_env()
    assert app.access_token_ttl == timedelta(seconds=90)
    assert app.database_url == f"sqlite://{tmp_path}/env.db"
    email = unique_email()
    app.register(email, PASSWORD)
    token = app.login(email, PASSWORD)
    by_args = agora.Agora(sqlite_url(tmp_path / "env.db"), jwt_secret=SECRET)
    with pytest.raises(agora.Unauthorized):
        by_args.verify_token(token)  # another issuer
    overridden = agora.Agora.from_env(access_token_ttl=timedelta(minutes=1))
    assert overridden.access_token_ttl == timedelta(minutes=1)

    aapp = agora.AsyncAgora.from_env()
    assert isinstance(aapp, agora.AsyncAgora)
    assert inspect.iscoroutinefunction(type(aapp).login)

    monkeypatch.setenv("AGORA_JWT_LEEWAY", "soon")
    with pytest.raises(ValueError, match="^AGORA_JWT_LEEWAY: "):
        agora.Agora.from_env()
    with pytest.raises(ValueError, match="^jwt_leeway: "):
        agora.Agora.from_env(jwt_leeway=120)
    assert agora.Agora.from_env(jwt_leeway=5).access_token_ttl == timedelta(seconds=90)


def test_serve_from_env_listens_where_agora_bind_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from test_server import request

    monkeypatch.setenv("AGORA_DATABASE_URL", f"sqlite://{tmp_path}/serve.db")
    monkeypatch.setenv("AGORA_JWT_SECRET", SECRET)
    monkeypatch.setenv("AGORA_BIND", "127.0.0.1:0")
    monkeypatch.setenv("AGORA_BODY_LIMIT", "100")
    with agora.serve_from_env() as server:
        assert server.host == "127.0.0.1" and server.port > 0
        status, body = request("POST", server.url + "/users", {"email": unique_email(), "password": "x" * 300})
        assert (status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")
    with agora.serve_from_env(body_limit=4096) as server:
        status, _ = request("POST", server.url + "/users", {"email": unique_email(), "password": PASSWORD})
        assert status == 201


def test_an_unreachable_redis_makes_logins_unavailable(db_path: Path) -> None:
    app = agora.Agora(
        sqlite_url(db_path), jwt_secret=SECRET, redis_url="redis://127.0.0.1:1", redis_timeout=0.2
    )
    email = unique_email()
    with pytest.raises(agora.Unavailable):
        app.health()
    with pytest.raises(agora.Unavailable):
        app.login(email, PASSWORD)


def fail_alternately(first: agora.Agora, second: agora.Agora, email: str, times: int) -> None:
    for attempt in range(times):
        with pytest.raises(agora.InvalidCredentials):
            (first if attempt % 2 == 0 else second).login(email, "wrong password")


def test_without_redis_each_instance_counts_failed_logins_alone(db_path: Path) -> None:
    url = sqlite_url(db_path)
    one, two = agora.Agora(url, jwt_secret=SECRET), agora.Agora(url, jwt_secret=SECRET)
    email = unique_email()
    one.register(email, PASSWORD)
    fail_alternately(one, two, email, 5)  # 3 on one, 2 on two
    assert two.login(email, PASSWORD).access_token


@pytest.mark.skipif(not REDIS_URL, reason="AGORA_TEST_REDIS_URL is not set: Redis throttling untested")
def test_instances_sharing_redis_count_failed_logins_together(db_path: Path) -> None:
    url, prefix = sqlite_url(db_path), f"agora-py-test-{uuid.uuid4().hex}:"
    one = agora.Agora(url, jwt_secret=SECRET, redis_url=REDIS_URL, redis_prefix=prefix)
    two = agora.Agora(url, jwt_secret=SECRET, redis_url=REDIS_URL, redis_prefix=prefix)
    email = unique_email()
    one.register(email, PASSWORD)
    one.health()
    fail_alternately(one, two, email, 5)
    for app in (one, two):
        with pytest.raises(agora.RateLimited):
            app.login(email, PASSWORD)
    # Another prefix is another deployment: its counters are its own.
    apart = agora.Agora(url, jwt_secret=SECRET, redis_url=REDIS_URL, redis_prefix=prefix + "other:")
    assert apart.login(email, PASSWORD).access_token
