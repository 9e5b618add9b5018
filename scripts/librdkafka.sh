#!/usr/bin/env bash
# librdkafka for pricepipe: Debian testing's source package 2.14.2-1, pinned, built into .debs
# for the machine's own Debian release (12 or 13) and installed from them. Neither release has it
# (12: 2.0.2, 13: 2.8.0), and nothing newer is reachable here.
#   scripts/librdkafka.sh fetch     the source package's three files into the cache, once
#   scripts/librdkafka.sh build     the .debs for this release into the cache, once (about a
#                                   minute on 2 cores; installs the build dependencies)
#   scripts/librdkafka.sh install   build when needed, then install them unless installed
#   scripts/librdkafka.sh debs      print the directory that holds this release's .debs
#   scripts/librdkafka.sh version   print the pinned version
# The cache ($PRICEPIPE_CACHE, default ~/.cache/pricepipe) keeps librdkafka-VERSION/source (the
# .dsc and its two tarballs: the mirror drops them once testing moves on) and
# librdkafka-VERSION/CODENAME (the built .debs, which scripts/docker-test.sh installs into its
# Debian 12 systemd container too; scripts/docker-images.sh builds the Debian 13 ones inside an
# image from the cached source). An existing .deb is never built again.
# The source comes through throwaway apt lists, so the system's sources stay as they are and
# nothing else is upgraded. The mirror is a frozen snapshot whose testing Release has expired,
# so that one download skips the Valid-Until check (the files are still checked against the
# signed Release's hashes).
# Changes to Debian's packaging, so that it builds with Debian 12's and 13's build dependencies:
# 2.14.2-1 builds against system cJSON and nanopb and regenerates the OpenTelemetry C files
# with opentelemetry-proto (not in Debian 12). Upstream's tarball vendors all three, so the
# build uses those: the four Build-Depends go, the external-library switches become --disable,
# the regeneration step and the patch that points the includes at its output go. The source is
# unpacked with --skip-patches, since dpkg-source would otherwise apply that patch at unpacking.
# Environment: PRICEPIPE_DEBIAN_MIRROR (default http://deb.debian.org/debian), PRICEPIPE_CACHE.
set -euo pipefail

version=2.14.2-1
packages=(librdkafka1 librdkafka++1 librdkafka-dev)
build_deps=(
  build-essential dpkg-dev debhelper pkgconf libcurl4-openssl-dev liblz4-dev libsasl2-dev libssl-dev
  libzstd-dev python3 rapidjson-dev zlib1g-dev
)
unwanted_build_deps=(libcjson-dev libnanopb-dev nanopb opentelemetry-proto)
mirror=${PRICEPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}/librdkafka-$version
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
debs=$cache/$codename
source_dir=$cache/source
dsc=$source_dir/librdkafka_$version.dsc
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

msg() { echo "librdkafka.sh: $*" >&2; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
deb_of() { compgen -G "$debs/${1}_${version}_*.deb" | head -n 1 || true; }

install_build_deps() {
  local p missing=()
  for p in "${build_deps[@]}"; do installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  msg "installing the build dependencies ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

fetch() {
  [ -f "$dsc" ] && return 0
  local work
  work=$(mktemp -d)
  chmod 755 "$work"  # apt downloads as user _apt
  mkdir -p "$work/lists/partial"
  echo "deb-src $mirror forky main" >"$work/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists")
  msg "downloading the source package librdkafka $version (Debian testing) from $mirror"
  (
    cd "$work"
    apt-get -qq "${apt_opts[@]}" -o Acquire::Check-Valid-Until=false update
    apt-get -qq "${apt_opts[@]}" source --download-only "librdkafka=$version" >apt.log 2>&1 ||
      { cat apt.log >&2; msg "the source package librdkafka $version is not on $mirror"; exit 1; }
  )
  mkdir -p "$source_dir"
  cp "$work"/librdkafka_* "$source_dir/"
  rm -rf "$work"
}

# Debian's packaging without the external cJSON, nanopb and OpenTelemetry (see the header).
use_vendored_libraries() {
  local d
  for d in "${unwanted_build_deps[@]}"; do sed -i "/^ $d,\$/d" debian/control; done
  sed -i '/^Use-nanopb-generated-header-paths-for-opentelemetry.patch$/d' debian/patches/series
  sed -i 's/--enable-cjson-ext/--disable-cjson-ext/; s/--enable-nanopb-ext/--disable-nanopb-ext/' debian/rules
  awk '/^(execute_before_dh_auto_build|execute_after_dh_auto_clean):/ {skip = 1; next}
       skip && /^$/ {skip = 0}
       !skip' debian/rules >debian/rules.new
  mv debian/rules.new debian/rules
  chmod 755 debian/rules
  for d in "${unwanted_build_deps[@]}"; do
    if grep -q "^ $d,\$" debian/control; then msg "debian/control still needs $d"; exit 1; fi
  done
  for d in nanopb_generator --enable-cjson-ext --enable-nanopb-ext; do
    if grep -q -- "$d" debian/rules; then msg "debian/rules still has $d"; exit 1; fi
  done
}

build() {
  local p missing=no
  for p in "${packages[@]}"; do [ -n "$(deb_of "$p")" ] || missing=yes; done
  [ "$missing" = yes ] || return 0
  fetch
  install_build_deps
  local work t0=$SECONDS
  work=$(mktemp -d)
  msg "building librdkafka $version for Debian $codename (about a minute)"
  dpkg-source -x --skip-patches "$dsc" "$work/src" >/dev/null 2>&1 ||
    { msg "dpkg-source -x $dsc failed"; exit 1; }
  (
    cd "$work/src"
    use_vendored_libraries
    DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1 ||
      { tail -n 40 "$work/build.log" >&2; msg "dpkg-buildpackage failed"; exit 1; }
  )
  mkdir -p "$debs"
  for p in "${packages[@]}"; do cp "$work/${p}_${version}_"*.deb "$debs/"; done
  rm -rf "$work"
  msg "built librdkafka $version in $((SECONDS - t0)) s: $debs"
}

current() {
  local p
  for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" = "install ok installed $version" ] || return 1
  done
}

install() {
  current && return 0
  build
  local p files=()
  for p in "${packages[@]}"; do files+=("$(deb_of "$p")"); done
  msg "installing librdkafka $version from $debs"
  $sudo apt-get install -y -qq --no-install-recommends --allow-downgrades "${files[@]}" >&2
}

case "${1:-}" in
  fetch) fetch ;;
  build) build ;;
  install) install ;;
  debs) echo "$debs" ;;
  version) echo "$version" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64 ;;
esac
