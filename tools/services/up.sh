#!/usr/bin/env bash
# npm run services:up: PostgreSQL, Redis and a single-node Ceph RGW (S3) on loopback, for
# development and tests. Installs what is missing from Debian's packages, is safe to run again
# (a second run only checks and prints), and prints the environment to use as export lines on
# stdout; progress goes to stderr:
#   eval "$(npm run -s services:up)"
#
# PostgreSQL gets pg_partman (Debian's postgresql-NN-partman), with which db:migrate partitions the
# outbox by day.
#
# Ceph state lives in $REPO/.services/ceph (memstore: the data is in the OSD's RAM and dies with it).
# $REPO/.services/started records which of postgres/redis/ceph this script started, so that
# services:down stops only those.
#
# Environment: RGW_PORT (7480), MON_PORT (6789), S3_BUCKET (koodrive-uploads),
# CEPH_MEMSTORE_BYTES (4 GiB), SERVICES_DIR (state directory, default $REPO/.services),
# CORS_ORIGINS (the browser origins whose pages may PUT parts to the bucket's presigned URLs and
# call the service; default the service's own local origins; printed for the service to use too).
#
# PGBOUNCER=1 also starts PgBouncer (Debian's package) in transaction mode on 127.0.0.1:PGBOUNCER_PORT
# (6432) in front of PostgreSQL, its state in $REPO/.services/pgbouncer, and prints DATABASE_URL and
# TEST_DATABASE_URL through it with DATABASE_POOLER=transaction, and DIRECT_DATABASE_URL and
# TEST_DIRECT_DATABASE_URL to PostgreSQL itself (for migrations; see the README's scaling section).
# PGBOUNCER_POOL_SIZE (20) is its server connections per database and user.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${SERVICES_DIR:-$REPO/.services}
CEPH="$STATE/ceph"
CONF="$CEPH/ceph.conf"
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-6789}
# memstore's size: an upper bound on the RAM the OSD takes for data (4 GiB)
MEMSTORE_BYTES=${CEPH_MEMSTORE_BYTES:-4294967296}
S3_ENDPOINT="http://127.0.0.1:$RGW_PORT"
S3_BUCKET=${S3_BUCKET:-koodrive-uploads}
# a page served by the service itself (http://127.0.0.1:3000) PUTs parts to RGW on another origin
CORS_ORIGINS=${CORS_ORIGINS-http://127.0.0.1:3000,http://localhost:3000}
ACCESS_KEY=koodrive-dev
SECRET_KEY=koodrive-dev-secret
S3_USER=koodrive
NODE="$REPO/node_modules/.bin/node"
PGBOUNCER=${PGBOUNCER:-}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-6432}
PGBOUNCER_POOL_SIZE=${PGBOUNCER_POOL_SIZE:-20}
PGB="$STATE/pgbouncer"

log() { echo "services:up: $*" >&2; }
die() { log "$*"; exit 1; }

mkdir -p "$STATE"
touch "$STATE/started"
# one up/down at a time per state directory (down.sh, called from here, knows it holds the lock)
if [ -z "${KOODRIVE_SERVICES_LOCKED:-}" ]; then
  exec 9>"$STATE/lock"
  flock 9
  export KOODRIVE_SERVICES_LOCKED=1
fi

record_started() { grep -qx "$1" "$STATE/started" || echo "$1" >> "$STATE/started"; }
forget_started() { sed -i "/^$1\$/d" "$STATE/started"; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

wait_for() { # description, seconds, command...
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$what did not come up within ${seconds}s"
      return 1
    fi
    sleep 0.25
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# An HTTP answer of any status on $1 (curl is not in a minimal Debian).
http_answers() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    IFS= read -r line <&3 && [[ $line == HTTP/1.* ]]' _ "$1" 2>/dev/null
}

# --- PostgreSQL ---------------------------------------------------------------------------
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

installed_postgres=
if ! command -v pg_ctlcluster >/dev/null && ! { command -v pg_isready >/dev/null && pg_ready; }; then
  apt_install postgresql
  installed_postgres=1
fi
if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then apt_install postgresql-client; fi
if ! pg_ready; then
  version=$(pg_version)
  [ -n "$version" ] || die "PostgreSQL is installed but has no cluster in /etc/postgresql"
  if pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1; then
    log "PostgreSQL $version is running but not ready yet; waiting"
  else
    log "starting PostgreSQL $version"
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null >"$STATE/postgres-start.log" 2>&1 9>&-; then
      cat "$STATE/postgres-start.log" >&2
      die "PostgreSQL did not start"
    fi
    record_started postgres
  fi
  wait_for PostgreSQL 60 pg_ready || exit 1
fi
if [ -n "$installed_postgres" ]; then
  # a fresh Debian cluster wants a password over TCP; the dev/CI contract is trust on loopback
  hba=$(psql -U postgres -tAc 'SHOW hba_file' 2>/dev/null || su postgres -c "psql -tAc 'SHOW hba_file'")
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    log "allowing trust authentication on loopback in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload >&2
  fi
fi
# pg_partman partitions the outbox by day (db:migrate, DATABASE_PARTITIONING=auto uses it when the
# server has it); Debian packages it per server version
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'")" != 1 ]; then
  apt_install "postgresql-$(psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SHOW server_version_num' | cut -c1-2)-partman"
fi
for db in koodrive koodrive_test; do
  if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >&2
  fi
done

# --- Redis --------------------------------------------------------------------------------
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG; }

if ! command -v redis-server >/dev/null && ! { command -v redis-cli >/dev/null && redis_ready; }; then
  apt_install redis-server
fi
if ! command -v redis-cli >/dev/null; then apt_install redis-tools; fi
if ! redis_ready; then
  log "starting Redis"
  if ! redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    </dev/null >"$STATE/redis-start.log" 2>&1 9>&-; then
    cat "$STATE/redis-start.log" >&2
    die "Redis did not start"
  fi
  record_started redis
  wait_for Redis 15 redis_ready || exit 1
fi

# --- Ceph RGW -----------------------------------------------------------------------------
if ! command -v radosgw >/dev/null || ! command -v radosgw-admin >/dev/null \
  || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  apt_install radosgw ceph-mon ceph-osd
fi

export CEPH_CONF="$CONF"
ceph_daemons=("mon.a ceph-mon" "osd.0 ceph-osd" "client.rgw.a radosgw")

# Process $1 is alive and named $2 (a killed daemon stays a zombie for a second or two).
proc_is() {
  local state
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 1
  state=$(awk '/^State:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# pid of the daemon $1 (mon.a, ...) from its pid file, if that process is alive and is that daemon
ceph_pid() {
  local name=$1 comm=$2 pid
  pid=$(cat "$CEPH/run/$name.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && proc_is "$pid" "$comm" && echo "$pid"
}
ceph_all_alive() {
  local entry
  for entry in "${ceph_daemons[@]}"; do
    # shellcheck disable=SC2086
    ceph_pid $entry >/dev/null || return 1
  done
}
# The OSD is full: memstore holds everything in RAM up to CEPH_MEMSTORE_BYTES, and once it is
# 95% used, every write through RGW hangs. A nearly full one only gets a warning.
osd_full() { # [ceph options, for a cluster that is not ours]
  local health hint=
  [ $# -gt 0 ] || hint=" (memstore of $MEMSTORE_BYTES bytes; CEPH_MEMSTORE_BYTES sets it)"
  health=$(timeout 10 ceph "$@" health 2>/dev/null) || return 1
  if [[ $health =~ [0-9]+\ full\ osd ]]; then
    log "the OSD is full$hint"
    return 0
  fi
  if [[ $health =~ [0-9]+\ nearfull\ osd ]]; then
    log "warning: the OSD is nearly full$hint"
  fi
  return 1
}
# the running cluster was set up for these ports and size
conf_matches() {
  grep -qxF "mon host = [v1:127.0.0.1:$MON_PORT]" "$CONF" 2>/dev/null \
    && grep -qxF "rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT" "$CONF" \
    && grep -qxF "memstore device bytes = $MEMSTORE_BYTES" "$CONF"
}
rgw_log_tail() {
  log "last lines of $CEPH/log/client.rgw.a.log:"
  tail -n 30 "$CEPH/log/client.rgw.a.log" >&2 2>/dev/null || true
}

# The S3 user, then the bucket. Fails when the cluster does not serve them (times out on a
# cluster whose OSD lost its data).
s3_user_and_bucket() {
  local out status=0
  out=$(timeout 20 radosgw-admin user info --uid="$S3_USER" 2>&1) || status=$?
  if [ "$status" -eq 124 ]; then
    log "radosgw-admin did not answer within 20s"
    return 1
  elif [ "$status" -ne 0 ]; then
    log "creating S3 user $S3_USER"
    if ! out=$(timeout 20 radosgw-admin user create --uid="$S3_USER" --display-name=KooDrive \
      --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" 2>&1); then
      echo "$out" | tail -n 5 >&2
      return 1
    fi
  fi
  # one more try after a pause: a busy RGW is no reason to throw the cluster away
  s3_bucket || { sleep 2 && s3_bucket; }
}
s3_bucket() {
  S3_ENDPOINT="$S3_ENDPOINT" S3_BUCKET="$S3_BUCKET" AWS_ACCESS_KEY_ID="$ACCESS_KEY" \
    AWS_SECRET_ACCESS_KEY="$SECRET_KEY" CORS_ORIGINS="$CORS_ORIGINS" timeout 60 "$NODE" "$REPO/tools/services/ensure-bucket.ts" >&2
}

# Ceph daemons fork: they must not keep our stdout (eval "$(...)" would wait forever) or the lock.
daemon() { "$@" </dev/null >>"$CEPH/log/daemons.out" 2>&1 9>&-; }

write_ceph_conf() {
  cat > "$CONF" <<CONF
# written by tools/services/up.sh; everything lives under $CEPH
[global]
fsid = $1
# The monitor speaks msgr v1 ([v1:...]). Given a plain address on a port other than 6789, Ceph
# makes it a v2-only monitor, and radosgw with auth none then fails to authenticate to it
# ("get_initial_auth_request returned -13") until it gives up.
mon host = [v1:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
# radosgw connects before it forks; fail in a minute, not five
client mount timeout = 60
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
# few placement groups: RGW's 7 pools at the default 32 would sit just under mon max pg per osd (250)
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
run dir = $CEPH/run
pid file = $CEPH/run/\$name.pid
admin socket = $CEPH/run/\$name.asok
log file = $CEPH/log/\$name.log
mon cluster log file = $CEPH/log/ceph.\$channel.log
crash dir = $CEPH/crash

[mon.a]
mon data = $CEPH/mon
# RGW's start creates 7 pools, one map change each; the default 1s between proposals made that ~9s
paxos propose interval = 0.05

[osd.0]
osd data = $CEPH/osd
osd objectstore = memstore
# an upper bound; memstore takes RAM only for what is stored
memstore device bytes = $MEMSTORE_BYTES
# memstore's limits, needed for RGW's object names
osd max object name len = 256
osd max object namespace len = 64
# up.sh puts osd.0 into the CRUSH map itself. The OSD's own start-up commands for that
# (update_crush_location, update_crush_device_class) sometimes reach the mon with fsid 0 and
# fail the start with "mon_cmd_maybe_osd_create fail: 'wrong fsid'".
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $CEPH/rgw
rgw dns name = localhost
# Tests write and delete a lot: give memstore's RAM back within a minute, not after 2 hours (the
# default), or a few test runs fill the OSD.
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw enable usage log = false
CONF
}

# A setup step, its output to setup.log; on failure, says which and shows the logs' tails.
step() {
  if ! "$@" >>"$CEPH/log/setup.log" 2>&1; then
    log "failed: $*"
    tail -n 20 "$CEPH/log/setup.log" "$CEPH/log/daemons.out" >&2 2>/dev/null || true
    return 1
  fi
}

# Runs in an `if`, where set -e does not apply: every step checks for itself.
start_ceph() {
  local fsid osd_uuid
  forget_started ceph
  rm -rf "$CEPH"
  mkdir -p "$CEPH"/{mon,osd,rgw,run,log,crash} || return 1
  log "starting Ceph (monitor on 127.0.0.1:$MON_PORT, memstore OSD, RGW on 127.0.0.1:$RGW_PORT)"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  write_ceph_conf "$fsid" || return 1
  record_started ceph
  step monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$CEPH/monmap" || return 1
  step ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH/monmap" || return 1
  step daemon ceph-mon -c "$CONF" -i a || return 1
  step wait_for "Ceph monitor" 30 timeout 5 ceph -s || return 1
  step timeout 30 ceph osd create "$osd_uuid" 0 || return 1
  step ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" || return 1
  step timeout 30 ceph osd crush add osd.0 1.0 root=default host=host0 || return 1
  step daemon ceph-osd -c "$CONF" -i 0 || return 1
  step daemon radosgw -c "$CONF" -n client.rgw.a || return 1
  local deadline=$((SECONDS + 90))
  until http_answers "$RGW_PORT"; do
    if [ -f "$CEPH/run/client.rgw.a.pid" ] && ! ceph_pid client.rgw.a radosgw >/dev/null; then
      log "radosgw exited"
      rgw_log_tail
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "Ceph RGW did not answer on $S3_ENDPOINT within 90s"
      rgw_log_tail
      return 1
    fi
    sleep 0.25
  done
}

if ceph_all_alive && conf_matches && http_answers "$RGW_PORT" && ! osd_full && s3_user_and_bucket; then
  log "Ceph RGW already running at $S3_ENDPOINT"
else
  if [ -f "$CEPH/run/mon.a.pid" ]; then
    log "Ceph from an earlier run is dead, broken or set up for other ports; starting afresh"
  fi
  # whatever is left of ours goes (daemons from the pid files or running on our ceph.conf)
  bash "$REPO/tools/services/down.sh" --ceph-only
  if port_in_use "$RGW_PORT" && port_in_use "$MON_PORT" && http_answers "$RGW_PORT"; then
    # Not ours: most likely another checkout's services:up. Use it if it serves our user and bucket.
    if ! s3_bucket; then
      ss -ltnp "( sport = :$RGW_PORT or sport = :$MON_PORT )" >&2 2>/dev/null || true
      die "ports $MON_PORT and $RGW_PORT are taken by something this script did not start that does not serve $S3_USER/$S3_BUCKET; stop it first (or set RGW_PORT and MON_PORT)"
    fi
    if osd_full -c /dev/null -m "127.0.0.1:$MON_PORT"; then
      die "that Ceph (on ports $MON_PORT and $RGW_PORT, not started here) cannot take writes; stop it (services:down where it was started) and run this again"
    fi
    log "using the Ceph RGW already running at $S3_ENDPOINT, started elsewhere (services:down here leaves it alone)"
  else
    for port in "$MON_PORT" "$RGW_PORT"; do
      if port_in_use "$port"; then
        ss -ltnp "( sport = :$port )" >&2 2>/dev/null || true
        die "port $port is taken by a process this script did not start; stop it first (or set RGW_PORT and MON_PORT)"
      fi
    done
    if ! start_ceph || ! s3_user_and_bucket; then
      bash "$REPO/tools/services/down.sh" --ceph-only || true
      die "Ceph did not start (logs in $CEPH/log)"
    fi
  fi
fi

# --- Test tooling -------------------------------------------------------------------------
# Debian's docker-compose (v1) checks docker-compose.yml in the tests (`config` needs no engine).
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose || die "could not install docker-compose"
fi
# Debian's Chromium, which playwright-core drives headless in test/e2e/web-upload.spec.ts (the
# browser upload page) and npm run measure:web; never a downloaded browser. CHROMIUM_PATH overrides.
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || die "could not install chromium"
fi
# The tests start PgBouncer and Redis Sentinel groups of their own (test/support/pgbouncer.ts,
# test/support/redis-sentinel.ts). Installing either must not leave Debian's own instance running
# (a pgbouncer on 6432 would take PGBOUNCER_PORT): policy-rc.d tells the packages not to start them.
no_autostart_install() {
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && added=1
  fi
  apt_install "$@" || { [ -z "$added" ] || rm -f "$policy"; return 1; }
  [ -z "$added" ] || rm -f "$policy"
}
if [ ! -x /usr/sbin/pgbouncer ] && ! command -v pgbouncer >/dev/null; then
  no_autostart_install pgbouncer || die "could not install pgbouncer"
fi
if ! command -v redis-sentinel >/dev/null; then
  no_autostart_install redis-sentinel || die "could not install redis-sentinel"
fi

# --- PgBouncer (PGBOUNCER=1) --------------------------------------------------------------
pgbouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
pgbouncer_pid() {
  local pid
  pid=$(cat "$PGB/pgbouncer.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && proc_is "$pid" pgbouncer && echo "$pid"
}
pgbouncer_ready() { psql "postgresql://postgres@127.0.0.1:$PGBOUNCER_PORT/koodrive" -tAc 'SELECT 1' 2>/dev/null | grep -qx 1; }

# The same settings as test/support/pgbouncer.ts (pgbouncerIni) gives the tests' own.
write_pgbouncer_ini() {
  cat > "$PGB/pgbouncer.ini" <<INI
; written by tools/services/up.sh (PGBOUNCER=1)
[databases]
; every database of the local server under its own name; each server connection gets the
; service's statement bound (DATABASE_STATEMENT_TIMEOUT_MS's default): with DATABASE_POOLER=transaction
; the service sends none itself
* = host=127.0.0.1 port=5432 connect_query='SET statement_timeout = 10000'
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
; TCP only: no socket in /var/run/postgresql beside the server's
unix_socket_dir =
; PostgreSQL trusts loopback here; PgBouncer still wants the user in auth_file
auth_type = trust
auth_file = $PGB/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = $PGBOUNCER_POOL_SIZE
max_client_conn = 500
; PgBouncer 1.18 refuses any other startup parameter; DATABASE_POOLER=transaction sends none
ignore_startup_parameters = extra_float_digits
; a client waiting for a server connection gets an error, not a wait of 120 s
query_wait_timeout = 30
server_connect_timeout = 5
logfile = $PGB/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
INI
  echo '"postgres" ""' > "$PGB/userlist.txt"
}

if [ -n "$PGBOUNCER" ]; then
  mkdir -p "$PGB"
  write_pgbouncer_ini
  if pid=$(pgbouncer_pid); then
    # the configuration may have changed (port aside): PgBouncer rereads it on SIGHUP
    kill -HUP "$pid"
    log "PgBouncer already running (pid $pid) on 127.0.0.1:$PGBOUNCER_PORT; configuration reloaded"
  else
    if port_in_use "$PGBOUNCER_PORT"; then
      ss -ltnp "( sport = :$PGBOUNCER_PORT )" >&2 2>/dev/null || true
      die "port $PGBOUNCER_PORT is taken by a process this script did not start; stop it first (or set PGBOUNCER_PORT)"
    fi
    log "starting PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT"
    # PgBouncer does not run as root: as postgres then, which must read and write its directory
    as_user=()
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres: "$PGB"
      as_user=(-u postgres)
    fi
    rm -f "$PGB/pgbouncer.pid"
    if ! "$pgbouncer_bin" -d "${as_user[@]}" "$PGB/pgbouncer.ini" </dev/null >"$PGB/start.log" 2>&1 9>&-; then
      cat "$PGB/start.log" >&2
      tail -n 20 "$PGB/pgbouncer.log" >&2 2>/dev/null || true
      die "PgBouncer did not start"
    fi
    record_started pgbouncer
  fi
  if ! wait_for PgBouncer 30 pgbouncer_ready; then
    tail -n 20 "$PGB/pgbouncer.log" >&2 2>/dev/null || true
    exit 1
  fi
fi
# kubectl renders deploy/ with its kustomize in the tests (`kubectl kustomize`, offline). Debian's
# is the kubernetes-client package; bookworm's (1.20) carries kustomize v2.0.3, too old for the
# kustomizations' `labels` and `patches` (v5, kubectl 1.27+): the test says so when that is the one.
if ! command -v kubectl >/dev/null 2>&1; then
  apt_install kubernetes-client || die "could not install kubernetes-client (kubectl)"
fi
kustomize_version=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"kustomizeVersion": *"\([^"]*\)".*/\1/p')
if [[ $kustomize_version != v5.* ]]; then
  log "warning: kubectl's kustomize is ${kustomize_version:-not v5 (or missing)}; test/deploy needs v5 (kubectl 1.27 or later)"
fi
# promtool checks and unit-tests the alerts (test/deploy/alerts.spec.ts); the tests that run a
# Prometheus start their own on a port of theirs, so the package's must not start.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  no_autostart_install prometheus || die "could not install prometheus (promtool)"
fi
# test/e2e/https-proxy.spec.ts puts a TLS-terminating nginx of its own (certificate made with
# openssl) in front of the service; the package's must not start (it would take port 80).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  no_autostart_install nginx || die "could not install nginx"
fi
if ! command -v openssl >/dev/null 2>&1; then apt_install openssl; fi

if [ -n "$PGBOUNCER" ]; then
  cat <<ENV
export DATABASE_URL=postgresql://postgres@127.0.0.1:$PGBOUNCER_PORT/koodrive
export TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGBOUNCER_PORT/koodrive_test
export DATABASE_POOLER=transaction
export DIRECT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive
export TEST_DIRECT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive_test
ENV
else
  cat <<ENV
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive
export TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive_test
ENV
fi
cat <<ENV
export REDIS_URL=redis://127.0.0.1:6379
export S3_ENDPOINT=$S3_ENDPOINT
export S3_BUCKET=$S3_BUCKET
export S3_FORCE_PATH_STYLE=true
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export CORS_ORIGINS=$CORS_ORIGINS
ENV
