#!/usr/bin/env bash
# Builds the `agora` wheel and runs every Python test, in a virtualenv it
# creates afresh each run:
#   - bindings-python/tests       the binding (every method and error class,
#                                 threads, asyncio, typing, account mail with
#                                 a Python mailer and a local SMTP server
#                                 (aiosmtpd), agora.serve and the shared HTTP
#                                 contract suite against it)
#   - examples/fastapi_app/tests  the FastAPI example app (TestClient, uvicorn)
#
# Needs only python3 (3.9 or newer, with venv), cargo and PyPI. Exits non-zero
# on any failure. Environment:
#   CARGO_TARGET_DIR     cargo's target dir (default: <repo>/target); the
#                        wheel goes to $CARGO_TARGET_DIR/agora-wheels
#   AGORA_PY_VENV        the virtualenv (default: bindings-python/.venv, gitignored)
#   AGORA_WHEEL_RELEASE  set to 1 for an optimised wheel (slower to build; the
#                        debug wheel already optimises argon2, see Cargo.toml)
#   PYTHON               the interpreter to build the virtualenv from (python3)
# Extra arguments go to pytest, e.g. `bash bindings-python/run-tests.sh -k async`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
venv="${AGORA_PY_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
wheels="$CARGO_TARGET_DIR/agora-wheels"

step() { printf '\n== %s ==\n' "$*"; }

step "virtualenv $venv"
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.16,<2" "pytest>=8" "mypy>=1.10" \
  "fastapi>=0.110" "httpx>=0.27" "httpx2>=2; python_version >= '3.11'" \
  "python-multipart>=0.0.9" "uvicorn>=0.29" "aiosmtpd>=1.4"
"$venv/bin/python" --version

step "wheel"
profile=()
if [[ "${AGORA_WHEEL_RELEASE:-0}" == "1" ]]; then profile=(--release); fi
rm -rf "$wheels"
"$venv/bin/maturin" build "${profile[@]}" --manifest-path "$here/Cargo.toml" \
  --interpreter "$venv/bin/python" --out "$wheels"
wheel=("$wheels"/agora_auth-*.whl)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall "${wheel[0]}"

step "contract suite binary"
cargo build --manifest-path "$root/Cargo.toml" -p agora-contract
export AGORA_CONTRACT_BIN="$CARGO_TARGET_DIR/debug/agora-contract"

step "pytest"
# From a scratch directory, so `import agora` finds the installed wheel, not
# the sources in bindings-python/python.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$venv/bin/python" -m pytest -p no:cacheprovider -q \
  "$here/tests" "$root/examples/fastapi_app/tests" "$@"
