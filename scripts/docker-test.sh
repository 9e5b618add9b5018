#!/usr/bin/env bash
# The deployment, run for real (CTest label `docker`, normal build only; scripts/test.sh):
#   images   (always first; cached by the engine) the project image from the committed
#            Dockerfile (Debian 13), on local base images and a local apache/kafka stand-in
#            (scripts/docker-images.sh: no registry here), and the kcat image
#   debian13 the unit and embedded tests built and run on Debian 13's packages, in the image's
#            build stage (its build directory reconfigured with the tests on, so only they compile)
#   compose  docker-compose.yml as committed: prices on stdout and a healthy HEALTHCHECK, a
#            reload after `sed -i`, a graceful `stop`, `down` + `up` resuming from the committed
#            offsets with the broker's data kept, and in the end every event in the topic
#            printed exactly once (read by kcat inside the compose network)
#   cluster  docker-compose.cluster.yml: a broker killed mid-stream loses nothing delivered;
#            `--scale pricepipe=2` shares the partitions and together they print the topic
#   systemd  a Debian 12 container booting systemd; pricepipe installed as the README says
#            (prefix /usr, cmake --install), on the host's loopback broker: READY=1, reload,
#            watchdog restart of a frozen process, Restart=on-failure after exit 70, clean stop
# It starts a Docker engine if none answers and a local broker if none runs (for systemd), and
# stops only what it started (the broker through scripts/kafka.sh --owner, with a tag of this run's
# own).
#   scripts/docker-test.sh [images|debian13|compose|cluster|systemd]...   default: all
# CTest runs `debian13` beside the other tests (it needs no broker) and the other three after
# it (test/CMakeLists.txt).
# Environment: PRICEPIPE_DOCKER_TEST_KEEP=1 keeps the containers and work directory on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/pricepipe-docker-test.XXXXXX)
single=pricepipedtsingle
cluster=pricepipedtcluster
box=pricepipe-dt-systemd
kcat_image=pricepipe-test-kcat:latest
systemd_image=pricepipe-test-systemd:latest
broker_owner=docker-test-$$  # kafka.sh --owner: the broker is stopped only if this run started it
engine_was_up=no  # a Docker engine answered before this run: leave it running
phase=setup

log() { echo "docker-test: $*" >&2; }
fail() { log "FAIL ($phase): $*"; exit 1; }
step() { phase=$1; log "== $*"; }
set -E
trap 'log "FAIL ($phase): line $LINENO: $BASH_COMMAND"' ERR

# ---- helpers ---------------------------------------------------------------------------------

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every second.
wait_until() {
  local limit=$1 what=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    ((SECONDS - t0 < limit)) || fail "$what: not within $limit s"
    sleep 1
  done
  log "ok: $what ($((SECONDS - t0)) s)"
}

# Reads all its input (grep -q would stop early and fail the pipeline with SIGPIPE).
contains() { grep -F -- "$1" >/dev/null; }
stdout_of() { docker logs "$1" 2>/dev/null; }
stderr_of() { docker logs "$1" 2>&1 >/dev/null; }
printed_at_least() { [ "$(stdout_of "$1" | wc -l)" -ge "$2" ]; }
logged() { stderr_of "$1" | contains "$2"; }
both_logged() { logged "$1" "$3" && logged "$2" "$3"; }
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
exit_code() { docker inspect -f '{{.State.ExitCode}}' "$1"; }

# set_key FILE SECTION KEY VALUE: edits supervisor.conf the way an editor saving by rename does
# (sed -i writes a new file), which a single-file bind mount would never see.
set_key() {
  sed -i "/^\[$2\]/,/^\[/ s/^$3 *=.*/$3 = $4/" "$1"
  sed -n "/^\[$2\]/,/^\[/p" "$1" | contains "$3 = $4" || fail "could not set $2.$3 in $1"
}

# compose PROJECT_DIR ARGS...: docker-compose on a copy of a committed compose file.
compose() {
  local dir=$1
  shift
  (cd "$dir" && docker-compose "$@")
}

# kcat_topic NETWORK BROKERS OUT: the whole topic as kcat -J records.
kcat_topic() {
  docker run --rm --network "$1" "$kcat_image" -b "$2" -C -t prices-topic -o beginning -e -J -q >"$3"
}

# The sum of `delivered=` over the final stats lines of the given stderr files.
delivered_sum() { grep -ho 'pricepipe stopped: generated=[0-9]* delivered=[0-9]*' "$@" | sed 's/.*=//' | paste -sd+ | bc; }

# Copies a committed compose file and supervisor.conf (envelope output, so every printed line
# names its partition and offset) into a project directory of its own.
project_dir() {
  local dir=$work/$1
  mkdir -p "$dir"
  cp "$repo/$2" "$repo/supervisor.conf" "$dir/"
  set_key "$dir/supervisor.conf" consumer output envelope
  echo "$dir"
}

save_run() {  # CONTAINER NAME: its stdout and stderr into the work directory
  stdout_of "$1" >"$work/$2.out"
  stderr_of "$1" >"$work/$2.err"
}

# Waits until the given outputs (files, or running containers' stdout) hold every record of
# the topic; the producers are off.
wait_drained() {  # NETWORK BROKERS FILE_OR_CONTAINER...
  local net=$1 brokers=$2
  shift 2
  drained() {
    local source outputs=() i=0
    for source in "$@"; do
      if [ -f "$source" ]; then outputs+=("$source"); continue; fi
      i=$((i + 1))
      stdout_of "$source" >"$work/running-$i.out"
      outputs+=("$work/running-$i.out")
    done
    kcat_topic "$net" "$brokers" "$work/topic.jsonl" || return 1
    python3 test/docker/topic_check.py "$work/topic.jsonl" "${outputs[@]}" 2>/dev/null
  }
  wait_until 90 "the consumer printed everything in the topic" drained "$@"
}

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    log "failed in phase $phase; last logs:"
    [ -d "$work/single" ] && compose "$work/single" -p "$single" logs --tail=30 >&2 2>&1 || true
    [ -d "$work/cluster" ] && compose "$work/cluster" -p "$cluster" -f docker-compose.cluster.yml logs --tail=30 >&2 2>&1 || true
    docker exec "$box" journalctl -u pricepipe -n 40 --no-pager >&2 2>&1 || true
  fi
  if [ $rc -ne 0 ] && [ "${PRICEPIPE_DOCKER_TEST_KEEP:-0}" = 1 ]; then
    log "kept the containers and $work"
  else
    [ -d "$work/single" ] && compose "$work/single" -p "$single" down -v >/dev/null 2>&1 || true
    [ -d "$work/cluster" ] && compose "$work/cluster" -p "$cluster" -f docker-compose.cluster.yml down -v >/dev/null 2>&1 || true
    docker rm -f "$box" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  bash scripts/kafka.sh stop --owner "$broker_owner" --wipe || true
  if [ "$engine_was_up" = no ]; then bash scripts/docker-engine.sh stop || true; fi
  exit $rc
}
trap cleanup EXIT

# ---- images ----------------------------------------------------------------------------------

images() {
  step images
  if docker info >/dev/null 2>&1; then engine_was_up=yes; fi
  bash scripts/docker-engine.sh start
  bash scripts/docker-images.sh all
  log "building pricepipe:latest from the committed Dockerfile"
  docker build -q -t pricepipe:latest . >/dev/null || fail "docker build of the Dockerfile failed"
  local os version rdkafka
  os=$(docker run --rm --entrypoint sh pricepipe:latest -c '. /etc/os-release && echo "$ID $VERSION_ID"')
  version=$(docker run --rm pricepipe:latest --version)
  log "image: $os, $version"
  [ "$os" = "debian 13" ] || fail "the image is $os, not Debian 13"
  rdkafka=$(bash scripts/librdkafka.sh version)
  contains "(librdkafka ${rdkafka%-*})" <<<"$version" || fail "the image runs $version, not librdkafka ${rdkafka%-*}"
  [ "$(docker run --rm --entrypoint dpkg-query pricepipe:latest -W -f='${Version}' librdkafka1)" = "$rdkafka" ] ||
    fail "the image's librdkafka1 package is not $rdkafka"
  docker build -q -t "$kcat_image" test/docker/kcat-image >/dev/null || fail "the kcat image failed to build"
}

# ---- the tests on Debian 13 -----------------------------------------------------------------

# The tests build and pass on Debian 13's package set too (Catch2 3, spdlog 1.15, fmt 10,
# cpp-httplib 0.18, Boost 1.83): in the image's build stage, whose build/ already holds the
# libraries, the unit and embedded labels (only their targets are built; the layer checks need
# python3, which the stage lacks, and run on the host).
debian13_tests() {
  step debian13 "the unit and embedded tests on Debian 13"
  docker build -q --target build -t pricepipe-build:latest . >/dev/null
  docker run --rm pricepipe-build:latest bash -c \
    'PRICEPIPE_BUILD_TARGETS="unit_tests embedded_tests fuzz_replay_decode fuzz_replay_config pricepipe" bash scripts/build.sh build -DPRICEPIPE_BUILD_TESTS=ON >/dev/null && ctest --test-dir build -j2 -L "unit|embedded" -LE layers >/tmp/ctest.log 2>&1; rc=$?; grep -E "tests passed|FAILED|Failed" /tmp/ctest.log; exit $rc' >&2 ||
    fail "the unit and embedded tests fail on Debian 13"
}

# ---- docker-compose.yml ----------------------------------------------------------------------

compose_single() {
  step compose "docker-compose.yml"
  local dir app net=${single}_default grace
  dir=$(project_dir single docker-compose.yml)
  dc() { compose "$dir" -p "$single" "$@"; }
  grace=$(sed -n 's/^ *stop_grace_period: *\([0-9]*\)s$/\1/p' "$dir/docker-compose.yml")
  [ -n "$grace" ] || fail "no stop_grace_period in docker-compose.yml"
  dc down -v >/dev/null 2>&1 || true
  dc up -d --no-build
  app=$(dc ps -q pricepipe)
  wait_until 120 "prices on pricepipe's stdout" printed_at_least "$app" 1
  logged "$app" "pricepipe starting" || fail "no log lines on pricepipe's stderr"
  if stdout_of "$app" | contains 'pricepipe starting'; then fail "log lines on stdout"; fi
  wait_until 90 "the liveness HEALTHCHECK reports healthy" healthy "$app"

  set_key "$dir/supervisor.conf" producer rate 25
  dc kill -s HUP pricepipe
  wait_until 30 "the reload after sed -i is logged" logged "$app" "reload: changed: producer.rate=25"
  wait_until 10 "the new rate is applied" logged "$app" "applied new generator and rate settings (rate 25/s)"

  local cluster_id t0=$SECONDS
  cluster_id=$(dc exec -T kafka cat /var/lib/kafka/data/meta.properties | sed -n 's/^cluster.id=//p')
  dc stop
  log "docker-compose stop took $((SECONDS - t0)) s (stop_grace_period ${grace} s)"
  [ "$(exit_code "$app")" = 0 ] || fail "pricepipe exited $(exit_code "$app") on docker-compose stop"
  ((SECONDS - t0 < grace)) || fail "docker-compose stop took longer than stop_grace_period"
  logged "$app" "SIGTERM received: stopping gracefully" || fail "the stop was not a graceful SIGTERM"
  save_run "$app" single-1

  dc down
  dc up -d --no-build
  app=$(dc ps -q pricepipe)
  [ "$(dc exec -T kafka cat /var/lib/kafka/data/meta.properties | sed -n 's/^cluster.id=//p')" = "$cluster_id" ] ||
    fail "the broker lost its cluster id across down/up"
  wait_until 120 "pricepipe prints again after down and up" printed_at_least "$app" 20

  set_key "$dir/supervisor.conf" producer enabled false
  dc kill -s HUP pricepipe
  wait_until 30 "the producer is turned off by a reload" logged "$app" "reload: changed: producer.enabled=false"
  wait_drained "$net" kafka:9092 "$work/single-1.out" "$app"
  dc stop pricepipe
  [ "$(exit_code "$app")" = 0 ] || fail "pricepipe exited $(exit_code "$app") on the last stop"
  save_run "$app" single-2
  kcat_topic "$net" kafka:9092 "$work/topic.jsonl"
  python3 test/docker/topic_check.py --exactly-once \
    --delivered "$(delivered_sum "$work/single-1.err" "$work/single-2.err")" \
    "$work/topic.jsonl" "$work/single-1.out" "$work/single-2.out" ||
    fail "what pricepipe printed across both runs is not the topic, exactly once"
  dc down -v >/dev/null 2>&1
}

# ---- docker-compose.cluster.yml --------------------------------------------------------------

last_assignment() { stderr_of "$1" | sed -n 's/.*consumer: holding partitions \[\(.*\)\]$/\1/p' | tail -n 1; }

# Both instances hold a non-empty share of the partitions, disjoint, together all three.
partitions_shared() {
  local a b
  a=$(last_assignment "$1")
  b=$(last_assignment "$2")
  [ -n "$a" ] && [ -n "$b" ] || return 1
  [ "$(echo "$a,$b" | tr ',' '\n' | sort -n | paste -sd,)" = "0,1,2" ]
}

compose_cluster() {
  step cluster "docker-compose.cluster.yml"
  local dir a b n net=${cluster}_default brokers=kafka1:9092,kafka3:9092
  dir=$(project_dir cluster docker-compose.cluster.yml)
  dc() { compose "$dir" -p "$cluster" -f docker-compose.cluster.yml "$@"; }
  dc down -v >/dev/null 2>&1 || true
  dc up -d --no-build
  a=$(dc ps -q pricepipe)
  wait_until 180 "prices from the three-broker cluster" printed_at_least "$a" 20

  docker kill "$(dc ps -q kafka2)" >/dev/null
  n=$(stdout_of "$a" | wc -l)
  wait_until 90 "prices go on with broker 2 killed" printed_at_least "$a" $((n + 30))

  dc up -d --no-build --scale pricepipe=2
  b=$(dc ps -q pricepipe | grep -v "^$a$")
  [ -n "$b" ] || fail "--scale pricepipe=2 started no second instance"
  wait_until 120 "the second instance prints" printed_at_least "$b" 1
  wait_until 60 "the two instances share the partitions" partitions_shared "$a" "$b"
  log "assignments: [$(last_assignment "$a")] and [$(last_assignment "$b")]"

  set_key "$dir/supervisor.conf" producer enabled false
  dc kill -s HUP pricepipe
  wait_until 30 "both producers are turned off" \
    both_logged "$a" "$b" "reload: changed: producer.enabled=false"
  wait_drained "$net" "$brokers" "$a" "$b"
  dc stop pricepipe
  for c in "$a" "$b"; do
    [ "$(exit_code "$c")" = 0 ] || fail "an instance exited $(exit_code "$c") on docker-compose stop"
  done
  save_run "$a" cluster-a
  save_run "$b" cluster-b
  kcat_topic "$net" "$brokers" "$work/topic.jsonl"
  python3 test/docker/topic_check.py --delivered "$(delivered_sum "$work/cluster-a.err" "$work/cluster-b.err")" \
    "$work/topic.jsonl" "$work/cluster-a.out" "$work/cluster-b.out" ||
    fail "the two instances together did not print the topic"
  dc down -v >/dev/null 2>&1
}

# ---- systemd ---------------------------------------------------------------------------------

in_box() { docker exec "$box" "$@"; }
unit_prop() { in_box systemctl show -p "$1" --value pricepipe; }
journal_has() { in_box journalctl -u pricepipe -o cat --no-pager | contains "$1"; }
unit_active() { [ "$(in_box systemctl is-active pricepipe || true)" = active ]; }
booted() { case "$(in_box systemctl is-system-running 2>/dev/null || true)" in running|degraded) true ;; *) false ;; esac; }

dropin() {  # NAME CONTENT: a drop-in for the unit, then daemon-reload
  in_box mkdir -p /etc/systemd/system/pricepipe.service.d
  printf "%s\n" "$2" | docker exec -i "$box" sh -c "cat > /etc/systemd/system/pricepipe.service.d/$1.conf"
  in_box systemctl daemon-reload
}

systemd_unit() {
  step systemd "the unit in a container booting systemd"
  bash scripts/kafka.sh start --owner "$broker_owner"
  local bootstrap root=$work/root conf=/etc/pricepipe/supervisor.conf pid restarts
  bootstrap=$(bash scripts/kafka.sh bootstrap)
  # The README's systemd recipe, into a DESTDIR tree.
  bash scripts/build.sh build-deploy -DCMAKE_INSTALL_PREFIX=/usr -DPRICEPIPE_BUILD_TESTS=OFF >&2
  DESTDIR=$root cmake --install build-deploy >/dev/null
  # The binary's library packages; librdkafka, which this machine installed from local .debs
  # (scripts/librdkafka.sh), goes in as those files.
  local ctx=$work/systemd-image packages=() p
  cp -r test/docker/systemd-image "$ctx"
  mkdir -p "$ctx/debs"
  for p in $(bash scripts/runtime-packages.sh "$root/usr/bin/pricepipe" "$(bash scripts/librdkafka.sh debs)"); do
    if [ -f "$p" ]; then cp "$p" "$ctx/debs/"; else packages+=("$p"); fi
  done
  docker build -q -t "$systemd_image" --build-arg RUNTIME_PACKAGES="${packages[*]}" "$ctx" >/dev/null ||
    fail "the systemd image failed to build"
  docker rm -f "$box" >/dev/null 2>&1 || true
  docker run -d --name "$box" --network host --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$systemd_image" >/dev/null
  wait_until 60 "systemd booted in the container" booted
  docker cp "$root/." "$box:/"
  [ "$(in_box pricepipe --version)" = "$("$root/usr/bin/pricepipe" --version)" ] ||
    fail "in the container pricepipe runs on another librdkafka: $(in_box pricepipe --version)"
  in_box sed -i "s/^brokers *=.*/brokers = $bootstrap/; s/^topic *=.*/topic = systemd-test-$(date +%s)/" "$conf"
  in_box systemctl daemon-reload

  timeout 120 docker exec "$box" systemctl enable --now pricepipe || fail "systemctl enable --now pricepipe failed"
  unit_active || fail "the unit is not active after enable --now (READY=1)"
  wait_until 60 "prices in the journal" journal_has '{"match":'

  in_box sed -i 's/^rate *=.*/rate = 30/' "$conf"
  in_box systemctl reload pricepipe
  wait_until 30 "systemctl reload logs the changed key" journal_has "reload: changed: producer.rate=30"
  unit_active || fail "the unit is not active after the reload"

  dropin watchdog $'[Service]\nWatchdogSec=5\nTimeoutAbortSec=10'
  in_box systemctl restart pricepipe
  pid=$(unit_prop MainPID)
  restarts=$(unit_prop NRestarts)
  in_box kill -STOP "$pid"
  log "froze the main process $pid with SIGSTOP"
  restarted() { local now; now=$(unit_prop MainPID); [ "$now" != 0 ] && [ "$now" != "$pid" ] && unit_active && [ "$(unit_prop NRestarts)" -gt "$restarts" ]; }
  wait_until 60 "the watchdog killed and restarted the frozen process" restarted
  journal_has "Watchdog timeout" || fail "the journal does not name the watchdog as the cause"

  restarts=$(unit_prop NRestarts)
  dropin fault $'[Service]\nExecStart=\nExecStart=/usr/bin/pricepipe --config /etc/pricepipe/supervisor.conf --unsafe-fault-injection=producer:throw:5 --supervisor.max_restarts=1 --supervisor.backoff_initial_ms=100'
  in_box systemctl restart --no-block pricepipe
  exit70_restarted() { journal_has "status=70/SOFTWARE" && [ "$(unit_prop NRestarts)" -gt "$restarts" ]; }
  wait_until 90 "exit 70 is restarted by Restart=on-failure" exit70_restarted
  in_box rm /etc/systemd/system/pricepipe.service.d/fault.conf /etc/systemd/system/pricepipe.service.d/watchdog.conf
  in_box systemctl daemon-reload
  in_box systemctl reset-failed pricepipe || true
  in_box systemctl restart pricepipe
  unit_active || fail "the unit did not come back after the fault drop-in was removed"

  in_box systemctl stop pricepipe
  [ "$(unit_prop Result)" = success ] || fail "systemctl stop: Result=$(unit_prop Result)"
  [ "$(unit_prop ExecMainStatus)" = 0 ] || fail "systemctl stop: exit status $(unit_prop ExecMainStatus)"
  log "ok: systemctl stop: Result=success, exit status 0"
  docker rm -f "$box" >/dev/null
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(debian13 compose cluster systemd)
images
for part in "${parts[@]}"; do
  case "$part" in
    images) ;;
    debian13) debian13_tests ;;
    compose) compose_single ;;
    cluster) compose_cluster ;;
    systemd) systemd_unit ;;
    *) fail "unknown part $part (images, debian13, compose, cluster, systemd)" ;;
  esac
done
phase=done
log "all passed"
