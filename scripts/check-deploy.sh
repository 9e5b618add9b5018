#!/usr/bin/env bash
# Static checks of the deployment files, run by the test suite (CTest label `deploy`). No
# Docker engine is needed: the compose files are validated by docker-compose itself, the
# systemd unit by systemd-analyze, and `cmake --install` into a scratch DESTDIR is checked for
# the files a package would ship.
#   scripts/check-deploy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(cd "${1:-build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-deploy: $*" >&2; exit 1; }

for file in docker-compose.yml docker-compose.cluster.yml; do
  docker-compose -f "$file" config -q || fail "$file does not validate"
  echo "check-deploy: $file validates" >&2
done
# The image and the compose files must agree on what they run.
grep -q 'bash scripts/install-deps.sh build' Dockerfile || fail "Dockerfile does not use install-deps.sh"
grep -q 'bash scripts/build.sh build' Dockerfile || fail "Dockerfile does not use build.sh"

DESTDIR="$tmp/root" cmake --install "$build_dir" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")
root="$tmp/root$prefix"
sysconf=$([ "$prefix" = /usr ] && echo "$tmp/root/etc" || echo "$root/etc")
for f in "$root/bin/pricepipe" "$sysconf/pricepipe/supervisor.conf" \
         "$root/lib/systemd/system/pricepipe.service" "$root/share/doc/pricepipe/README.md"; do
  [ -f "$f" ] || fail "cmake --install did not install ${f#"$tmp/root"}"
done
unit="$root/lib/systemd/system/pricepipe.service"
grep -q "^ExecStart=$prefix/bin/pricepipe --config ${sysconf#"$tmp/root"}/pricepipe/supervisor.conf$" "$unit" ||
  fail "the installed unit does not start the installed binary with the installed config"
"$root/bin/pricepipe" --config "$sysconf/pricepipe/supervisor.conf" --check-config >/dev/null ||
  fail "the installed binary rejects the installed config"
echo "check-deploy: cmake --install (DESTDIR, prefix $prefix) installs binary, config, unit, README" >&2

# systemd-analyze checks that ExecStart exists, so point it at the installed copy.
sed "s#^ExecStart=$prefix/bin/pricepipe#ExecStart=$root/bin/pricepipe#" "$unit" > "$tmp/pricepipe.service"
systemd-analyze verify "$tmp/pricepipe.service" || fail "systemd-analyze verify failed"
for directive in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure WatchdogSec= \
                 TimeoutStopSec= DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict; do
  grep -qF "$directive" "$unit" || fail "the unit lacks $directive"
done
echo "check-deploy: systemd-analyze verify passes" >&2
echo "deploy checks passed"
