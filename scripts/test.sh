#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: a normal build with every
# label, then an AddressSanitizer+UBSan and a ThreadSanitizer build with the labels each is for.
# Tests that need a real Kafka broker get it from CTest fixtures around scripts/kafka.sh.
#   scripts/test.sh            everything (what CI runs): the three builds, scripts/fuzz.sh
#                              (30 s per fuzz target) and a tiny scripts/bench.sh run
#   scripts/test.sh --quick    the normal build and its tests only
#   scripts/test.sh -- ARGS    extra ctest arguments for every suite, e.g. -- -R SIGHUP
#
# What each build runs:
#   normal      every label: unit, layers, embedded, integration, supervisor, cluster, kip848
#               (integration, supervisor and cluster again on the consumer group protocol), deploy,
#               ops (a real Prometheus on a running daemon), docker (the image, compose and
#               systemd for real)
#   asan        unit, embedded, integration, supervisor: memory, on the real broker too
#   tsan        unit, embedded, supervisor: threads and signals (the worker host, the
#               supervisor's restarts, stalls, reloads and stops, sd_notify)
# The deployment checks run once, in the normal build: they test files and images, which no
# sanitizer changes. The three-node cluster tests run once too: they exercise the broker's
# failover through the same client code the integration label runs under both sanitizers.
#
# How it stays within its time: the broker starts while the normal build compiles; the fuzz
# build and runs, the two sanitizer builds and the bench smoke run go on in the background at
# the lowest CPU priority while the normal build's tests, which mostly wait on the broker, run
# in front; the normal build's tests run three at a time (they mostly sleep or wait on a broker:
# even at three the CPU was a third idle over the suite), those that stop a broker on one of
# their own, and docker_deploy after the Docker images and the Debian 13 tests and once the
# cluster, secure and outage brokers are stopped;
# the ASan and the TSan suites then run side by side; one single-node broker serves all three
# suites (the outage broker is started per suite by its fixture, the TSan suite's on a port of
# its own); scripts/build.sh compiles through ccache, and the sanitizer builds compile at -O1
# with line tables only. It ends with a table of when each phase started and how long it took
# (seconds from the start of the run).
set -euo pipefail
cd "$(dirname "$0")/.."

full=yes
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) full=no ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: $0 [--quick] [-- ctest args]" >&2; exit 64 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/pricepipe-test.XXXXXX)
phases=$work/phases  # "name<TAB>start<TAB>seconds<TAB>where" lines, foreground and background
run_start=$(date +%s)  # the phases' start offsets count from here (the background is a process of its own)
background_pid=""
broker_start_pid=""
tsan_pid=""
broker_owner=test-sh-$$

# phase NAME COMMAND...: runs COMMAND, timed into the phase table.
phase() {
  local name=$1 t0 status=0
  shift
  t0=$(date +%s)
  echo "== $name" >&2
  "$@" || status=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$((t0 - run_start))" "$(($(date +%s) - t0))" \
    "${where:-foreground}" >>"$phases"
  return "$status"
}

print_phases() {
  [ -s "$phases" ] || return 0
  {
    echo "== time per phase (background phases overlap the foreground)"
    printf '%-34s %8s %8s  %s\n' phase "start s" seconds where
    while IFS=$'\t' read -r name start seconds place; do
      printf '%-34s %8s %8s  %s\n' "$name" "$start" "$seconds" "$place"
    done <"$phases"
    local total=$(($(date +%s) - run_start))
    printf '%-34s %8s %8s  %s\n' total 0 "$total" "$((total / 60)) min $((total % 60)) s"
  } >&2
}

cleanup() {
  local status=$?
  if [ -n "$background_pid" ] && kill -0 "$background_pid" 2>/dev/null; then
    kill -- -"$background_pid" 2>/dev/null || kill "$background_pid" 2>/dev/null || true
  fi
  if [ -n "$tsan_pid" ] && kill -0 "$tsan_pid" 2>/dev/null; then
    kill -- -"$tsan_pid" 2>/dev/null || kill "$tsan_pid" 2>/dev/null || true
  fi
  [ -z "$broker_start_pid" ] || wait "$broker_start_pid" 2>/dev/null || true  # so that stop finds its record
  bash scripts/kafka.sh stop --owner "$broker_owner" --wipe >/dev/null 2>&1 || true  # as the fixture does
  print_phases
  print_total
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp}

# suite JOBS BUILD_DIR [LABEL_REGEX]: JOBS tests at a time (the outage tests take turns on their
# own broker); its ctest summary line is kept for the total at the end.
suite() {
  local labels=()
  [ $# -lt 3 ] || labels=(-L "$3")
  ctest --test-dir "$2" --output-on-failure --timeout 600 -j"$1" "${labels[@]}" "${ctest_args[@]}" |
    tee "$work/ctest-$2.log"
}

# One line over all suites, last in the output: "ctest: N passed, N failed".
print_total() {
  local passed=0 failed=0 p f
  while read -r p f; do
    passed=$((passed + p)); failed=$((failed + f))
  done < <(sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+)$/\2 \1/p' "$work"/ctest-*.log 2>/dev/null |
             awk '{ print $1 - $2, $2 }')
  echo "ctest: $passed passed, $failed failed"
}

# The fuzz runs, the sanitizer builds and the bench smoke run, one after another at nice 19,
# logged to a file that is printed if any of them fails. The benchmark script must keep
# working: a tiny run on the normal build checks that (its figures mean nothing, the less so
# beside the tests).
background() {
  where=background
  phase "fuzz (scripts/fuzz.sh 30)" bash scripts/fuzz.sh 30
  phase "asan build (build-asan)" bash scripts/build.sh build-asan -DPRICEPIPE_SANITIZE=address
  phase "tsan build (build-tsan)" bash scripts/build.sh build-tsan -DPRICEPIPE_SANITIZE=thread \
    -DPRICEPIPE_TEST_OUTAGE_PORT=9392
  phase "bench smoke run" bash scripts/bench.sh --count 2000 --runs 1 --rebalance-window 5 --build-dir build
}

wait_broker_start() {
  local status=0
  [ -n "$broker_start_pid" ] || return 0
  wait "$broker_start_pid" || status=$?
  broker_start_pid=""
  cat "$work/broker-start.log" >&2
  return "$status"
}

# The two sanitizer suites side by side: each mostly waits on the broker or on its timeouts
# (two at a time, each kept its two slots busy, not the CPU). The TSan suite runs in a process
# group of its own (cleanup ends it) and its output is printed after the ASan suite's; its
# [outage] tests have a broker port of their own (the TSan build's PRICEPIPE_TEST_OUTAGE_PORT).
sanitizer_suites() {
  local asan=0 tsan=0
  set -m
  (where=beside phase "tsan tests" suite 2 build-tsan 'unit|embedded|supervisor') >"$work/tsan-tests.out" 2>&1 &
  tsan_pid=$!
  set +m
  phase "asan tests" suite 2 build-asan 'unit|embedded|integration|supervisor' || asan=$?
  wait "$tsan_pid" || tsan=$?
  tsan_pid=""
  cat "$work/tsan-tests.out"
  [ "$asan" -eq 0 ] && [ "$tsan" -eq 0 ]
}

wait_background() {
  local status=0
  wait "$background_pid" || status=$?
  background_pid=""
  if [ "$status" -ne 0 ]; then
    echo "== a background phase failed (exit $status); its log:" >&2
    tail -n 80 "$work/background.log" >&2
    return "$status"
  fi
  grep -E '^== ' "$work/background.log" >&2 || true
}

phase "install-deps" bash scripts/install-deps.sh
# The broker starts (a JVM: 20 s or so) while the normal build compiles.
where=beside phase "broker start" bash scripts/kafka.sh start --owner "$broker_owner" >"$work/broker-start.log" 2>&1 &
broker_start_pid=$!
phase "normal build (build)" bash scripts/build.sh build
wait_broker_start
if [ "$full" = yes ]; then
  set -m  # the background job gets a process group of its own, so cleanup can end all of it
  nice -n 19 bash -c "set -euo pipefail; $(declare -f phase background); phases='$phases'; run_start=$run_start; background" \
    >"$work/background.log" 2>&1 &
  background_pid=$!
  set +m
fi
phase "normal tests (all labels)" suite 3 build
if [ "$full" = yes ]; then
  phase "waiting for the background" wait_background
  sanitizer_suites
fi
