#!/usr/bin/env bash
# Two pricepipe builds head to head on one local broker, for "did this change make it slower":
# producer-only and consumer-only runs of N events, in rounds ordered A B B A, so that neither
# build always runs first (a fixed order showed a 4-6 % consumer "slowdown" that was the order).
# Figures are never pass/fail.
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY [--count N] [--rounds R]
#     --count N   events per run (default 1000000)
#     --rounds R  A B B A rounds: 2R runs of each build and kind (default 10)
# Producer: a whole producer-only run on a fresh 3-partition topic (process start to exit).
# Consumer: "assigned partitions" to "printed N" in the log of a consumer-only run, a new group
# each run, all on one topic the new build writes once, after all producer runs.
# Builds to compare, e.g. a revision against the working tree:
#   git worktree add /tmp/pp-old REV
#   cmake -S /tmp/pp-old -B /tmp/pp-old/build-bench -DCMAKE_BUILD_TYPE=Release -DPRICEPIPE_BUILD_TESTS=OFF
#   cmake --build /tmp/pp-old/build-bench --target pricepipe      (and the same for this tree)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 OLD_BINARY NEW_BINARY [--count N] [--rounds R]" >&2; exit 64; }
[ $# -ge 2 ] || usage
old=$(realpath "$1") new=$(realpath "$2")
shift 2
count=1000000
rounds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --count=*) count=${1#*=} ;;
    --rounds) rounds=$2; shift ;;
    --rounds=*) rounds=${1#*=} ;;
    *) usage ;;
  esac
  shift
done
for bin in "$old" "$new"; do [ -x "$bin" ] || { echo "bench-ab: $bin is not an executable" >&2; exit 66; }; done

owner=bench-ab-$$
bash scripts/kafka.sh start --owner "$owner"
brokers=$(bash scripts/kafka.sh bootstrap)
work=$(mktemp -d /tmp/pricepipe-bench-ab.XXXXXX)
trap 'rm -rf "$work"; bash scripts/kafka.sh stop --owner "$owner" --wipe >&2 || true' EXIT
run_id=$(date +%s)-$$
common=(--config supervisor.conf --kafka.brokers="$brokers" --log.stats_interval_s=0)

topic() {  # a fresh topic with 3 partitions
  local name="ab-$1-$run_id"
  bash scripts/kafka.sh topics --create --topic "$name" --partitions 3 --replication-factor 1 >/dev/null 2>&1
  echo "$name"
}
produce() {  # BINARY TOPIC: a producer-only run of $count events
  "$1" "${common[@]}" --kafka.topic="$2" --consumer.enabled=false --producer.rate=0 \
    --producer.count="$count" --log.level=warn
}

order() { for _ in $(seq 1 "$rounds"); do echo old new new old; done; }
echo "bench-ab: $count events per run, $rounds rounds of old new new old, broker $brokers" >&2
# The producer runs first, all of them, so that the broker's writing does not overlap the
# consumer runs.
for who in $(order); do
  t=$(topic "p-$who-$RANDOM")
  start=$(date +%s%N)
  produce "${!who}" "$t"
  echo "producer $who $(( ($(date +%s%N) - start) / 1000000 ))" >> "$work/times"
done
source_topic=$(topic source)
produce "$new" "$source_topic"
for who in $(order); do
  "${!who}" "${common[@]}" --kafka.topic="$source_topic" --producer.enabled=false \
    --consumer.group_id="ab-$who-$RANDOM-$run_id" --consumer.exit_after="$count" 2> "$work/consumer.err" > /dev/null
  echo "consumer $who $(python3 bench/ab_interval.py "assigned partitions" "printed $count events" \
    < "$work/consumer.err")" >> "$work/times"
done
echo "old: $old"
echo "new: $new"
# Per kind and build: the median and every run, sorted.
sort -k1,1 -k2,2 -k3,3n "$work/times" | awk '
  { key = $1 " " $2; v[key] = v[key] " " $3; n[key]++; all[key, n[key]] = $3 }
  END {
    for (k in n) {
      m = n[k] % 2 ? all[k, (n[k] + 1) / 2] : (all[k, n[k] / 2] + all[k, n[k] / 2 + 1]) / 2
      printf "%-13s median %7.1f ms  (%d runs:%s)\n", k, m, n[k], v[k]
    }
  }' | sort
