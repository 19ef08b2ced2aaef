#!/usr/bin/env bash
# Installs what is needed (first run only) and starts the whole platform: Temporal dev server
# with its Web UI, database migrations, the worker, and the API with the web app at /app.
# Ctrl-C stops everything.
# Options are passed to `crypteras up` (see `.venv/bin/crypteras up --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# Without a build the API still runs and /app says how to make one.
scripts/web.sh || echo "crypteras: the web app could not be built (see above); the API runs without it" >&2
exec .venv/bin/crypteras up "$@"
