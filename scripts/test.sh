#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the real authorization servers that the
# interop tests run (tests/oidc_provider.rs, tests/authlib.rs; README "Interoperability"),
# then runs every test, doctests included. Idempotent: a few seconds when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# oidc-provider from its committed package-lock.json.
npm ci --prefix tests/interop/oidc-provider --no-audit --no-fund --loglevel=error
# Authlib, pinned, in a virtual environment.
[ -x tests/interop/authlib/.venv/bin/python ] || python3 -m venv tests/interop/authlib/.venv
tests/interop/authlib/.venv/bin/pip install -q --disable-pip-version-check \
    -r tests/interop/authlib/requirements.txt
cargo test --all-features "$@"
