#!/usr/bin/env bash
# Installs the Debian packages pricepipe needs. Idempotent: when all are present it only asks
# dpkg and returns within a second.
#   scripts/install-deps.sh          everything: build, tests, benchmarks, deployment checks
#   scripts/install-deps.sh build    only what building needs (the Dockerfile's build stage)
# librdkafka must be 2.6.1 or newer (CMakeLists.txt). Debian 13 ships 2.8.0. On Debian 12, whose
# own is 2.0.2, this builds Debian 13's source package librdkafka 2.8.0-1 once (about a minute),
# keeps the .debs in $PRICEPIPE_CACHE/librdkafka-2.8.0-1 (default ~/.cache/pricepipe) and installs
# them, so kcat runs on the same library. Only that one source package comes from trixie, through
# throwaway apt lists: the system's sources stay as they are and nothing else is upgraded.
set -euo pipefail

rdkafka_version=2.8.0-1
rdkafka_packages=(librdkafka1 librdkafka++1 librdkafka-dev)
rdkafka_build_deps=(
  dpkg-dev debhelper pkgconf libcurl4-openssl-dev liblz4-dev libsasl2-dev libssl-dev
  libzstd-dev python3 rapidjson-dev zlib1g-dev
)
cache_dir=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

build_packages=(
  build-essential cmake ninja-build pkg-config git
  rapidjson-dev libspdlog-dev libfmt-dev
  libboost-program-options-dev catch2
  libsystemd-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
)
test_packages=(
  kcat python3 python3-venv curl ca-certificates openssl procps bc time
  openjdk-17-jre-headless maven
  docker.io docker-compose debootstrap systemd  # scripts/docker-test.sh, scripts/check-deploy.sh
  clang libclang-rt-14-dev  # scripts/fuzz.sh; libFuzzer is in the latter, a mere Recommends
  ccache  # scripts/build.sh: CI's builds reuse the objects of earlier runs
  iptables  # scripts/net-fault.sh: packet loss and blackholes on the test broker's port
)

case "${1:-all}" in
  build) packages=("${build_packages[@]}") ;;
  all) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 [build|all]" >&2; exit 64 ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Installs whichever of the given packages are missing from the system's own sources.
install_missing() {
  local p missing=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "install-deps: installing ${missing[*]}" >&2
  if [ -z "${apt_updated:-}" ]; then $sudo apt-get update -qq; apt_updated=yes; fi
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

rdkafka_current() {
  local p
  for p in "${rdkafka_packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" = "install ok installed $rdkafka_version" ] || return 1
  done
}

# Builds trixie's librdkafka source package into $1 (the .debs land there).
build_rdkafka_debs() {
  local out=$1 work lists sources
  install_missing "${rdkafka_build_deps[@]}"
  work=$(mktemp -d)
  chmod 755 "$work"  # apt downloads as user _apt
  lists=$work/lists
  sources=$work/sources.list
  mkdir -p "$lists/partial"
  echo "deb-src http://deb.debian.org/debian trixie main" >"$sources"
  local apt_opts=(-o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$lists")
  echo "install-deps: building librdkafka $rdkafka_version from Debian 13's source package (about a minute)" >&2
  (
    cd "$work"
    apt-get -qq "${apt_opts[@]}" update
    apt-get -qq "${apt_opts[@]}" source "librdkafka=$rdkafka_version" >/dev/null
    cd "librdkafka-${rdkafka_version%-*}"
    DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1 ||
      { tail -n 40 "$work/build.log" >&2; exit 1; }
  )
  mkdir -p "$out"
  for p in "${rdkafka_packages[@]}"; do cp "$work/${p}_${rdkafka_version}_"*.deb "$out/"; done
  rm -rf "$work"
}

ensure_rdkafka() {
  if [ "$codename" != bookworm ]; then install_missing librdkafka-dev; return; fi
  local debs=$cache_dir/librdkafka-$rdkafka_version p files=()
  cached_deb() { compgen -G "$debs/${1}_${rdkafka_version}_*.deb" | head -n 1 || true; }
  # The .debs stay in the cache once installed too (made again if the cache was emptied):
  # scripts/docker-test.sh installs them into its Debian 12 systemd container.
  for p in "${rdkafka_packages[@]}"; do
    [ -n "$(cached_deb "$p")" ] || { build_rdkafka_debs "$debs"; break; }
  done
  rdkafka_current && return 0
  for p in "${rdkafka_packages[@]}"; do files+=("$(cached_deb "$p")"); done
  echo "install-deps: installing librdkafka $rdkafka_version from $debs" >&2
  $sudo apt-get install -y -qq --no-install-recommends "${files[@]}" >&2
}

install_missing "${packages[@]}"
ensure_rdkafka
