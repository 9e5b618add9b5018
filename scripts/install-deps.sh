#!/usr/bin/env bash
# Installs the Debian packages pricepipe needs. Idempotent: when all are present it only asks
# dpkg and returns within a second.
#   scripts/install-deps.sh          everything: build, tests, benchmarks, deployment checks
#   scripts/install-deps.sh build    only what building needs (the Dockerfile's build stage)
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev rapidjson-dev libspdlog-dev libfmt-dev
  libboost-program-options-dev catch2
  libsystemd-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
)
test_packages=(
  kcat python3 python3-venv curl ca-certificates openssl procps bc time
  openjdk-17-jre-headless maven
  docker.io docker-compose debootstrap systemd  # scripts/docker-test.sh, scripts/check-deploy.sh
  clang libclang-rt-14-dev  # scripts/fuzz.sh; libFuzzer is in the latter, a mere Recommends
)

case "${1:-all}" in
  build) packages=("${build_packages[@]}") ;;
  all) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 [build|all]" >&2; exit 64 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
