#!/usr/bin/env bash
# Benchmarks pricepipe against the tools a user would otherwise pick, on the same local broker
# in the same run, each contender on a fresh 3-partition topic with the same N events and
# acks=all, and prints one table. Figures are never pass/fail.
#   scripts/bench.sh [--count N] [--runs R] [--build-dir DIR]
#     --count N        events per contender (default 1000000)
#     --runs R         throughput runs per contender, alternated round by round (default 5);
#                      the table gives the median and min-max of each
#     --build-dir DIR  use the pricepipe and codec_bench already built in DIR instead of a
#                      Release build in build-bench/ (the test script's smoke run uses build/)
#     --rebalance-window S  seconds per phase of the rebalance measurement (default 15)
# Contenders: producer throughput of pricepipe (producer only), kcat -P -K (the same keys as
# pricepipe's events), Kafka's ProducerPerformance (unkeyed) and a kafka-python producer (the
# pipeline pricepipe replaces); consumer throughput to a file of pricepipe (consumer only),
# kcat -C (its defaults, and tuned as pricepipe is) and a kafka-python consumer; the consumers
# of pricepipe and tuned kcat on 3, 24 and 96 partitions (peak RSS and time per partition count);
# produce-to-print latency of pricepipe at fixed rates, measured from outside, next to kcat at both
# ends; what a member joining and leaving costs the running instance under each consumer group
# protocol; codec cost per event. CPU seconds and peak RSS come from /usr/bin/time;
# bench/bench_table.py makes the table.
set -euo pipefail
cd "$(dirname "$0")/.."

count=1000000
runs=5
build_dir=""
rebalance_window=15
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --count=*) count=${1#*=} ;;
    --runs) runs=$2; shift ;;
    --runs=*) runs=${1#*=} ;;
    --build-dir) build_dir=$2; shift ;;
    --build-dir=*) build_dir=${1#*=} ;;
    --rebalance-window) rebalance_window=$2; shift ;;
    --rebalance-window=*) rebalance_window=${1#*=} ;;
    *) echo "usage: $0 [--count N] [--runs R] [--build-dir DIR] [--rebalance-window S]" >&2; exit 64 ;;
  esac
  shift
done

bash scripts/install-deps.sh
if [ -z "$build_dir" ]; then
  build_dir=build-bench
  CMAKE_BUILD_TYPE=Release bash scripts/build.sh "$build_dir" -DPRICEPIPE_BUILD_TESTS=OFF >&2
fi
[ -x "$build_dir/pricepipe" ] && [ -x "$build_dir/codec_bench" ] ||
  { echo "bench: no pricepipe and codec_bench in $build_dir" >&2; exit 66; }
# Leave the broker as found: stop it at the end, and delete its data (bench topics hold 1M events
# each), only if this run started it (kafka.sh --owner, with a tag of this run's own).
owner=bench-$$
bash scripts/kafka.sh start --owner "$owner"
brokers=$(bash scripts/kafka.sh bootstrap)
cache=${PRICEPIPE_CACHE:-$HOME/.cache/pricepipe}
venv=$cache/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import kafka' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kafka-python >&2
fi
work=$(mktemp -d /tmp/pricepipe-bench.XXXXXX)
cleanup() {
  rm -rf "$work"
  bash scripts/kafka.sh stop --owner "$owner" --wipe >&2 || true
}
trap cleanup EXIT
run_id=$(date +%s)-$$
pp=$build_dir/pricepipe

# The same events for every producer: pricepipe's own format, one per line, keyed by the match
# number as pricepipe keys them (kcat -K TAB); ProducerPerformance takes the values only.
python3 - "$count" > "$work/events.tsv" <<'PY'
import random, sys
random.seed(1)
for _ in range(int(sys.argv[1])):
    match = random.randint(100, 999)
    print('%d\t{"match":%d,"price":%d.%02d}' % (match, match, *divmod(random.randint(101, 100000), 100)))
PY
cut -f2 "$work/events.tsv" > "$work/events.txt"

topic() {  # a fresh topic with 3 partitions
  local name="bench-$1-$run_id"
  bash scripts/kafka.sh topics --create --topic "$name" --partitions 3 --replication-factor 1 >/dev/null 2>&1
  echo "$name"
}

# timed NAME CMD...: runs CMD, keeps wall seconds, CPU seconds and peak RSS (KB) in $work/NAME.
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@"
}

record() {  # record LABEL KIND NAME ROUND: one row of $work/rows from $work/NAME.time
  local wall user sys rss
  read -r wall user sys rss < "$work/$3.time"
  echo "$1|$2|$4|$wall|$(echo "$user + $sys" | bc -l)|$rss" >> "$work/rows"
}

echo "bench: $count events per contender, broker $brokers" >&2
# Warm the broker's JVM up first, so the first contender does not pay for its JIT, and with an
# idempotent producer, so it does not pay for the broker's first producer-id allocation either
# ("Coordinator load in progress" retries, seen as +0.5 s on pricepipe's producer row).
t=$(topic warmup)
kcat -P -b "$brokers" -t "$t" -X acks=all -X enable.idempotence=true -l "$work/events.txt"
kcat -C -b "$brokers" -t "$t" -o beginning -e -q > /dev/null

# ---- throughput: every contender once per round, rounds alternated ----------------------------
# kcat's consumer as pricepipe's is tuned (kafka.cpp): kcat's own defaults wait 1 s before
# refetching a partition whose queue ran low, so untuned it measures that wait, not the client.
kcat_tuned=(-X fetch.queue.backoff.ms=1 -X queued.min.messages=20000)
producers() {  # ROUND; the consumers of the round read pricepipe's topic
  local r=$1 t
  t=$(topic "pricepipe-p-$r")
  timed "pricepipe-p-$r" "$pp" --config supervisor.conf --kafka.brokers="$brokers" --kafka.topic="$t" \
    --consumer.enabled=false --producer.rate=0 --producer.count="$count" --log.level=warn --log.stats_interval_s=0
  record "pricepipe" producer "pricepipe-p-$r" "$r"
  pricepipe_topic=$t

  t=$(topic "kcat-p-$r")
  timed "kcat-p-$r" kcat -P -b "$brokers" -t "$t" -X acks=all -X enable.idempotence=true -K $'\t' -l "$work/events.tsv"
  record "kcat -P -K" producer "kcat-p-$r" "$r"

  t=$(topic "perf-p-$r")
  timed "perf-p-$r" bash scripts/kafka.sh tool org.apache.kafka.tools.ProducerPerformance --topic "$t" \
    --num-records "$count" --throughput -1 --payload-file "$work/events.txt" --bootstrap-server "$brokers" \
    --command-property acks=all >/dev/null 2>"$work/perf.err"
  record "ProducerPerformance" producer "perf-p-$r" "$r"

  t=$(topic "python-p-$r")
  timed "python-p-$r" "$venv/bin/python" - "$brokers" "$t" "$count" <<'PY'
import json, random, sys
from kafka import KafkaProducer
brokers, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = KafkaProducer(bootstrap_servers=brokers, acks="all",
                         value_serializer=lambda v: json.dumps(v).encode("utf-8"))
random.seed(1)
for _ in range(n):
    producer.send(topic, {"match": random.randint(100, 999), "price": random.randint(101, 100000) / 100})
producer.flush()
PY
  record "kafka-python (old pipeline)" producer "python-p-$r" "$r"
}

consumers() {  # ROUND: each reads the round's pricepipe topic to a file
  local r=$1 f lines
  timed "pricepipe-c-$r" "$pp" --config supervisor.conf --kafka.brokers="$brokers" --kafka.topic="$pricepipe_topic" \
    --producer.enabled=false --consumer.group_id="bench-$run_id-$r" --consumer.exit_after="$count" \
    --log.level=warn --log.stats_interval_s=0 > "$work/pricepipe.out"
  record "pricepipe" consumer "pricepipe-c-$r" "$r"

  timed "kcat-c-$r" kcat -C -b "$brokers" -t "$pricepipe_topic" -o beginning -e -q > "$work/kcat.out"
  record "kcat -C" consumer "kcat-c-$r" "$r"

  timed "kcatt-c-$r" kcat -C -b "$brokers" -t "$pricepipe_topic" -o beginning -e -q "${kcat_tuned[@]}" \
    > "$work/kcatt.out"
  record "kcat -C (tuned)" consumer "kcatt-c-$r" "$r"

  timed "python-c-$r" "$venv/bin/python" - "$brokers" "$pricepipe_topic" "$count" > "$work/python.out" <<'PY'
import json, sys
from kafka import KafkaConsumer
brokers, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(topic, bootstrap_servers=brokers, group_id=None, auto_offset_reset="earliest",
                         enable_auto_commit=False)
seen = 0
out = sys.stdout
for message in consumer:
    event = json.loads(message.value)
    out.write(json.dumps({"match": event["match"], "price": event["price"]}) + "\n")
    seen += 1
    if seen == n:
        break
PY
  record "kafka-python (old pipeline)" consumer "python-c-$r" "$r"

  for f in pricepipe kcat kcatt python; do
    lines=$(wc -l < "$work/$f.out")
    [ "$lines" -ge "$count" ] || echo "bench: warning: $f consumer wrote $lines lines, expected $count" >&2
  done
}

for round in $(seq 1 "$runs"); do
  echo "bench: round $round of $runs" >&2
  producers "$round"
  consumers "$round"
done

# ---- partition sweep --------------------------------------------------------------------------
# The consumers on topics of 3, 24 and 96 partitions holding the same events: what prefetching
# costs in memory and time as the partition count grows. Kind "sweep Np" in the table.
sweep_partitions="3 24 96"
for p in $sweep_partitions; do
  t="bench-sweep-$p-$run_id"
  bash scripts/kafka.sh topics --create --topic "$t" --partitions "$p" --replication-factor 1 >/dev/null 2>&1
  kcat -P -b "$brokers" -t "$t" -X acks=all -X enable.idempotence=true -K $'\t' -l "$work/events.tsv"
  for r in $(seq 1 "$runs"); do
    timed "sweep-pp-$p-$r" "$pp" --config supervisor.conf --kafka.brokers="$brokers" --kafka.topic="$t" \
      --kafka.partitions="$p" --producer.enabled=false --consumer.group_id="sweep-$run_id-$p-$r" \
      --consumer.exit_after="$count" --log.level=warn --log.stats_interval_s=0 > "$work/sweep.out"
    record "pricepipe" "sweep ${p}p" "sweep-pp-$p-$r" "$r"
    lines=$(wc -l < "$work/sweep.out")
    [ "$lines" -ge "$count" ] || echo "bench: warning: pricepipe wrote $lines lines on $p partitions" >&2
    timed "sweep-kcat-$p-$r" kcat -C -b "$brokers" -t "$t" -o beginning -e -q "${kcat_tuned[@]}" > /dev/null
    record "kcat -C (tuned)" "sweep ${p}p" "sweep-kcat-$p-$r" "$r"
  done
done

# ---- latency ----------------------------------------------------------------------------------
# Measured from outside (bench/latency.py): each printed line's Kafka timestamp (CreateTime, set
# by the producer) against the clock of the process reading pricepipe's stdout as the line
# arrives; 20 s per rate (capped by --count), the first tenth dropped as warm-up. Per rate: the
# shipped settings; for comparison librdkafka's own producer defaults (linger.ms=5, five
# requests in flight), which were pricepipe's before issue #24; and kcat at both ends with
# pricepipe's producer settings (bench/latency_kcat.py), what librdkafka's own clients reach on
# this broker and machine in the same run. Up to 3 runs of each, alternated: the tails of one
# 20 s run vary by 2-4x on this machine (BENCHMARKS.md), so the table shows the median of each
# figure and every run's p99.
latency_runs=$((runs < 3 ? runs : 3))
latency=()
for r in $(seq 1 "$latency_runs"); do
  for setting in shipped librdkafka kcat; do
    extra=()
    if [ "$setting" = librdkafka ]; then
      extra=(--librdkafka.producer.linger.ms=5 --librdkafka.producer.max.in.flight.requests.per.connection=5)
    fi
    for rate in 1000 10000; do
      n=$((rate * 20))
      [ "$n" -le "$count" ] || n=$count
      t=$(topic "latency-$setting-$rate-$r")
      seconds=$(echo "$n / $rate" | bc -l)
      if [ "$setting" = kcat ]; then
        figures=$(python3 bench/latency_kcat.py "$brokers" "$t" "$rate" "$seconds" -- "${kcat_tuned[@]}")
      else
        figures=$(python3 bench/latency.py "$pp" "$brokers" "$t" "lat-$run_id-$setting-$rate-$r" "$rate" "$seconds" \
          -- "${extra[@]}")
      fi
      latency+=("$setting|$rate|$figures")
    done
  done
done

# ---- rebalance --------------------------------------------------------------------------------
# Per group protocol, on a fresh 6-partition topic at 1000 events/s: B joins A's group, then
# leaves; A's longest print gap around each, and B's first print (bench/rebalance.py).
rebalance=()
for protocol in classic consumer; do
  rebalance+=("$(python3 bench/rebalance.py "$pp" "$brokers" "bench-rebalance-$protocol-$run_id" \
    "rebalance-$run_id-$protocol" "$protocol" "$rebalance_window")")
done

codec=$("$build_dir/codec_bench" 2000000 | tr '\n' ' ')

# ---- the table --------------------------------------------------------------------------------
{
  echo "events per contender: $count; runs per contender: $runs; broker: Apache Kafka (scripts/kafka.sh), 3 partitions, acks=all"
  echo "librdkafka: $(dpkg-query -W -f='${Version}' librdkafka1) (pricepipe and kcat)"
  echo
  python3 bench/bench_table.py "$count" "$work/rows"
  echo
  echo "produce-to-print latency (CreateTime to the reader's clock), p50 / p99 / p99.9 ms, medians of"
  echo "$latency_runs runs (every run's p99 in brackets); pricepipe with its shipped settings and with"
  echo "librdkafka's producer defaults, and kcat -P to kcat -C with pricepipe's producer settings:"
  printf '%s\n' "${latency[@]}" | python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    setting, rate, p50, p99, p999, lines = line.strip().split("|")
    runs.setdefault((setting, int(rate)), []).append((float(p50), float(p99), float(p999), int(lines)))
for (setting, rate), rs in runs.items():
    med = [statistics.median(r[i] for r in rs) for i in range(3)]
    label = {"shipped": "pricepipe, shipped", "librdkafka": "pricepipe, librdkafka defaults",
             "kcat": "kcat -P to kcat -C"}[setting]
    print("  %-31s rate %6d/s: %.2f / %.2f / %.2f (%d lines a run; p99 %s)" % (
        label, rate, med[0], med[1], med[2], rs[0][3], ", ".join("%.2f" % r[1] for r in rs)))'

  echo
  echo "rebalance at 1000 events/s on 6 partitions, ${rebalance_window} s windows: B's first print after its start;"
  echo "A's longest gap between two printed lines before B joins / after B joins / after B leaves (s):"
  for row in "${rebalance[@]}"; do
    IFS='|' read -r protocol first before join leave <<< "$row"
    printf '  %-8s protocol: first print %s; gaps %s / %s / %s\n' "$protocol" "$first" "$before" "$join" "$leave"
  done
  echo
  echo "codec per event: $codec"
} | tee "$work/table.txt"
