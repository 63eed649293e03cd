#!/bin/sh
# The whole test suite, as CI runs it: lint, format, types, import layers, unit + integration.
# Installs what it needs on a fresh Debian machine (run as root); extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
MAILPOLL_BOOTSTRAP_TEST_SERVERS=1 ./scripts/bootstrap.sh

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy" >&2
.venv/bin/mypy
echo "== import layers" >&2
.venv/bin/lint-imports
echo "== pytest" >&2
# Test files run in parallel processes (pytest-xdist), each with its own throwaway servers;
# most tests wait on servers and timers more than they compute. MAILPOLL_TEST_WORKERS=0
# runs them in this process.
exec .venv/bin/pytest -n "${MAILPOLL_TEST_WORKERS:-3}" --dist loadfile "$@"
