#!/usr/bin/env bash
# Configures and builds pricepipe with CMake and Ninja. Used by the README commands, CI and
# the Dockerfile, so they all build the same way.
#   scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# BUILD_DIR defaults to build/ (binary at build/pricepipe).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build_dir" -- -j"$(nproc)"
