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
# Docker (and an autoheal) acts on the container's health: liveness, which a restart cures,
# not readiness, which a broker outage fails.
for file in Dockerfile docker-compose.yml docker-compose.cluster.yml; do
  grep -q '"--health-check=live"\]' "$file" || fail "$file: the pricepipe health check is not --health-check=live"
  ! grep -q -- '--health-check=ready' "$file" || fail "$file: a health check follows readiness"
done

# The install layout for both prefixes: /usr (config in /etc/pricepipe, as the README's
# systemd recipe and the Dockerfile use it) and /usr/local (config in /usr/local/etc). The
# binary does not depend on the prefix, so the other prefix is a fresh configure with the built
# binary copied in, rather than a second build.
dest_of() { echo "$tmp/dest${1//\//_}"; }  # a DESTDIR per prefix
check_install() {  # PREFIX BUILD_DIR
  local prefix=$1 build=$2 root sysconf unit
  root=$(dest_of "$prefix")
  sysconf=$([ "$prefix" = /usr ] && echo /etc || echo "$prefix/etc")
  DESTDIR="$root" cmake --install "$build" >/dev/null
  for f in "$prefix/bin/pricepipe" "$sysconf/pricepipe/supervisor.conf" \
           "$prefix/lib/systemd/system/pricepipe.service" "$prefix/share/doc/pricepipe/README.md"; do
    [ -f "$root$f" ] || fail "cmake --install (prefix $prefix) did not install $f"
  done
  unit="$root$prefix/lib/systemd/system/pricepipe.service"
  grep -q "^ExecStart=$prefix/bin/pricepipe --config $sysconf/pricepipe/supervisor.conf --consumer.instance_id=%H --consumer.group_protocol=consumer$" "$unit" ||
    fail "the unit installed with prefix $prefix does not start $prefix/bin/pricepipe with $sysconf/pricepipe/supervisor.conf"
  "$root$prefix/bin/pricepipe" --config "$root$sysconf/pricepipe/supervisor.conf" --check-config >/dev/null ||
    fail "the installed binary rejects the installed config"
  echo "check-deploy: cmake --install (DESTDIR, prefix $prefix) puts the binary, $sysconf/pricepipe/supervisor.conf, the unit and README in place" >&2
}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")
check_install "$prefix" "$build_dir"
other=$([ "$prefix" = /usr ] && echo /usr/local || echo /usr)
cmake -S . -B "$tmp/build-other" -G Ninja -DCMAKE_INSTALL_PREFIX="$other" -DPRICEPIPE_BUILD_TESTS=OFF >/dev/null
cp "$build_dir/pricepipe" "$tmp/build-other/pricepipe"
check_install "$other" "$tmp/build-other"
root=$(dest_of "$prefix")$prefix
unit="$root/lib/systemd/system/pricepipe.service"

# The compose files name the official broker image at the Kafka release the local brokers
# (scripts/kafka.sh) and the Docker test's stand-in run.
kafka_tag=$(bash scripts/docker-images.sh kafka-tag)
for file in docker-compose.yml docker-compose.cluster.yml; do
  tags=$(sed -n 's/^ *image: *\(apache\/kafka:.*\)$/\1/p' "$file" | sort -u)
  [ "$tags" = "$kafka_tag" ] || fail "$file names ${tags:-no apache/kafka image}, scripts/kafka.sh runs $kafka_tag"
done
echo "check-deploy: the compose files and scripts/kafka.sh agree on $kafka_tag" >&2
# Their brokers are Kafka 4.x, so their instances use the KIP-848 group protocol.
for file in docker-compose.yml docker-compose.cluster.yml; do
  grep -qF '"--consumer.group_protocol=consumer"' "$file" || fail "$file does not run pricepipe with --consumer.group_protocol=consumer"
done

# The Dockerfile installs the librdkafka that scripts/librdkafka.sh pins for the host.
librdkafka_tag=$(bash scripts/docker-images.sh librdkafka-tag)
tag=$(sed -n 's/^ARG LIBRDKAFKA_IMAGE=\(.*\)$/\1/p' Dockerfile)
[ "$tag" = "$librdkafka_tag" ] || fail "the Dockerfile builds on ${tag:-no LIBRDKAFKA_IMAGE}, scripts/librdkafka.sh pins $librdkafka_tag"
echo "check-deploy: the Dockerfile and scripts/librdkafka.sh agree on $librdkafka_tag" >&2

# systemd-analyze checks that ExecStart exists, so point it at the installed copy.
sed "s#^ExecStart=$prefix/bin/pricepipe#ExecStart=$root/bin/pricepipe#" "$unit" > "$tmp/pricepipe.service"
systemd-analyze verify "$tmp/pricepipe.service" || fail "systemd-analyze verify failed"
for directive in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure WatchdogSec= \
                 TimeoutStopSec= DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict; do
  grep -qF "$directive" "$unit" || fail "the unit lacks $directive"
done
echo "check-deploy: systemd-analyze verify passes" >&2
echo "deploy checks passed"
