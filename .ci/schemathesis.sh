#!/usr/bin/env bash
# Runs schemathesis (from PyPI) against the axum example server's own
# /openapi.json: server errors, status codes, content types and response
# bodies must all conform to the document. Bounded in examples and time.
# Exits non-zero on any failure.
#
#   bash .ci/schemathesis.sh        # after `cargo test --workspace` (or it builds the server)
#
# Knobs: SCHEMATHESIS_MAX_EXAMPLES (default 40 per operation),
# SCHEMATHESIS_MAX_TIME (seconds per run, default 150),
# AGORA_SCHEMATHESIS_VENV (default ~/.cache/agora-schemathesis-venv, outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-150}"
VENV="${AGORA_SCHEMATHESIS_VENV:-$HOME/.cache/agora-schemathesis-venv}"
TARGET="${CARGO_TARGET_DIR:-target}"
SERVER="$TARGET/debug/examples/server"

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # 4.x: the CLI flags used below (--checks, --max-examples, --max-time, --report).
  "$VENV/bin/pip" install --quiet 'schemathesis>=4.32,<5' 'openapi-spec-validator>=0.7'
fi
"$VENV/bin/schemathesis" --version

if [ ! -x "$SERVER" ]; then
  cargo build --example server
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
AGORA_BIND="127.0.0.1:$PORT" \
AGORA_DATABASE_URL="sqlite://$WORK/agora.db" \
AGORA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
AGORA_THROTTLE=off \
RUST_LOG="${RUST_LOG:-warn}" \
  "$SERVER" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if curl -fsS "$BASE/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$WORK/server.log" >&2
    echo "the example server did not start" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$BASE/health" >/dev/null

# The served document is valid OpenAPI 3.1 (the validator of the spec's schema).
curl -fsS "$BASE/openapi.json" -o "$WORK/openapi.json"
"$VENV/bin/python" - "$WORK/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import validate
doc = json.load(open(sys.argv[1]))
validate(doc)
print(f"openapi.json: valid OpenAPI {doc['openapi']}, {len(doc['paths'])} paths")
PY

# A registered user, logged in with the OAuth2 password form (not the
# password of the schema's examples, so generated requests never match it).
EMAIL="schemathesis@example.com"
PASSWORD="$(python3 -c 'import secrets; print("st-" + secrets.token_hex(12))')"
curl -fsS -X POST "$BASE/users" -H 'content-type: application/json' \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}" >/dev/null
TOKEN="$(curl -fsS -X POST "$BASE/login" --data-urlencode "username=$EMAIL" \
  --data-urlencode "password=$PASSWORD" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
# A post of the user, so that /posts/{id} and /vote have something to find.
curl -fsS -X POST "$BASE/posts" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d '{"title": "Hello", "content": "First post"}' >/dev/null

CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
run() { # name, extra schemathesis arguments...
  local name=$1; shift
  echo "== schemathesis: $name =="
  # From the temporary directory: schemathesis keeps its cache in ./.schemathesis.
  (cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    --checks "$CHECKS" \
    -H "Authorization: Bearer $TOKEN" \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --seed "${SCHEMATHESIS_SEED:-$RANDOM}" \
    --report ndjson --report-ndjson-path "$WORK/$name.ndjson" \
    "$@")
}
count_cases() { # ndjson report: the number of test cases (requests) run
  python3 - "$1" <<'PY'
import json, sys
cases = 0
for line in open(sys.argv[1]):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    for key, value in event.items():
        if key == "ScenarioFinished" and isinstance(value, dict):
            recorder = value.get("recorder") or {}
            cases += len(recorder.get("cases") or {})
print(cases)
PY
}

status=0
# Logging out and ending a session (the fuzzer finds the token's own session
# in GET /sessions) end the token's session: those operations run last,
# alone. Run with the rest, they left every later request a 401, so most of
# the run never got past authentication.
ENDS_SESSION='^(Logout|LogoutAll|EndSession)$'
run main --exclude-operation-id-regex "$ENDS_SESSION" || status=$?
main_cases="$(count_cases "$WORK/main.ndjson" 2>/dev/null || echo '?')"
# The main run must have been authenticated to its end.
me="$(curl -sS -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "$BASE/users/me")"
if [ "$me" != 200 ]; then
  echo "the token no longer works after the main run (GET /users/me: $me)" >&2
  status=1
fi
run logout --include-operation-id-regex "$ENDS_SESSION" --max-time 20 || status=$?
logout_cases="$(count_cases "$WORK/logout.ndjson" 2>/dev/null || echo '?')"

echo "schemathesis: $main_cases + $logout_cases test cases run, exit status $status"
if grep -q 'panicked' "$WORK/server.log"; then
  grep -n 'panicked' "$WORK/server.log" >&2
  status=1
fi
exit "$status"
