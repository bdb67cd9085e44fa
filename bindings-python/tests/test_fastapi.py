"""agora.fastapi: the router against the shared HTTP contract suite (under
uvicorn, over Agora and AsyncAgora), its routes and OpenAPI document against
the Rust server's, the dependencies in sync and async apps, the error
handlers, the body limit, the response models, and the ImportError without
FastAPI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Set, Tuple

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from support import PASSWORD, SECRET, sqlite_url, unique_email
from test_server import contract_binary

import agora
import agora.fastapi as af

Bodies = Dict[str, Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The contract suite against a uvicorn app built from agora.fastapi ------

APP_MODULE = """
from contextlib import asynccontextmanager
import os
from fastapi import FastAPI
import agora
import agora.fastapi

@asynccontextmanager
async def lifespan(app):
    kind = getattr(agora, os.environ["AGORA_TEST_CLASS"])
    app.state.agora = kind(os.environ["AGORA_TEST_DB"], jwt_secret="{secret}", throttle=False)
    yield

app = FastAPI(lifespan=lifespan)
app.include_router(agora.fastapi.create_router())
agora.fastapi.install(app)
"""


@pytest.fixture
def uvicorn_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """`uvicorn contract_app:app` over ``request.param`` ("Agora" or
    "AsyncAgora"), on a free port; yields its base URL."""
    (tmp_path / "contract_app.py").write_text(APP_MODULE.format(secret=SECRET))
    port = free_port()
    env = {
        **os.environ,
        "AGORA_TEST_CLASS": request.param,
        "AGORA_TEST_DB": sqlite_url(tmp_path / "contract.db"),
    }
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "contract_app:app", "--port", str(port), "--log-level", "warning"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "uvicorn did not start: " + log.read_text(errors="replace")
            time.sleep(0.2)
        yield base
        assert server.poll() is None, log.read_text(errors="replace")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.parametrize("uvicorn_app", ["AsyncAgora", "Agora"], indirect=True)
def test_the_http_contract_suite_passes_against_the_router(uvicorn_app: str) -> None:
    binary = contract_binary()
    assert binary.exists(), binary
    result = subprocess.run([str(binary), uvicorn_app], capture_output=True, text=True, timeout=900)
    print(result.stdout[-3000:])
    summary = [line for line in result.stdout.splitlines() if line.startswith("contract: ") and " run" in line]
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert result.returncode == 0, "\n".join(failed) + result.stderr[-2000:]
    assert summary and " 0 failed" in summary[-1], summary


# --- Routes and OpenAPI against the Rust server's document -------------------

#: The server's endpoints the binding has no call for.
NOT_IN_THE_BINDING: Set[Tuple[str, str]] = set()
#: The error statuses the brief requires to be declared where they occur.
DECLARED = {400, 401, 403, 404, 409, 422, 429}


def operations(document: Dict[str, Any]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete")
    }


@pytest.fixture(scope="module")
def server_document(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    db = tmp_path_factory.mktemp("openapi") / "server.db"
    with agora.serve(port=0, database_url=sqlite_url(db), jwt_secret=SECRET) as server:
        with urllib.request.urlopen(server.url + "/openapi.json", timeout=30) as response:
            document: Dict[str, Any] = json.loads(response.read())
    return document


def router_app(service: Any = None, **router: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(af.create_router(service, **router))
    af.install(app)
    return app


def test_the_router_serves_the_servers_routes_with_their_statuses(server_document: Dict[str, Any]) -> None:
    ours = operations(router_app().openapi())
    theirs = operations(server_document)
    assert set(ours) == set(theirs) - NOT_IN_THE_BINDING
    for key, op in theirs.items():
        if key in NOT_IN_THE_BINDING:
            continue
        success = {s for s in op["responses"] if s.startswith("2")}
        assert {s for s in ours[key]["responses"] if s.startswith("2")} == success, key


def test_the_openapi_document_declares_the_servers_error_answers(server_document: Dict[str, Any]) -> None:
    ours = operations(router_app().openapi())
    for key, op in operations(server_document).items():
        if key in NOT_IN_THE_BINDING:
            continue
        declared = {int(s) for s in ours[key]["responses"] if not s.startswith("2")}
        expected = {int(s) for s in op["responses"] if not s.startswith("2")} & DECLARED
        assert expected <= declared, (key, expected - declared)
        for status in declared:
            answer = ours[key]["responses"][str(status)]
            schema = answer["content"]["application/json"]["schema"]["$ref"]
            assert schema.endswith("ValidationErrorBody" if status == 422 else "HttpError"), (key, status)
        if 401 in declared:
            assert "WWW-Authenticate" in ours[key]["responses"]["401"]["headers"]
        if 429 in declared:
            assert "Retry-After" in ours[key]["responses"]["429"]["headers"]
    get_post = ours[("GET", "/posts/{id}")]
    assert {"401", "404", "422"} <= set(get_post["responses"])
    assert {"401", "404", "409", "422"} <= set(ours[("POST", "/vote")]["responses"])
    assert {"403", "422", "429"} <= set(ours[("POST", "/login")]["responses"])
    assert {"401", "403", "404", "422"} <= set(ours[("PUT", "/posts/{id}")]["responses"])


def test_the_login_takes_the_form_and_json_and_swagger_logs_in_under_the_prefix() -> None:
    document = router_app(prefix="/auth").openapi()
    [scheme] = document["components"]["securitySchemes"].values()
    assert scheme["flows"] == {"password": {"scopes": {}, "tokenUrl": "/auth/login"}}
    login = document["paths"]["/auth/login"]["post"]
    assert set(login["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}
    assert "/auth/users/me" in document["paths"] and "/auth/users/me/" not in document["paths"]


# --- Shapes: the response models are the servers' JSON ------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    service = agora.AsyncAgora(sqlite_url(tmp_path / "app.db"), jwt_secret=SECRET, throttle=False)
    with TestClient(router_app(service)) as test_client:
        yield test_client


def sign_up(client: TestClient, username: Optional[str] = None) -> Dict[str, Any]:
    email = unique_email()
    body: Bodies = {"email": email, "password": PASSWORD}
    if username:
        body["username"] = username
    created = client.post("/users", json=body)
    assert created.status_code == 201, created.text
    token = client.post("/login", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {
        "user": created.json(),
        "token": token.json(),
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
    }


def exactly(model: type, body: Dict[str, Any]) -> None:
    """``body`` validates as ``model`` and has exactly its fields (by alias)."""
    assert isinstance(model, type) and issubclass(model, BaseModel)
    model.model_validate(body)
    names = {field.alias or name for name, field in model.model_fields.items()}
    assert set(body) == names, (model.__name__, sorted(body), sorted(names))


def test_the_response_models_are_the_shapes_the_routes_answer(client: TestClient) -> None:
    ada = sign_up(client, "ada" + str(time.monotonic_ns()))
    grace = sign_up(client, "grace" + str(time.monotonic_ns()))
    headers = ada["headers"]
    exactly(af.User, ada["user"])
    exactly(af.Token, ada["token"])
    post = client.post("/posts", json={"title": "t", "content": "c", "tags": ["A"]}, headers=headers).json()
    exactly(af.Post, post)
    exactly(af.User, post["owner"])
    [listed] = client.get("/posts", params={"author": ada["user"]["username"]}, headers=headers).json()
    exactly(af.PostWithVotes, listed)
    assert listed["Post"] == post
    exactly(af.Message, client.post("/vote", json={"post_id": post["id"], "dir": 1}, headers=headers).json())
    comment = client.post(f"/posts/{post['id']}/comments", json={"body": "hi"}, headers=headers).json()
    exactly(af.Comment, comment)
    [session] = client.get("/sessions", headers=headers).json()
    exactly(af.Session, session)
    profile = client.post(f"/profiles/{grace['user']['username']}/follow", headers=headers).json()
    exactly(af.Profile, profile)
    assert profile["following"] is True
    [tag] = client.get("/tags").json()
    exactly(af.TagCount, tag)
    assert tag == {"tag": "a", "posts": 1}
    health = client.get("/health").json()
    exactly(af.Health, health)
    assert health["database"] == "sqlite" and health["checks"]["database"]["status"] == "ok"
    assert client.get("/health/live").json() == {"status": "ok"}
    missing = client.get("/users/999999").json()
    exactly(af.HttpError, missing)
    invalid = client.get("/posts/abc", headers=headers).json()
    exactly(af.ValidationErrorBody, invalid)
    for item in invalid["detail"]:
        exactly(af.FieldErrorItem, item)


def test_profile_updates_keep_omitted_fields_and_clear_nulls(client: TestClient) -> None:
    ada = sign_up(client)
    headers = ada["headers"]
    updated = client.put("/users/me", json={"bio": "Mathematician", "image": "https://x.example/a.png"}, headers=headers)
    assert updated.status_code == 200 and updated.json()["bio"] == "Mathematician"
    kept = client.put("/users/me", json={"image": None}, headers=headers).json()
    assert (kept["bio"], kept["image"]) == ("Mathematician", None)


def test_mail_routes_answer_the_same_for_every_address(tmp_path: Path) -> None:
    outbox: List[Dict[str, str]] = []
    service = agora.Agora(
        sqlite_url(tmp_path / "mail.db"),
        jwt_secret=SECRET,
        throttle=False,
        public_url="https://app.example",
        mailer=outbox.append,
    )
    with TestClient(router_app(service)) as client:
        ada = sign_up(client)
        email = ada["user"]["email"]
        for address in (email, unique_email("nobody")):
            answer = client.post("/forgot-password", json={"email": address})
            assert (answer.status_code, answer.json()) == (202, {"message": af.MAIL_ON_ITS_WAY})
        deadline = time.monotonic() + 10
        while not outbox and time.monotonic() < deadline:
            time.sleep(0.01)
        [mail] = outbox
        token = mail["link"].split("token=")[1]
        reset = client.post("/reset-password", json={"token": token, "new_password": "a brand new passphrase"})
        assert (reset.status_code, reset.content) == (204, b"")
        again = client.post("/reset-password", json={"token": token, "new_password": "a brand new passphrase"})
        assert (again.status_code, again.json()["code"]) == (400, "RESET_PASSWORD_BAD_TOKEN")
        assert client.get("/users/me", headers=ada["headers"]).status_code == 401
        assert client.post("/request-verify-token", json={"email": email}).status_code == 202
        deadline = time.monotonic() + 10
        while len(outbox) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        verify_token = outbox[1]["link"].split("token=")[1]
        verified = client.post("/verify", json={"token": verify_token})
        assert verified.status_code == 200 and verified.json()["email_verified"] is True
        bad = client.post("/verify", json={"token": "nope"})
        assert (bad.status_code, bad.json()["code"]) == (400, "VERIFY_USER_BAD_TOKEN")


# --- current_user in sync and async apps ------------------------------------


def own_routes(app: FastAPI, sync: bool) -> None:
    """``/whoami`` (current_user), ``/hello`` (optional_user), ``/token``
    (bearer_token), as ``def`` or ``async def`` routes."""
    if sync:

        @app.get("/whoami")
        def whoami(user: af.CurrentUser) -> Dict[str, Any]:
            return {"id": user.id}

        @app.get("/hello")
        def hello(user: af.OptionalUser) -> Dict[str, Any]:
            return {"id": user.id if user else None}

        @app.get("/token")
        def token(token: af.BearerToken) -> Dict[str, Any]:
            return {"length": len(token)}

    else:

        @app.get("/whoami")
        async def whoami(user: af.CurrentUser) -> Dict[str, Any]:
            return {"id": user.id}

        @app.get("/hello")
        async def hello(user: af.OptionalUser) -> Dict[str, Any]:
            return {"id": user.id if user else None}

        @app.get("/token")
        async def token(token: af.BearerToken) -> Dict[str, Any]:
            return {"length": len(token)}


@pytest.mark.parametrize(
    "kind, sync",
    [(agora.Agora, True), (agora.Agora, False), (agora.AsyncAgora, True), (agora.AsyncAgora, False)],
    ids=["Agora-def", "Agora-async", "AsyncAgora-def", "AsyncAgora-async"],
)
def test_current_user_in_sync_and_async_apps(tmp_path: Path, kind: Any, sync: bool) -> None:
    url = sqlite_url(tmp_path / "own.db")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.agora = kind(url, jwt_secret=SECRET)
        yield

    app = FastAPI(lifespan=lifespan)
    af.install(app)
    own_routes(app, sync)
    with TestClient(app) as client:
        service = app.state.agora
        email = unique_email()
        registered = agora.Agora(url, jwt_secret=SECRET).register(email, PASSWORD)
        token = agora.Agora(url, jwt_secret=SECRET).login(email, PASSWORD).access_token
        assert isinstance(service, kind)
        for scheme in ("Bearer", "bearer", "BEARER"):
            me = client.get("/whoami", headers={"Authorization": f"{scheme} {token}"})
            assert (me.status_code, me.json()) == (200, {"id": registered.id})
        assert client.get("/hello").json() == {"id": None}
        assert client.get("/hello", headers={"Authorization": f"Bearer {token}"}).json() == {"id": registered.id}
        assert client.get("/token", headers={"Authorization": f"Bearer {token}"}).json() == {"length": len(token)}
        refused = {"detail": "Could not validate credentials", "code": "UNAUTHORIZED"}
        for path in ("/whoami", "/token"):
            missing = client.get(path)
            assert (missing.status_code, missing.json()) == (401, refused)
            assert missing.headers["www-authenticate"] == "Bearer"
        for header in ("Basic xyz", token, "Bearer", ""):
            other = client.get("/whoami", headers={"Authorization": header})
            assert (other.status_code, other.json()) == (401, refused), header
            assert other.headers["www-authenticate"] == "Bearer", header
        for path in ("/whoami", "/hello"):
            bad = client.get(path, headers={"Authorization": "Bearer not.a.token"})
            assert (bad.status_code, bad.json()) == (401, refused)
            assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_missing_service_names_the_fix() -> None:
    app = FastAPI()
    own_routes(app, sync=False)
    with TestClient(app, raise_server_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="app.state.agora"):
            client.get("/whoami", headers={"Authorization": "Bearer x"})
    with pytest.raises(TypeError, match="service must be"):
        af.create_router(service=42)  # type: ignore[arg-type]


# --- Error handlers -----------------------------------------------------------


def raising_app() -> FastAPI:
    app = FastAPI()
    af.install(app, body_limit=100)

    @app.get("/raise/{name}")
    async def fail(name: str) -> None:
        errors = {
            "rate": agora.RateLimited("Too many requests", retry_after=42),
            "unauthorized": agora.Unauthorized("Could not validate credentials"),
            "gone": agora.NotFound("gone", code="POST_NOT_FOUND"),
            "conflict": agora.Conflict("taken", code="EMAIL_TAKEN"),
            "unavailable": agora.Unavailable("Service temporarily unavailable, try again later"),
            "invalid": agora.ValidationError("bad", [{"loc": ["body", "dir"], "msg": "m", "type": "t"}]),
        }
        raise errors[name]

    @app.post("/echo")
    async def echo(body: af.VoteRequest) -> Dict[str, int]:
        return {"post_id": body.post_id}

    return app


@pytest.mark.parametrize(
    "name, status, body, headers",
    [
        ("rate", 429, {"detail": "Too many requests", "code": "RATE_LIMITED"}, {"retry-after": "42"}),
        ("unauthorized", 401, {"detail": "Could not validate credentials", "code": "UNAUTHORIZED"}, {"www-authenticate": "Bearer"}),
        ("gone", 404, {"detail": "gone", "code": "POST_NOT_FOUND"}, {}),
        ("conflict", 409, {"detail": "taken", "code": "EMAIL_TAKEN"}, {}),
        ("unavailable", 503, {"detail": "Service temporarily unavailable, try again later", "code": "SERVICE_UNAVAILABLE"}, {}),
        ("invalid", 422, {"detail": [{"loc": ["body", "dir"], "msg": "m", "type": "t"}], "code": "VALIDATION_ERROR"}, {}),
    ],
)
def test_agora_errors_get_the_servers_body_and_headers(name: str, status: int, body: Bodies, headers: Dict[str, str]) -> None:
    with TestClient(raising_app()) as client:
        response = client.get(f"/raise/{name}")
    assert (response.status_code, response.json()) == (status, body)
    for header, value in headers.items():
        assert response.headers[header] == value


def test_request_validation_errors_get_the_servers_422_shape() -> None:
    with TestClient(raising_app()) as client:
        wrong = client.post("/echo", json={"post_id": "1", "dir": 1.5})
        assert wrong.status_code == 422
        assert wrong.json() == {
            "detail": [
                {"loc": ["body", "post_id"], "msg": "Input should be a valid integer", "type": "int_type"},
                {"loc": ["body", "dir"], "msg": "Input should be a valid integer", "type": "int_type"},
            ],
            "code": "VALIDATION_ERROR",
        }
        broken = client.post("/echo", content=b'{"post_id": ', headers={"content-type": "application/json"})
        assert broken.status_code == 422
        [item] = broken.json()["detail"]
        assert (item["loc"], item["type"]) == (["body"], "json_invalid")


def test_unknown_routes_methods_and_large_bodies_get_the_servers_codes() -> None:
    with TestClient(raising_app()) as client:
        missing = client.get("/no-such-route")
        assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found", "code": "NOT_FOUND"})
        wrong = client.delete("/echo")
        assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
        assert wrong.headers["allow"] == "POST"
        too_large = {"detail": "Request body too large", "code": "PAYLOAD_TOO_LARGE"}
        declared = client.post("/echo", content=b"x" * 101, headers={"content-type": "application/json"})
        assert (declared.status_code, declared.json()) == (413, too_large)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"post_id": 1, "dir": 1, "pad": "'
            yield b"x" * 200
            yield b'"}'

        streamed = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
        assert (streamed.status_code, streamed.json()) == (413, too_large)
        fits = client.post("/echo", json={"post_id": 1, "dir": 1})
        assert (fits.status_code, fits.json()) == (200, {"post_id": 1})


def test_a_throttled_login_names_its_policy_like_the_servers(tmp_path: Path) -> None:
    service = agora.Agora(sqlite_url(tmp_path / "limits.db"), jwt_secret=SECRET)
    with TestClient(router_app(service)) as client:
        email = unique_email()
        assert client.post("/users", json={"email": email, "password": PASSWORD}).status_code == 201
        for _ in range(5):
            wrong = client.post("/login", data={"username": email, "password": "wrong password"})
            assert wrong.status_code == 403, wrong.text
        refused = client.post("/login", data={"username": email, "password": PASSWORD})
        assert refused.status_code == 429, refused.text
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 900
        assert refused.headers["ratelimit-policy"] == '"login";q=5;w=900'
        assert refused.headers["ratelimit"] == f'"login";r=0;t={wait}'


def test_the_key_set_is_served_or_404_with_a_shared_secret(client: TestClient, tmp_path: Path) -> None:
    hidden = client.get("/.well-known/jwks.json")
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "Not Found", "code": "NOT_FOUND"})
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command for an EdDSA key")
    private = tmp_path / "ed.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True)
    service = agora.Agora(
        sqlite_url(tmp_path / "keys.db"), jwt_algorithm="EdDSA", jwt_private_key_file=private, throttle=False
    )
    with TestClient(router_app(service)) as keyed:
        published = keyed.get("/.well-known/jwks.json")
        assert published.status_code == 200
        assert published.json() == service.jwks()
        [key] = published.json()["keys"]
        assert key["crv"] == "Ed25519" and "d" not in key


def test_a_route_error_of_the_binding_is_answered_like_the_servers(client: TestClient) -> None:
    headers = sign_up(client)["headers"]
    big = client.get(f"/posts/{2**63}", headers=headers)
    assert big.status_code == 422 and big.json()["code"] == "VALIDATION_ERROR"
    assert big.json()["detail"][0]["loc"] == ["path", "id"]
    missing = client.get("/posts/999999", headers=headers)
    assert missing.json() == {"detail": "post with id: 999999 was not found", "code": "POST_NOT_FOUND"}


# --- Without FastAPI ------------------------------------------------------------

BLOCKED = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "starlette", "pydantic"):
            raise ImportError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
import agora
assert agora.Agora and "fastapi" not in sys.modules
try:
    import agora.fastapi
except ImportError as e:
    print(str(e))
else:
    raise SystemExit("agora.fastapi imported without FastAPI")
"""


def test_agora_imports_without_fastapi_and_agora_fastapi_names_the_extra(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(BLOCKED)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    message = result.stdout.strip()
    assert message.startswith("agora.fastapi needs FastAPI"), message
    # The command names the distribution this package is installed under.
    try:
        from importlib.metadata import packages_distributions
    except ImportError:  # Python 3.9
        pytest.skip("no importlib.metadata.packages_distributions")
    [distribution] = packages_distributions()["agora"]
    assert message.endswith(f'pip install "{distribution}[fastapi]"'), message


def test_health_lists_redis_beside_the_database_and_answers_503_when_it_is_down(tmp_path: Path) -> None:
    service = agora.AsyncAgora(
        sqlite_url(tmp_path / "app.db"), jwt_secret=SECRET, redis_url="redis://127.0.0.1:1", redis_timeout=0.2
    )
    with TestClient(router_app(service)) as client:
        answer = client.get("/health")
    assert answer.status_code == 503
    body = answer.json()
    exactly(af.Health, {k: body[k] for k in ("status", "database", "checks")})
    assert body["status"] == "error" and body["code"] == "SERVICE_UNAVAILABLE"
    assert set(body["checks"]) == {"database", "redis"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {
        "status": "error",
        "latency_ms": body["checks"]["redis"]["latency_ms"],
        "reason": "does not answer",
    }


def test_a_405_allows_every_method_the_path_serves_in_the_servers_order(client: TestClient) -> None:
    wrong = client.patch("/posts")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["allow"] == "GET,POST"
    one = client.post("/posts/1")
    assert (one.status_code, one.headers["allow"]) == (405, "GET,PUT,DELETE")
