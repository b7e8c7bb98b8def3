#!/usr/bin/env bash
# npm run services:down: stops what services:up started: the Ceph daemons always (by their pid
# files, and any daemon still running on this checkout's ceph.conf), PostgreSQL and Redis only if
# up.sh had to start them, and PgBouncer if PGBOUNCER=1 up.sh started it. Safe to run again. --ceph-only leaves PostgreSQL and Redis alone.
# Keeps $REPO/.services/ceph (logs); up.sh starts Ceph from scratch anyway.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${SERVICES_DIR:-$REPO/.services}
CEPH="$STATE/ceph"
CONF="$CEPH/ceph.conf"

log() { echo "services:down: $*" >&2; }

[ -d "$STATE" ] || exit 0
if [ -z "${KOODRIVE_SERVICES_LOCKED:-}" ]; then
  exec 9>"$STATE/lock"
  flock 9
fi

# Pids of the daemons whose command line names our ceph.conf (pid file lost, e.g. after rm -rf).
pids_on_our_conf() { # comm
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    proc_is "$pid" "$1" || continue
    if tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | grep -qxF "$CONF"; then echo "$pid"; fi
  done
}

# Process $1 is alive and named $2 (a zombie counts as gone).
proc_is() {
  local state
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
  state=$(awk '/^State:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# TERM, up to 10s to exit, then KILL. Only a live process with the expected name is touched.
stop_pid() { # pid comm
  local pid=$1 comm=$2
  proc_is "$pid" "$comm" || return 0
  log "stopping $comm ($pid)"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 40); do
    proc_is "$pid" "$comm" || return 0
    sleep 0.25
  done
  log "$comm ($pid) did not exit within 10s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    proc_is "$pid" "$comm" || return 0
    sleep 0.25
  done
  log "$comm ($pid) is still there"
}

# radosgw first, the monitor last
for entry in "client.rgw.a radosgw" "osd.0 ceph-osd" "mon.a ceph-mon"; do
  read -r name comm <<<"$entry"
  pid_file="$CEPH/run/$name.pid"
  pids=$(pids_on_our_conf "$comm")
  if [ -f "$pid_file" ]; then pids="$(cat "$pid_file" 2>/dev/null) $pids"; fi
  for pid in $(tr ' ' '\n' <<<"$pids" | grep -E "^[0-9]+$" | sort -u || true); do
    stop_pid "$pid" "$comm"
  done
  rm -f "$pid_file" "$CEPH/run/$name.asok"
done
if [ -f "$STATE/started" ]; then sed -i '/^ceph$/d' "$STATE/started"; fi

if [ "${1:-}" != "--ceph-only" ] && [ -f "$STATE/started" ]; then
  if grep -qx pgbouncer "$STATE/started"; then
    pid=$(cat "$STATE/pgbouncer/pgbouncer.pid" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]]; then stop_pid "$pid" pgbouncer; fi
    rm -f "$STATE/pgbouncer/pgbouncer.pid"
    sed -i '/^pgbouncer$/d' "$STATE/started"
  fi
  if grep -qx redis "$STATE/started"; then
    log "stopping Redis"
    redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true
    sed -i '/^redis$/d' "$STATE/started"
  fi
  if grep -qx postgres "$STATE/started"; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    log "stopping PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main stop >&2 || true
    sed -i '/^postgres$/d' "$STATE/started"
  fi
fi
