#!/usr/bin/env bash
# Builds the web app (web/ → web/dist, served by the API at /app). Installs Node.js from
# Debian's packages where it is missing, installs the npm packages of the committed lock file,
# and builds again only when the app's sources changed.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null; then
  echo "Node.js is not installed here: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "crypteras: the web app needs Node.js 20.19 or newer (found $(node --version))" >&2
  exit 1
fi

stamp=node_modules/.crypteras-installed
wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$wanted" > "$stamp"
fi

built=dist/.crypteras-built
sources=$(find src index.html package-lock.json vite.config.ts tsconfig.json -type f -print0 |
  sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$built" 2>/dev/null)" != "$sources" ]; then
  npm run --silent build >/dev/null
  echo "$sources" > "$built"
fi
