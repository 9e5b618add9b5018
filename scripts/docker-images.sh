#!/usr/bin/env bash
# Makes, when missing, the images that pricepipe's compose files and Docker test need but that
# no registry here can serve. Each is cached by its tag in the Docker engine and only made when
# that tag is missing (--force makes them again). Needs a running engine
# (scripts/docker-engine.sh start) and, for the bases, debootstrap (scripts/install-deps.sh).
#   scripts/docker-images.sh base SUITE...   debian:12-slim (bookworm), debian:13-slim (trixie):
#                                            a debootstrap minbase tree imported as that tag,
#                                            standing in for the official slim images
#   scripts/docker-images.sh kafka           apache/kafka:VERSION (VERSION = scripts/kafka.sh's),
#                                            a stand-in for the official image built by
#                                            test/docker/kafka-image/ from the same Maven Central jars
#   scripts/docker-images.sh kafka-tag       print apache/kafka:VERSION
#   scripts/docker-images.sh librdkafka      pricepipe-librdkafka:VERSION (VERSION =
#                                            scripts/librdkafka.sh's): that librdkafka's Debian 13
#                                            .debs, which the project Dockerfile installs, built by
#                                            deploy/librdkafka-image/ from the source package in
#                                            the host's cache (fetched once)
#   scripts/docker-images.sh librdkafka-tag  print pricepipe-librdkafka:VERSION
#   scripts/docker-images.sh all             both bases (the image is on 13, the systemd test on
#                                            12), kafka, then librdkafka
# Environment: PRICEPIPE_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
mirror=${PRICEPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
force=no
msg() { echo "docker-images.sh: $*" >&2; }
have_image() { [ "$force" = no ] && docker image inspect "$1" >/dev/null 2>&1; }

kafka_version() { sed -n 's/^KAFKA_VERSION=\${PRICEPIPE_KAFKA_VERSION:-\([^}]*\)}.*/\1/p' scripts/kafka.sh; }

base_tag() {
  case "$1" in
    bookworm) echo debian:12-slim ;;
    trixie) echo debian:13-slim ;;
    *) msg "unknown suite $1 (bookworm or trixie)"; exit 64 ;;
  esac
}

make_base() {
  local suite=$1 tag dir t0=$SECONDS
  tag=$(base_tag "$suite")
  if have_image "$tag"; then msg "$tag present"; return 0; fi
  command -v debootstrap >/dev/null || { msg "debootstrap not found (scripts/install-deps.sh)"; exit 1; }
  dir=$(mktemp -d)
  msg "debootstrap --variant=minbase $suite (about 30 s) for $tag"
  if ! debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir" "$dir.log"
    msg "debootstrap $suite failed"
    exit 1
  fi
  # Like the official slim images: no package lists or caches in the layer.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
  tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$dir" "$dir.log"
  msg "made $tag in $((SECONDS - t0)) s"
}

make_kafka() {
  local version tag ctx libs
  version=$(kafka_version)
  [ -n "$version" ] || { msg "cannot read the Kafka version from scripts/kafka.sh"; exit 1; }
  tag=apache/kafka:$version
  if have_image "$tag"; then msg "$tag present"; return 0; fi
  make_base bookworm
  bash scripts/kafka.sh fetch
  libs=$(bash scripts/kafka.sh classpath | tr ':' '\n' | sed -n '1s#/[^/]*$##p')
  ctx=$(mktemp -d)
  cp -r test/docker/kafka-image/. "$ctx/"
  cp -r "$libs" "$ctx/libs"
  msg "building the stand-in $tag from test/docker/kafka-image"
  docker build -q -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; msg "building $tag failed"; exit 1; }
  rm -rf "$ctx"
  msg "made $tag"
}

librdkafka_tag() { echo "pricepipe-librdkafka:$(bash scripts/librdkafka.sh version)"; }

make_librdkafka() {
  local tag ctx cache
  tag=$(librdkafka_tag)
  if have_image "$tag"; then msg "$tag present"; return 0; fi
  make_base trixie
  bash scripts/librdkafka.sh fetch
  cache=$(dirname "$(bash scripts/librdkafka.sh debs)")
  ctx=$(mktemp -d)
  cp -r deploy/librdkafka-image/. "$ctx/"
  cp scripts/librdkafka.sh "$ctx/"
  cp -r "$cache/source" "$ctx/source"
  msg "building $tag: librdkafka for Debian 13 (about a minute)"
  docker build -q -t "$tag" "$ctx" >/dev/null || { rm -rf "$ctx"; msg "building $tag failed"; exit 1; }
  rm -rf "$ctx"
  msg "made $tag"
}

args=()
for a in "$@"; do
  if [ "$a" = --force ]; then force=yes; else args+=("$a"); fi
done
set -- "${args[@]}"
case "${1:-}" in
  base) shift; [ $# -gt 0 ] || { msg "base needs a suite"; exit 64; }; for s in "$@"; do make_base "$s"; done ;;
  kafka) make_kafka ;;
  kafka-tag) echo "apache/kafka:$(kafka_version)" ;;
  librdkafka) make_librdkafka ;;
  librdkafka-tag) librdkafka_tag ;;
  all) make_base bookworm; make_base trixie; make_kafka; make_librdkafka ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64 ;;
esac
