#!/usr/bin/env bash
# Installs what is needed (first run only) and starts the whole platform: Temporal dev server
# with its Web UI, database migrations, the worker and the API. Ctrl-C stops everything.
# Options are passed to `crypteras up` (see `.venv/bin/crypteras up --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/crypteras up "$@"
