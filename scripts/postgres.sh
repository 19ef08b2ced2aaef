#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for local TCP
# connections. Where none runs, installs PostgreSQL from Debian's packages and starts it.
set -euo pipefail

answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if answers; then
  exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not running here: installing it from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
# Tests connect as postgres over TCP without a password, as on our build machines.
if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
  sed -i '/^host/d' "$hba"
  printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >> "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 1 50); do
  answers && exit 0
  sleep 0.2
done
echo "crypteras: PostgreSQL did not start on 127.0.0.1:5432" >&2
exit 1
