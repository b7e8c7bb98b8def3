#!/usr/bin/env bash
# npm run services:up: PostgreSQL, Redis and a single-node Ceph RGW (S3) on loopback, for
# development and tests. Installs what is missing from Debian's packages, is safe to run twice,
# and prints the environment to use as export lines on stdout (progress goes to stderr):
#   eval "$(npm run -s services:up)"
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
# machine-wide, like the ports: every checkout shares one set of services
STATE=${SERVICES_DIR:-/var/tmp/koodrive-services}
CEPH="$STATE/ceph"
CONF="$CEPH/ceph.conf"
RGW_PORT=${RGW_PORT:-7480}
S3_ENDPOINT="http://127.0.0.1:$RGW_PORT"
S3_BUCKET=${S3_BUCKET:-koodrive-uploads}
ACCESS_KEY=koodrive-dev
SECRET_KEY=koodrive-dev-secret
mkdir -p "$STATE"
touch "$STATE/started"

log() { echo "services:up: $*" >&2; }
started() { grep -qx "$1" "$STATE/started" || echo "$1" >> "$STATE/started"; }

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
  for _ in $(seq "$((seconds * 4))"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "$what did not come up within ${seconds}s"
  return 1
}

# --- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql; fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  started postgres
  wait_for PostgreSQL 30 pg_isready -q -h 127.0.0.1 -p 5432
fi
for db in koodrive koodrive_test; do
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    log "creating database $db"
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >&2
  fi
done

# --- Redis --------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  started redis
  wait_for Redis 15 redis-cli -h 127.0.0.1 -p 6379 ping
fi

# --- Ceph RGW -----------------------------------------------------------------------------
rgw_answers() { curl -fsS -o /dev/null "$S3_ENDPOINT"; }
ceph_pids_alive() {
  for name in mon.a osd.0 client.rgw.a; do
    [ -f "$CEPH/run/$name.pid" ] && kill -0 "$(cat "$CEPH/run/$name.pid")" 2>/dev/null || return 1
  done
}

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  apt_install radosgw ceph-mon ceph-osd
fi
if ! command -v curl >/dev/null; then apt_install curl; fi

if ceph_pids_alive && rgw_answers; then
  log "Ceph RGW already running at $S3_ENDPOINT"
else
  # memstore keeps nothing across a restart: a half-dead cluster is rebuilt from scratch
  bash "$REPO/tools/services/down.sh" --ceph-only >&2 || true
  for port in 6789 "$RGW_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "port $port is taken by a process this script did not start (another Ceph?); stop it first"
      exit 1
    fi
  done
  rm -rf "$CEPH"
  mkdir -p "$CEPH"/{mon,osd,rgw,run,log}
  log "starting Ceph (monitor, memstore OSD, RGW on 127.0.0.1:$RGW_PORT)"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CONF" <<CONF
[global]
fsid = $fsid
mon host = 127.0.0.1:6789
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
ms bind ipv6 = false
run dir = $CEPH/run
pid file = $CEPH/run/\$name.pid
log file = $CEPH/log/\$name.log
admin socket = $CEPH/run/\$name.asok

[mon.a]
mon data = $CEPH/mon
public addr = 127.0.0.1

[osd.0]
osd data = $CEPH/osd
osd objectstore = memstore
memstore device bytes = 4294967296
osd max object name len = 256
osd max object namespace len = 64

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $CEPH/rgw
rgw dns name = localhost
CONF
  export CEPH_CONF="$CONF"
  monmaptool --create --add a 127.0.0.1:6789 --fsid "$fsid" "$CEPH/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$CEPH/monmap" >&2
  ceph-mon -i a
  wait_for "Ceph monitor" 30 timeout 5 ceph -s
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  ceph osd create "$osd_uuid" 0 >/dev/null
  ceph-osd -i 0 --mkfs --osd-uuid "$osd_uuid" 2>/dev/null >&2
  ceph osd crush add-bucket host0 host >/dev/null 2>&1
  ceph osd crush move host0 root=default >/dev/null 2>&1
  ceph osd crush add osd.0 1.0 host=host0 >/dev/null 2>&1
  ceph-osd -i 0 2>/dev/null
  radosgw -n client.rgw.a
  if ! wait_for "Ceph RGW" 90 rgw_answers; then
    tail -n 30 "$CEPH/log/client.rgw.a.log" >&2 || true
    exit 1
  fi
  started ceph
fi

export CEPH_CONF="$CONF"
if ! radosgw-admin user info --uid=koodrive >/dev/null 2>&1; then
  log "creating S3 user koodrive"
  radosgw-admin user create --uid=koodrive --display-name=KooDrive --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
fi

export S3_ENDPOINT S3_BUCKET AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY"
"$REPO/node_modules/.bin/node" "$REPO/tools/services/ensure-bucket.ts" >&2

cat <<ENV
export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive
export TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/koodrive_test
export REDIS_URL=redis://127.0.0.1:6379
export S3_ENDPOINT=$S3_ENDPOINT
export S3_BUCKET=$S3_BUCKET
export S3_FORCE_PATH_STYLE=true
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
ENV
