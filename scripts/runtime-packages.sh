#!/usr/bin/env bash
# Prints, on one line, the Debian packages that hold the shared libraries a binary loads: what a
# machine or image needs installed to run it (the Dockerfile's runtime stage, the systemd
# container of scripts/docker-test.sh).
#   scripts/runtime-packages.sh BINARY
set -euo pipefail
binary=${1:?usage: $0 BINARY}
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
for lib in $libs; do
  # With merged /usr, ldd may name /lib/... where dpkg recorded /usr/lib/... or the other way.
  owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null) || {
    echo "runtime-packages.sh: no Debian package holds $lib" >&2
    exit 1
  }
  echo "${owner%%:*}"
done | sort -u | paste -sd' '
