#!/usr/bin/env bash
# Prints, on one line, the Debian packages that hold the shared libraries a binary loads: what a
# machine or image needs installed to run it (the Dockerfile's runtime stage, the systemd
# container of scripts/docker-test.sh).
#   scripts/runtime-packages.sh BINARY [DEB_DIR]
# With DEB_DIR, a package installed here from a .deb in DEB_DIR at the installed version
# (librdkafka, scripts/librdkafka.sh) is printed as that file's path instead of its name, so
# that apt installs the same build and never the release's own older package.
set -euo pipefail
binary=${1:?usage: $0 BINARY [DEB_DIR]}
deb_dir=${2:-}
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
for lib in $libs; do
  # With merged /usr, ldd may name /lib/... where dpkg recorded /usr/lib/... or the other way.
  owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null) || {
    echo "runtime-packages.sh: no Debian package holds $lib" >&2
    exit 1
  }
  echo "${owner%%:*}"
done | sort -u | while read -r package; do
  deb=""
  if [ -n "$deb_dir" ]; then
    deb=$(compgen -G "$deb_dir/${package}_$(dpkg-query -W -f='${Version}' "$package")_*.deb" | head -n 1 || true)
  fi
  echo "${deb:-$package}"
done | paste -sd' '
