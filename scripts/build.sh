#!/usr/bin/env bash
# Configures and builds pricepipe with CMake and Ninja. Used by the README commands, CI, the
# fuzz script and the Dockerfile, so they all build the same way.
#   scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# BUILD_DIR defaults to build/ (binary at build/pricepipe). Environment: CMAKE_BUILD_TYPE
# (default RelWithDebInfo), CC/CXX (read at a build directory's first configure),
# PRICEPIPE_BUILD_TARGETS (default: all).
# Where ccache is installed (scripts/install-deps.sh puts it on hosts, not in the image), every
# compile goes through it, with its cache in $PRICEPIPE_CACHE/ccache (default
# ~/.cache/pricepipe) and paths taken relative to the checkout, so a fresh clone, another
# build directory of the same flags (build-deploy) or the next CI run compiles only what
# changed. PRICEPIPE_CCACHE=0 turns it off.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
launcher=()
if [ "${PRICEPIPE_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  cache_dir=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}/ccache
  # hash_dir off: debug info then names the directory of the first build of an object, the
  # price of hits across clones.
  ccache_cmd="env;CCACHE_DIR=$cache_dir;CCACHE_BASEDIR=$PWD;CCACHE_NOHASHDIR=1;CCACHE_MAXSIZE=4G;ccache"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER="$ccache_cmd" -DCMAKE_CXX_COMPILER_LAUNCHER="$ccache_cmd")
else
  launcher=(-UCMAKE_C_COMPILER_LAUNCHER -UCMAKE_CXX_COMPILER_LAUNCHER)
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  "${launcher[@]}" "$@" >/dev/null
read -r -a targets <<<"${PRICEPIPE_BUILD_TARGETS:-}"
cmake --build "$build_dir" ${targets[@]/#/--target } -- -j"$(nproc)"
