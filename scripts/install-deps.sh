#!/usr/bin/env bash
# Installs the Debian packages pricepipe needs. Idempotent: when all are present it only asks
# dpkg and returns within a second.
#   scripts/install-deps.sh          everything: build, tests, benchmarks, deployment checks
#   scripts/install-deps.sh build    only what building needs (the Dockerfile's build stage)
# librdkafka is Debian testing's 2.14.2-1 on Debian 12 and 13 alike (CMakeLists.txt says why):
# scripts/librdkafka.sh builds it once per release (about a minute), keeps the source and the
# .debs in $PRICEPIPE_CACHE (default ~/.cache/pricepipe) and installs them, so kcat runs on the
# same library. Nothing else comes from outside the system's own sources.
set -euo pipefail

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
  prometheus python3-yaml  # scripts/check-prometheus-rules.sh: promtool (see below), PyYAML
)
# scripts/check-kubernetes.sh fetches the Prometheus Operator's CRDs with `go mod download`: any
# go will do, Debian's when the machine has none of its own.
if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then test_packages+=(golang-go); fi

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
  # Only promtool is wanted of Debian's prometheus; the package also enables and starts a
  # Prometheus server (port 9090) where systemd runs (not where systemd is not PID 1 or a
  # policy-rc.d forbids starting services, as on CI's machines): stop one it just started.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus.service >&2 || true
  fi
}

install_missing "${packages[@]}"
bash "$(dirname "$0")/librdkafka.sh" install
