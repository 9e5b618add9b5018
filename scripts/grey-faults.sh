#!/usr/bin/env bash
# Measures what pricepipe does through one grey failure, for RELIABILITY.md: it runs the built
# daemon against a running broker at 1,000 events/s, samples /readyz, /livez, RSS and a few
# metrics every second, applies the fault, lets it heal, stops the daemon and compares what it
# printed with the topic (kcat). Root (iptables) and a broker (scripts/kafka.sh start).
#
#   scripts/grey-faults.sh blackhole SECONDS        every packet to and from the broker dropped
#   scripts/grey-faults.sh loss PERCENT SECONDS     that share of them dropped at random
#   scripts/grey-faults.sh paused-reader SECONDS    stdout is a FIFO whose reader stops reading
#
# Environment: BUILD (default build), BROKERS (default 127.0.0.1:9092), RATE (1000). The
# samples go to OUT (default /tmp/pricepipe-grey-<fault>-<time>/samples.txt) as lines of
# "t readyz livez rss_kib printed delivered oldest_undelivered_s output_blocked_s restarts".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
brokers=${BROKERS:-127.0.0.1:9092}
rate=${RATE:-1000}
fault=${1:-}
case $fault in
  blackhole) [ $# -eq 2 ] || { sed -n '2,16p' "$0" >&2; exit 64; }; seconds=$2 ;;
  loss) [ $# -eq 3 ] || { sed -n '2,16p' "$0" >&2; exit 64; }; percent=$2; seconds=$3 ;;
  paused-reader) [ $# -eq 2 ] || { sed -n '2,16p' "$0" >&2; exit 64; }; seconds=$2 ;;
  *) sed -n '2,16p' "$0" >&2; exit 64 ;;
esac
dir=${OUT:-/tmp/pricepipe-grey-$fault-$(date +%s)}
mkdir -p "$dir"
topic=grey-$fault-$(date +%s)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
broker_port=${brokers##*:}

mkfifo "$dir/stdout"
# The reader: reads everything, except while paused-reader holds it.
(
  exec 3<"$dir/stdout"
  if [ "$fault" = paused-reader ]; then sleep $((seconds + 10)); fi
  cat <&3 >"$dir/printed.txt"
) &
reader=$!
"$build/pricepipe" --config "$root/supervisor.conf" --kafka.brokers="$brokers" --kafka.topic="$topic" \
  --consumer.group_id="g-$topic" --consumer.output=envelope --producer.rate="$rate" \
  --supervisor.http_port="$port" --log.stats_interval_s=10 >"$dir/stdout" 2>"$dir/log.txt" &
daemon=$!
fault_pid=
cleanup() {
  [ -n "$fault_pid" ] && kill "$fault_pid" 2>/dev/null || true
  "$root/scripts/net-fault.sh" clear "$broker_port" || true
  kill "$daemon" 2>/dev/null || true
}
trap cleanup EXIT

metric() { grep -E "^$1 " <<<"$2" | awk '{print $2}' | head -1; }
sample() {
  local t=$1 m
  m=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" || true)
  echo "$t $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/readyz") \
$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/livez") \
$(awk '/VmRSS/ {print $2}' "/proc/$daemon/status") $(metric pricepipe_events_printed_total "$m") \
$(metric pricepipe_events_delivered_total "$m") $(metric pricepipe_oldest_undelivered_seconds "$m") \
$(metric pricepipe_output_blocked_seconds_total "$m") \
$(grep -E '^pricepipe_worker_restarts_total' <<<"$m" | awk '{s+=$2} END {print s}')" >>"$dir/samples.txt"
}

# 20 s of steady state, the fault, then 60 s to heal and catch up.
t=0
for _ in $(seq 20); do sample $t; sleep 1; t=$((t + 1)); done
echo "# $t fault on: $*" >>"$dir/samples.txt"
case $fault in
  blackhole) "$root/scripts/net-fault.sh" blackhole "$broker_port" "$seconds" >/dev/null & fault_pid=$! ;;
  loss) "$root/scripts/net-fault.sh" loss "$broker_port" "$percent" "$seconds" >/dev/null & fault_pid=$! ;;
  paused-reader) ;;
esac
for _ in $(seq "$seconds"); do sample $t; sleep 1; t=$((t + 1)); done
[ -n "$fault_pid" ] && wait "$fault_pid" || true
fault_pid=
echo "# $t fault off" >>"$dir/samples.txt"
for _ in $(seq 60); do sample $t; sleep 1; t=$((t + 1)); done
kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
wait "$reader" || true
in_topic=$(kcat -b "$brokers" -C -t "$topic" -e -q -f '%p %o\n' | sort -u | wc -l)
printed=$(python3 -c '
import json, sys
seen = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    seen.add((r["partition"], r["offset"]))
print(len(seen))' "$dir/printed.txt")
lines=$(wc -l <"$dir/printed.txt")
{
  echo "# exit $status; in the topic $in_topic; printed $lines lines, $printed different records"
  echo "# restarts: $(grep -c 'restarting in' "$dir/log.txt" || true); stalls: $(grep -c stalled "$dir/log.txt" || true)"
} >>"$dir/samples.txt"
echo "$dir/samples.txt"
tail -3 "$dir/samples.txt"
