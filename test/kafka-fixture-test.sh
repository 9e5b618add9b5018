#!/usr/bin/env bash
# Checks test/kafka-fixture.sh on a single node of its own (state in a temporary directory,
# client port $1, controller port $1 + 1):
# 1. a broker the fixture started is stopped by the fixture's stop, and its data is deleted, so
#    topics and groups do not pile up in the cached broker state from run to run;
# 2. a broker that was running before the fixture's start is left running, with its data;
# 3. after the fixture's start the group coordinator answers: __consumer_offsets exists.
set -euo pipefail
port=${1:?usage: $0 CLIENT_PORT}
here=$(cd "$(dirname "$0")" && pwd)
kafka="$here/../scripts/kafka.sh"
run=$(mktemp -d /tmp/pricepipe-fixture-test.XXXXXX)
export PRICEPIPE_KAFKA_RUN=$run PRICEPIPE_KAFKA_PORT=$port PRICEPIPE_KAFKA_CONTROLLER_PORT=$((port + 1))
node=$run/single

cleanup() {
  bash "$kafka" stop --wipe >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
fail() { echo "kafka-fixture-test: FAILED: $*" >&2; exit 1; }
running() { bash "$kafka" status >/dev/null 2>&1; }
formatted() { [ -f "$node/data/meta.properties" ]; }
offsets_partitions() {
  timeout 30 kcat -L -b "127.0.0.1:$port" -t __consumer_offsets -m 10 2>/dev/null | grep -c ' partition ' || true
}

# 1. Started by the fixture: stopped and wiped by it.
bash "$here/kafka-fixture.sh" start 1
running || fail "the fixture's start left no broker running"
formatted || fail "no formatted data in $node after the fixture's start"
[ "$(offsets_partitions)" -gt 0 ] || fail "no __consumer_offsets after the fixture's start: the first group waits for it"
bash "$here/kafka-fixture.sh" stop 1
! running || fail "the fixture's stop left the broker it started running"
[ ! -e "$node" ] || fail "the fixture's stop kept the data of the broker it started: $(ls "$node")"

# 2. Running before the fixture: left running, data kept.
bash "$kafka" start
bash "$here/kafka-fixture.sh" start 1
bash "$here/kafka-fixture.sh" stop 1
running || fail "the fixture's stop stopped a broker it had found running"
formatted || fail "the fixture's stop deleted the data of a broker it had found running"
echo "kafka-fixture-test: passed" >&2
