#!/usr/bin/env bash
# Installs what is needed and runs the whole test suite: every test against PostgreSQL (a
# database of the run's own, created and dropped), then the database tests again on SQLite.
# Extra arguments go to both pytest runs (e.g. scripts/test.sh -k auth). Each run lists its 15
# slowest tests: the suite must stay within its time budget (README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/postgres.sh

workers=${PYTEST_WORKERS:-2}
echo "== PostgreSQL: the whole suite"
TEST_DATABASE=postgres .venv/bin/pytest -n "$workers" --dist loadfile --durations=15 "$@"
echo "== SQLite: the tests that use the database"
TEST_DATABASE=sqlite .venv/bin/pytest -n "$workers" --dist loadfile -m database --durations=15 "$@"
