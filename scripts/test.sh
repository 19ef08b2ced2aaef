#!/usr/bin/env bash
# Installs what is needed and runs the whole test suite: the web app's unit tests (Vitest),
# then every test against PostgreSQL (a database of the run's own, created and dropped), the
# browser journey included, then the database tests again on SQLite, but for the few marked
# `once` (what they prove does not depend on the database). Extra arguments go to both pytest
# runs (e.g. scripts/test.sh -k auth). Each run lists its 15 slowest tests: the suite must stay
# within its time budget (README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/postgres.sh
scripts/web.sh
if ! command -v chromium >/dev/null; then
  echo "Chromium is not installed here: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

echo "== The web app's unit tests"
(cd web && npx vitest run)

workers=${PYTEST_WORKERS:-2}
echo "== PostgreSQL: the whole suite"
TEST_DATABASE=postgres .venv/bin/pytest -n "$workers" --dist loadfile --durations=15 "$@"
echo "== SQLite: the tests that use the database"
TEST_DATABASE=sqlite .venv/bin/pytest -n "$workers" --dist loadfile -m "database and not once" \
  --durations=15 "$@"
