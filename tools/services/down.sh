#!/usr/bin/env bash
# npm run services:down: stops what services:up started (Ceph always; PostgreSQL and Redis only
# if up.sh had to start them). --ceph-only leaves PostgreSQL and Redis alone.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
# machine-wide, like the ports: every checkout shares one set of services
STATE=${SERVICES_DIR:-/var/tmp/koodrive-services}
CEPH="$STATE/ceph"

stop_pid_file() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

for name in client.rgw.a osd.0 mon.a; do
  stop_pid_file "$CEPH/run/$name.pid"
done

if [ "${1:-}" != "--ceph-only" ] && [ -f "$STATE/started" ]; then
  if grep -qx redis "$STATE/started"; then
    redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
  fi
  if grep -qx postgres "$STATE/started"; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main stop || true
  fi
  rm -f "$STATE/started"
fi
echo "services:down: stopped" >&2
