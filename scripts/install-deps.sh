#!/usr/bin/env bash
# Installs every Debian package pricepipe needs to build, test and run. Idempotent: when all
# packages are present it only runs `dpkg-query` and returns within a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev rapidjson-dev libspdlog-dev libfmt-dev
  libboost-program-options-dev catch2
  libsystemd-dev libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  kcat python3 curl ca-certificates procps
  openjdk-17-jre-headless maven
)

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
