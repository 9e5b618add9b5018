#!/usr/bin/env bash
# Soak test (not in CI): runs pricepipe at a fixed rate against a three-node Kafka cluster of its
# own for a set time while a chaos loop, on a seeded random plan, sends SIGHUPs, restarts brokers
# one at a time and kill -9s the daemon, which this script restarts like systemd's
# Restart=always would. At the end it turns the producer off with a reload, lets the consumer
# read to the end of the topic, stops the daemon with SIGTERM (exit 0 expected), reads the whole
# topic with kcat as the independent truth and reports events delivered, printed, missing,
# duplicated, restarts and RSS over time. Exit 0 only if nothing is missing, nothing was printed
# that is not in the topic, every printed event matches its record, and the final stop was clean.
#   scripts/soak.sh [--duration S] [--rate N] [--seed N] [--gap MIN-MAX] [--actions LIST] [--out DIR]
#                   [--keep] [--keep-output] [--dynamic]
#     --duration S    length of the chaos phase in seconds (default 600)
#     --rate N        producer.rate, events per second (default 10000)
#     --seed N        seed of the chaos plan (default: random; the report names it)
#     --gap MIN-MAX   seconds between two chaos actions (default 30-60)
#     --actions LIST  chaos action kinds, comma-separated (default hup,broker,kill); e.g. hup,broker
#                     keeps one daemon alive throughout, to watch its RSS over the whole run
#     --out DIR       results directory (default $PRICEPIPE_CACHE/soak/RUN_ID)
#     --keep          leave the soak cluster running with its data (default: stop and wipe it)
#     --keep-output   keep the printed events and the topic dump (kept anyway when a check fails)
#     --dynamic       dynamic group membership (default: static, consumer.instance_id=soak-RUN_ID
#                     for every daemon, as the systemd unit and compose files set one per host)
# Chaos actions come in shuffled rounds of one of each kind, so each kind happens equally often:
#   hup     SIGHUP after editing the run's config file, cycling through: a consumer Kafka setting
#           (consumer restarted), a producer Kafka setting (producer restarted), a generator key
#           (applied live), nothing (unchanged)
#   broker  one node stopped (alternately SIGTERM and SIGKILL), down 5-15 s, started again; the
#           next action waits until every partition is back to 3 in-sync replicas
#   kill    kill -9 of the daemon, restarted 1 s later with the same command line
# The cluster runs on its own ports and run directory (scripts/kafka.sh --nodes 3), so it can run
# beside the test and benchmark brokers:
#   PRICEPIPE_SOAK_KAFKA_RUN   (default $PRICEPIPE_CACHE/soak-run)
#   PRICEPIPE_SOAK_KAFKA_PORT, PRICEPIPE_SOAK_KAFKA_CONTROLLER_PORT  first of 3 (39092, 39192)
#   PRICEPIPE_SOAK_KAFKA_PROPS broker properties (default: fence a killed node after 4 s)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=600
rate=10000
seed=""
gap=30-60
out=""
keep=0
keep_output=0
membership=static
actions=hup,broker,kill
usage() { sed -n '/^#   scripts\/soak.sh/,/^#                     for every daemon/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-64}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:?}; shift ;;
    --duration=*) duration=${1#*=} ;;
    --rate) rate=${2:?}; shift ;;
    --rate=*) rate=${1#*=} ;;
    --seed) seed=${2:?}; shift ;;
    --seed=*) seed=${1#*=} ;;
    --gap) gap=${2:?}; shift ;;
    --gap=*) gap=${1#*=} ;;
    --out) out=${2:?}; shift ;;
    --out=*) out=${1#*=} ;;
    --keep) keep=1 ;;
    --keep-output) keep_output=1 ;;
    --dynamic) membership=dynamic ;;
    --actions) actions=${2:?}; shift ;;
    --actions=*) actions=${1#*=} ;;
    -h|--help) usage 0 ;;
    *) echo "soak: unknown option $1" >&2; usage ;;
  esac
  shift
done
[[ $duration =~ ^[0-9]+$ && $rate =~ ^[0-9]+$ ]] || { echo "soak: --duration and --rate take integers" >&2; exit 64; }
[[ $gap =~ ^([0-9]+)-([0-9]+)$ ]] || { echo "soak: --gap takes MIN-MAX, e.g. 30-60" >&2; exit 64; }
gap_min=${BASH_REMATCH[1]}
gap_max=${BASH_REMATCH[2]}
((gap_min >= 1 && gap_max >= gap_min)) || { echo "soak: --gap needs 1 <= MIN <= MAX" >&2; exit 64; }
IFS=, read -r -a kinds <<<"$actions"
for a in "${kinds[@]}"; do
  case $a in hup|broker|kill) ;; *) echo "soak: --actions takes hup, broker and kill, comma-separated" >&2; exit 64 ;; esac
done
((${#kinds[@]} >= 1 && ${#kinds[@]} <= 3)) || { echo "soak: --actions takes one to three kinds" >&2; exit 64; }
[ -n "$seed" ] || seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
[[ $seed =~ ^[0-9]+$ ]] || { echo "soak: --seed takes an integer" >&2; exit 64; }

cache=${PRICEPIPE_CACHE:-$HOME/.cache/pricepipe}
export PRICEPIPE_KAFKA_RUN=${PRICEPIPE_SOAK_KAFKA_RUN:-$cache/soak-run}
export PRICEPIPE_KAFKA_CLUSTER_PORT=${PRICEPIPE_SOAK_KAFKA_PORT:-39092}
export PRICEPIPE_KAFKA_CLUSTER_CONTROLLER_PORT=${PRICEPIPE_SOAK_KAFKA_CONTROLLER_PORT:-39192}
export PRICEPIPE_KAFKA_EXTRA_PROPS=${PRICEPIPE_SOAK_KAFKA_PROPS-broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000}
run_id=$(date +%Y%m%d-%H%M%S)-$$
out=${out:-$cache/soak/$run_id}
mkdir -p "$out/logs" "$out/events"
out=$(cd "$out" && pwd)
timeline=$out/timeline.log
: >"$timeline"
t0=$SECONDS

note() {  # a timestamped line on stderr and in the timeline
  local line
  line=$(printf '[%s +%4ds] %s' "$(date +%H:%M:%S)" $((SECONDS - t0)) "$*")
  echo "$line" >>"$timeline"
  echo "soak: $line" >&2
}
die() { note "error: $*"; exit 2; }

kafka() { bash scripts/kafka.sh "$@" 7>&-; }  # fd 7: the soak's lock, not for the brokers

# One soak at a time per cluster: a second one would reuse this cluster and wipe it at its end.
mkdir -p "$PRICEPIPE_KAFKA_RUN"
exec 7>"$PRICEPIPE_KAFKA_RUN/soak.lock"
flock -n 7 || die "another scripts/soak.sh runs on $PRICEPIPE_KAFKA_RUN (set PRICEPIPE_SOAK_KAFKA_RUN and the ports to run a second one)"

bash scripts/install-deps.sh
CMAKE_BUILD_TYPE=Release bash scripts/build.sh build-soak -DPRICEPIPE_BUILD_TESTS=OFF >&2
pp=$PWD/build-soak/pricepipe
# What the binary was built from, taken now: the tree may change while the soak runs.
built_from="git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || echo ' + uncommitted changes in src/include')"

# ---- state and cleanup ---------------------------------------------------------------------

daemon_pid=""
inst=0
broker_job=""
cluster_started=0
finished=0
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$broker_job" ] && kill -0 "$broker_job" 2>/dev/null; then
    kill -TERM -- "-$broker_job" 2>/dev/null || true
    wait "$broker_job" 2>/dev/null || true
  fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [ "$finished" = 0 ]; then
    echo "soak: interrupted or failed (exit $rc); results so far in $out" >&2
  fi
  if [ "$cluster_started" = 1 ]; then
    mkdir -p "$out/kafka-logs"
    for n in 1 2 3; do
      cp "$PRICEPIPE_KAFKA_RUN/cluster/node$n/logs/server.log" "$out/kafka-logs/node$n-server.log" 2>/dev/null || true
    done
    if [ "$keep" = 1 ]; then
      echo "soak: cluster left running (--keep): $(kafka bootstrap --nodes 3)" >&2
    else
      PRICEPIPE_KAFKA_STOP_TIMEOUT=10 kafka reset --nodes 3 >&2 || true  # its data goes anyway
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'note "interrupted"; exit 130' INT TERM

# ---- cluster --------------------------------------------------------------------------------

if kafka status --nodes 3 >/dev/null 2>&1; then
  note "soak cluster already running in $PRICEPIPE_KAFKA_RUN; using it"
else
  kafka reset --nodes 3 >&2  # a fresh cluster: no stale data or ports from an earlier run
  kafka start --nodes 3 >&2
fi
cluster_started=1
brokers=$(kafka bootstrap --nodes 3)
topic=soak-$run_id
group=soak-$run_id

# True when every partition of every topic has a leader and 3 in-sync replicas.
cluster_healthy() {
  local md
  md=$(timeout 15 kcat -L -b "$brokers" -m 5 2>/dev/null) || return 1
  awk '/^ +partition [0-9]+,/ { n++; if ($0 !~ /isrs: [0-9]+,[0-9]+,[0-9]+(,|$)/ || $0 ~ /leader -1/ || $0 ~ /Err/) bad++ }
       END { exit (n > 0 && bad == 0) ? 0 : 1 }' <<<"$md"
}

# ---- the daemon -----------------------------------------------------------------------------

conf=$out/soak.conf
conf_producer_enabled=true
conf_price_max=1000.00
conf_linger_ms=5
conf_fetch_wait_ms=500
write_conf() {  # atomically, so a SIGHUP never reads half a file
  cat >"$conf.tmp" <<EOF
# Written by scripts/soak.sh. SIGHUPs toggle these keys; the command line sets the rest.
[producer]
enabled = $conf_producer_enabled
price_max = $conf_price_max

[librdkafka]
producer.linger.ms = $conf_linger_ms
consumer.fetch.wait.max.ms = $conf_fetch_wait_ms
EOF
  mv -f "$conf.tmp" "$conf"
}
write_conf

daemon_args=(--config "$conf" --kafka.brokers="$brokers" --kafka.topic="$topic" --kafka.partitions=6
  --kafka.replication_factor=3 --producer.rate="$rate" --consumer.group_id="$group"
  --consumer.output=envelope --log.stats_interval_s=10)
# One id for every daemon of the run: they never run at the same time.
[ "$membership" = dynamic ] || daemon_args+=(--consumer.instance_id="soak-$run_id")
tag() { printf '%03d' "$1"; }
daemon_log() { echo "$out/logs/daemon-$(tag "$inst").log"; }
start_daemon() {
  inst=$((inst + 1))
  local events_file started_ns
  events_file=$out/events/daemon-$(tag "$inst").out
  started_ns=$(date +%s%N)
  "$pp" "${daemon_args[@]}" </dev/null >"$events_file" 2>"$(daemon_log)" 7>&- &
  daemon_pid=$!
  # Restart-to-first-print: watched from outside, as a user sees it (stdout has no clock).
  (
    while [ ! -s "$events_file" ] && kill -0 "$daemon_pid" 2>/dev/null; do sleep 0.05; done
    [ -s "$events_file" ] && echo "$inst $(( ($(date +%s%N) - started_ns) / 1000000 ))" >>"$out/first-print"
  ) 7>&- &
  echo "$inst $daemon_pid $((SECONDS - t0))" >>"$out/instances"
  note "daemon #$inst started (pid $daemon_pid)"
}
daemon_alive() {
  local st
  st=$(ps -o stat= -p "$daemon_pid" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

# ---- the chaos plan, from the seed ------------------------------------------------------------

# Every order of the kinds, in lexicographic order of their positions; each round takes one.
permutations() {  # permutations PREFIX... -- REST...
  local prefix=() rest=() seen=0 i
  for i in "$@"; do
    if [ "$i" = -- ]; then seen=1; elif [ "$seen" = 0 ]; then prefix+=("$i"); else rest+=("$i"); fi
  done
  if ((${#rest[@]} == 0)); then echo "${prefix[*]}"; return; fi
  for i in "${!rest[@]}"; do
    permutations "${prefix[@]}" "${rest[$i]}" -- "${rest[@]:0:$i}" "${rest[@]:$((i + 1))}"
  done
}
mapfile -t perms < <(permutations -- "${kinds[@]}")
RANDOM=$seed
plan=()
t=0
broker_n=0
while :; do
  for action in ${perms[$((RANDOM % ${#perms[@]}))]}; do
    t=$((t + gap_min + RANDOM % (gap_max - gap_min + 1)))
    ((t < duration)) || break 2
    case $action in
      broker)
        mode=stop
        ((broker_n % 2 == 0)) || mode="kill"
        broker_n=$((broker_n + 1))
        plan+=("$t broker $((1 + RANDOM % 3)) $mode $((5 + RANDOM % 11))") ;;
      *) plan+=("$t $action") ;;
    esac
  done
done
printf '%s\n' "${plan[@]}" >"$out/plan.txt"
t0=$SECONDS  # the clock of the chaos phase starts with the daemon
note "soak $run_id: ${duration}s at ${rate}/s, seed $seed, ${#plan[@]} chaos actions planned (plan.txt), topic $topic on $brokers, results in $out"

# ---- chaos phase ------------------------------------------------------------------------------

echo "elapsed_s,unix_time,instance,pid,rss_kb" >"$out/rss.csv"
sample_rss() {
  local rss
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$((SECONDS - t0)),$(date +%s),$inst,$daemon_pid,$rss" >>"$out/rss.csv"
  return 0
}

kills=0
unexpected_exits=0
hups=0
broker_restarts=0
hup_kinds=(consumer producer live unchanged)
reloads_in_log() { grep -cE 'reload: (applied|.* unchanged)|keeping the running configuration' "$(daemon_log)" || true; }
hup_pending=""      # "count_before deadline" while a reload is awaited
broker_pending=""   # description of the running broker job
recovering_since="" # set while waiting for full ISR after a broker job

# Restarts the daemon if it ended on its own (a service manager's Restart=always).
check_daemon() {
  daemon_alive && return 0
  local rc=0
  wait "$daemon_pid" || rc=$?
  unexpected_exits=$((unexpected_exits + 1))
  note "daemon #$inst (pid $daemon_pid) exited on its own with $rc; restarting it (tail of its log follows)"
  tail -n 5 "$(daemon_log)" | sed 's/^/    /' | tee -a "$timeline" >&2
  sleep 1
  start_daemon
}

do_hup() {
  local kind=${hup_kinds[$((hups % 4))]}
  case $kind in
    consumer) if [ "$conf_fetch_wait_ms" = 500 ]; then conf_fetch_wait_ms=100; else conf_fetch_wait_ms=500; fi ;;
    producer) if [ "$conf_linger_ms" = 5 ]; then conf_linger_ms=20; else conf_linger_ms=5; fi ;;
    live) if [ "$conf_price_max" = 1000.00 ]; then conf_price_max=999.99; else conf_price_max=1000.00; fi ;;
    unchanged) ;;
  esac
  write_conf
  hups=$((hups + 1))
  hup_pending="$(reloads_in_log) $((SECONDS + 30))"
  kill -HUP "$daemon_pid"
  note "SIGHUP #$hups ($kind) to daemon #$inst"
}

check_hup() {
  [ -n "$hup_pending" ] || return 0
  local before deadline line
  read -r before deadline <<<"$hup_pending"
  if (($(reloads_in_log) > before)); then
    line=$(grep -E 'reload: (applied|.* unchanged)|keeping the running configuration' "$(daemon_log)" | tail -n 1)
    note "  reload done: ${line#*] }"
    hup_pending=""
    ready_at=$((SECONDS - t0 + 10))
  elif ((SECONDS >= deadline)); then
    note "  WARNING: no reload result in daemon #$inst's log within 30 s"
    hup_pending=""
    ready_at=$((SECONDS - t0 + 10))
  fi
}

do_broker() {
  local node=$1 mode=$2 down=$3 how="stopped (SIGTERM)"
  [ "$mode" = stop ] || how="killed (SIGKILL)"
  broker_restarts=$((broker_restarts + 1))
  note "broker restart #$broker_restarts: node $node $how, down ${down}s"
  setsid bash -c "bash scripts/kafka.sh $mode-node $node --nodes 3 && sleep $down && bash scripts/kafka.sh start-node $node --nodes 3" \
    </dev/null >>"$out/logs/broker-jobs.log" 2>&1 7>&- &
  broker_job=$!
  broker_pending="node $node"
}

check_broker() {
  if [ -n "$broker_pending" ] && ! kill -0 "$broker_job" 2>/dev/null; then
    local rc=0
    wait "$broker_job" || rc=$?
    broker_job=""
    [ "$rc" = 0 ] || die "broker job for $broker_pending failed ($rc); see $out/logs/broker-jobs.log"
    note "  $broker_pending serves again; waiting for 3 in-sync replicas everywhere"
    broker_pending=""
    recovering_since=$SECONDS
  fi
  if [ -n "$recovering_since" ] && cluster_healthy; then
    note "  cluster fully in sync $((SECONDS - recovering_since))s after the restart"
    recovering_since=""
    ready_at=$((SECONDS - t0 + 10))
  elif [ -n "$recovering_since" ] && ((SECONDS - recovering_since > 300)); then
    die "partitions not back to 3 in-sync replicas within 300 s"
  fi
}

do_kill() {
  kills=$((kills + 1))
  note "kill -9 #$kills of daemon #$inst (pid $daemon_pid)"
  kill -KILL "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null || true
  sleep 1
  start_daemon
  ready_at=$((SECONDS - t0 + 10))
}

busy() { [ -n "$broker_pending$recovering_since$hup_pending" ]; }

tick_rss() {
  if ((SECONDS - t0 >= next_rss)); then sample_rss; next_rss=$((SECONDS - t0 + 10)); fi
}

start_daemon
next_rss=0
next_progress=60
ready_at=0  # an action waits for the one before to finish, plus 10 s
i=0
while ((SECONDS - t0 < duration)); do
  check_daemon
  check_hup
  check_broker
  tick_rss
  now=$((SECONDS - t0))
  if ((i < ${#plan[@]})); then
    read -r at action a1 a2 a3 <<<"${plan[$i]}"
    if ((now >= at && now >= ready_at)) && ! busy; then
      case $action in
        hup) do_hup ;;
        broker) do_broker "$a1" "$a2" "$a3" ;;
        kill) do_kill ;;
      esac
      i=$((i + 1))
    fi
  fi
  if ((now >= next_progress)); then
    note "progress: daemon #$inst rss $(awk -F, -v d="$inst" '$3 == d { kb = $5 } END { print kb + 0 }' "$out/rss.csv") kB; $kills kills, $broker_restarts broker restarts, $hups SIGHUPs, $unexpected_exits unexpected exits"
    next_progress=$((now + 60))
  fi
  sleep 1
done
note "chaos phase over ($i of ${#plan[@]} planned actions done)"

# ---- drain and stop -----------------------------------------------------------------------

while busy; do
  check_daemon
  check_hup
  check_broker
  tick_rss
  sleep 1
done

# Prints the last offset of each partition of the topic, "P O" per line.
topic_ends() { timeout 120 kcat -C -b "$brokers" -t "$topic" -o -1 -e -q -f '%p %o\n'; }
# Exit 0 when the daemons' output holds, for each "P O" line of $1, partition P's offset O.
printed_up_to() {
  python3 - "$out/events" "$1" <<'PY'
import glob, os, re, sys
want = {}
for line in sys.argv[2].splitlines():
    p, o = line.split()
    want[int(p)] = int(o)
seen = {}
rx = re.compile(rb'"partition":(\d+),"offset":(\d+),')
for path in sorted(glob.glob(os.path.join(sys.argv[1], "daemon-*.out")), reverse=True):
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 16 * 1024 * 1024))
        for m in rx.finditer(f.read()):
            p, o = int(m.group(1)), int(m.group(2))
            if o > seen.get(p, -1):
                seen[p] = o
    if all(seen.get(p, -1) >= o for p, o in want.items()):
        sys.exit(0)
sys.exit(1)
PY
}

check_daemon
sample_rss
conf_producer_enabled=false
write_conf
hup_pending="$(reloads_in_log) $((SECONDS + 30))"
kill -HUP "$daemon_pid"
note "producer off: producer.enabled=false and SIGHUP to daemon #$inst; waiting for the consumer to read to the end"
while [ -n "$hup_pending" ]; do check_hup; sleep 1; done
drain_deadline=$((SECONDS + 300))
drained=0
next_note=$((SECONDS + 30))
while ((SECONDS < drain_deadline)); do
  check_daemon
  ends=$(topic_ends || true)
  if [ -n "$ends" ] && printed_up_to "$ends"; then drained=1; break; fi
  tick_rss
  if ((SECONDS >= next_note)); then
    note "  still draining; last offsets in the topic: $(sort -n <<<"$ends" | tr ' \n' ': ')"
    next_note=$((SECONDS + 30))
  fi
  sleep 3
done
if [ "$drained" = 1 ]; then
  note "consumer caught up with the end of every partition (last offsets: $(sort -n <<<"$ends" | tr ' \n' ': '))"
else
  note "WARNING: the consumer did not print up to the end of every partition within 300 s"
fi
sample_rss
sleep 6  # let an automatic commit happen too (the graceful stop commits anyway)
note "SIGTERM to daemon #$inst (pid $daemon_pid)"
kill -TERM "$daemon_pid"
final_rc=""
for _ in $(seq 1 600); do
  daemon_alive || break
  sleep 0.1
done
if daemon_alive; then
  note "ERROR: daemon #$inst still running 60 s after SIGTERM; kill -9"
  kill -KILL "$daemon_pid"
  final_rc=killed
  wait "$daemon_pid" 2>/dev/null || true
else
  final_rc=0
  wait "$daemon_pid" || final_rc=$?
fi
daemon_pid=""
note "daemon #$inst exited with $final_rc"

note "reading the whole topic with kcat"
kcat -C -b "$brokers" -t "$topic" -o beginning -e -q -f '%p\t%o\t%T\t%k\t%s\n' >"$out/events/topic.tsv"
note "topic: $(wc -l <"$out/events/topic.tsv") records"

# ---- report ---------------------------------------------------------------------------------

report=$out/report.txt
{
  echo "pricepipe soak $run_id"
  echo "command:   scripts/soak.sh --duration $duration --rate $rate --seed $seed --gap $gap --actions $actions$([ "$membership" = dynamic ] && echo " --dynamic")"
  echo "membership: $membership$([ "$membership" = static ] && echo " (consumer.instance_id=soak-$run_id)")"
  echo "machine:   $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), $(dpkg-query -W -f='librdkafka ${Version}' librdkafka1 2>/dev/null), Kafka ${PRICEPIPE_KAFKA_VERSION:-4.4.0} (3 nodes, RF 3, min.insync.replicas 2)"
  echo "pricepipe: $("$pp" --version 2>&1 | head -n 1), built (Release, build-soak/) from $built_from"
  echo "topic:     $topic (6 partitions, RF 3), group $group"
  echo "chaos:     $i actions over ${duration}s (plan.txt): $hups SIGHUPs, $broker_restarts broker restarts, $kills daemon kill -9s; $unexpected_exits unexpected daemon exits"
  echo "final stop: producer off by reload, consumer drained: $([ "$drained" = 1 ] && echo yes || echo NO), SIGTERM exit code $final_rc"
} >"$report"

checks_rc=0
nice python3 - "$out" "$rate" "$duration" >>"$report" <<'PY' || checks_rc=$?
import array, collections, datetime, glob, os, re, sys, zlib

out, rate, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ev = os.path.join(out, "events")

# The truth: every record in the topic, and a CRC of its timestamp, key and value.
offs = collections.defaultdict(lambda: array.array("q"))
ts_min, ts_max = None, None
crcs = collections.defaultdict(lambda: array.array("I"))
with open(os.path.join(ev, "topic.tsv"), "rb") as f:
    for line in f:
        p, o, ts, key, value = line.rstrip(b"\n").split(b"\t", 4)
        offs[int(p)].append(int(o))
        t = int(ts)
        if ts_min is None or t < ts_min:
            ts_min = t
        if ts_max is None or t > ts_max:
            ts_max = t
        crcs[int(p)].append(zlib.crc32(ts + b"\t" + key + b"\t" + value))
ends = {p: max(a) + 1 for p, a in offs.items()}
present = {p: bytearray(n) for p, n in ends.items()}
crc = {p: array.array("I", bytes(4 * n)) for p, n in ends.items()}
for p in offs:
    for o, c in zip(offs[p], crcs[p]):
        present[p][o] = 1
        crc[p][o] = c
del offs, crcs
in_topic = sum(sum(b) for b in present.values())
gaps = sum(len(b) - sum(b) for b in present.values())

count = {p: bytearray(n) for p, n in ends.items()}        # times printed, capped at 255
first = {p: array.array("H", bytes(2 * n)) for p, n in ends.items()}  # daemon that printed it first
rx = re.compile(rb'^\{"topic":"[^"]*","partition":(\d+),"offset":(\d+),"timestamp":(-?\d+),"key":"([^"]*)","event":(\{[^{}]*\})\}$')
lines = torn = not_in_topic = mismatch = 0
dup_later = dup_same = 0
torn_examples, extra_examples, mismatch_examples = [], [], []
per_daemon = []
paths = sorted(glob.glob(os.path.join(ev, "daemon-*.out")))
for path in paths:
    d = int(os.path.basename(path)[7:10])
    n_lines = n_new = n_re = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            n_lines += 1
            m = rx.match(line.rstrip(b"\n"))
            if not m:
                torn += 1
                if len(torn_examples) < 3:
                    torn_examples.append("daemon #%d line %d: %r" % (d, n_lines, line[:100]))
                continue
            p, o = int(m.group(1)), int(m.group(2))
            if p not in present or o >= len(present[p]) or not present[p][o]:
                not_in_topic += 1
                if len(extra_examples) < 5:
                    extra_examples.append("partition %d offset %d (daemon #%d)" % (p, o, d))
                continue
            if zlib.crc32(m.group(3) + b"\t" + m.group(4) + b"\t" + m.group(5)) != crc[p][o]:
                mismatch += 1
                if len(mismatch_examples) < 5:
                    mismatch_examples.append("partition %d offset %d (daemon #%d): %r" % (p, o, d, line[:160]))
            c = count[p][o]
            if c == 0:
                first[p][o] = d
                n_new += 1
            else:
                n_re += 1
                if first[p][o] == d:
                    dup_same += 1
                else:
                    dup_later += 1
            if c < 255:
                count[p][o] = c + 1
    per_daemon.append((d, n_lines, n_new, n_re))

printed_unique = duplicated_offsets = max_times = 0
missing = []
for p in sorted(present):
    pr, cn = present[p], count[p]
    for o in range(len(pr)):
        if not pr[o]:
            continue
        c = cn[o]
        if c == 0:
            missing.append((p, o))
        else:
            printed_unique += 1
            if c > 1:
                duplicated_offsets += 1
            max_times = max(max_times, c)

def ranges(pairs):
    out, start, prev = [], None, None
    for p, o in pairs:
        if start and p == start[0] and o == prev + 1:
            prev = o
            continue
        if start:
            out.append("p%d:%d-%d" % (start[0], start[1], prev) if prev != start[1] else "p%d:%d" % start)
        start, prev = (p, o), o
    if start:
        out.append("p%d:%d-%d" % (start[0], start[1], prev) if prev != start[1] else "p%d:%d" % start)
    return out

# The producer's own counters: the last stats line of each daemon (a kill -9 loses up to 10 s).
stats_rx = re.compile(r"(?:stats: |pricepipe stopped: |exiting now with code \d+; )((?:\w+=[\d.]+ ?)+)$")
level_rx = re.compile(r"^\S+ (warning|error|critical)\s+\[\d+\] (.*)")
sums = collections.Counter()
restarts = collections.Counter()
warn = collections.Counter()
final_stats = None
joined = {}  # daemon -> seconds from its start to its consumer's first assignment
first_print = {}  # daemon -> seconds from its start to its first line on stdout
if os.path.exists(os.path.join(out, "first-print")):
    with open(os.path.join(out, "first-print")) as f:
        for line in f:
            d, ms = line.split()
            first_print[int(d)] = int(ms) / 1000.0
def stamp(line):
    try:
        return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    except ValueError:
        return None
logs = sorted(glob.glob(os.path.join(out, "logs", "daemon-*.log")))
for path in logs:
    last = None
    d = int(os.path.basename(path)[7:10])
    started = None
    with open(path, errors="replace") as f:
        for line in f:
            if started is None and "pricepipe starting" in line:
                started = stamp(line)
            if d not in joined and started is not None and "consumer: assigned partitions" in line:
                t = stamp(line)
                if t is not None:
                    joined[d] = t - started
            m = stats_rx.search(line.rstrip("\n"))
            if m:
                last = dict(kv.split("=") for kv in m.group(1).split())
            w = re.search(r"(\w+) worker failed \((.*)\); restarting", line)
            if w:
                restarts[w.group(1) + ": " + re.sub(r"\d+", "N", w.group(2))[:120]] += 1
            lv = level_rx.match(line)
            if lv:
                warn[lv.group(1) + ": " + re.sub(r"\d+", "N", lv.group(2))[:150]] += 1
    if last:
        for k in ("generated", "delivered", "failed", "consumed", "printed", "skipped"):
            sums[k] += int(last.get(k, 0))
        if path == logs[-1]:
            final_stats = last

print()
print("events")
span = (ts_max - ts_min) / 1000 if in_topic > 1 else 0
print("  in the topic (delivered, per kcat):  %d  (created over %.0f s: %.0f/s)" % (in_topic, span, in_topic / span if span else 0))
if gaps:
    print("  offset gaps in the topic:            %d" % gaps)
print("  per the daemons' logs:              generated %d, acknowledged %d, failed %d (sum of each daemon's last counters; a kill -9 loses up to 10 s of them)"
      % (sums["generated"], sums["delivered"], sums["failed"]))
print("  printed lines:                       %d (%d daemons)" % (lines, len(paths)))
print("  printed, distinct partition/offset:  %d" % printed_unique)
print("  MISSING (in the topic, never printed): %d%s" % (len(missing), "" if not missing else "  <-- FAILURE"))
if missing:
    print("    " + " ".join(ranges(missing)[:30]))
print("  duplicated (printed again):          %d extra lines over %d offsets, at most %d times; %d by a later daemon (after a kill -9), %d within one daemon"
      % (dup_later + dup_same, duplicated_offsets, max_times, dup_later, dup_same))
print("  printed but not in the topic:        %d%s" % (not_in_topic, "" if not not_in_topic else "  <-- FAILURE"))
for e in extra_examples:
    print("    " + e)
print("  printed content differing from the record: %d%s" % (mismatch, "" if not mismatch else "  <-- FAILURE"))
for e in mismatch_examples:
    print("    " + e)
print("  torn lines (cut by a kill -9 mid-write): %d" % torn)
for e in torn_examples:
    print("    " + e)
print()
print("daemons: stdout lines, printed for the first time, printed again (after the kill -9 before it);")
print("         consumer's first assignment and first printed line, after the daemon's start")
for d, n, new, re_ in per_daemon:
    j = "%.1f s" % joined[d] if d in joined else "never"
    fp = "%.2f s" % first_print[d] if d in first_print else "never"
    print("  #%-3d %9d lines %9d new %8d again   assigned after %s, first print after %s" % (d, n, new, re_, j, fp))
if final_stats:
    print("  last daemon's produce-to-print latency (its own histogram, capped at 10 s): p50 %s ms, p99 %s ms, p99.9 %s ms"
          % (final_stats.get("latency_p50_ms"), final_stats.get("latency_p99_ms"), final_stats.get("latency_p999_ms")))
print()
print("worker restarts inside the daemons (supervisor log): %d" % sum(restarts.values()))
for k, v in restarts.most_common():
    print("  %4d  %s" % (v, k))
print("warnings and errors in the daemons' logs: %d" % sum(warn.values()))
for k, v in warn.most_common(15):
    print("  %5d  %s" % (v, k))

# RSS
samples = []
with open(os.path.join(out, "rss.csv")) as f:
    next(f)
    for line in f:
        t, _, d, pid, kb = line.strip().split(",")
        samples.append((int(t), int(d), int(kb)))
if samples:
    kbs = [s[2] for s in samples]
    print()
    print("daemon RSS (%d samples every 10 s): min %.1f MB, max %.1f MB, last %.1f MB" %
          (len(samples), min(kbs) / 1024, max(kbs) / 1024, kbs[-1] / 1024))
    per = collections.OrderedDict()
    for t, d, kb in samples:
        per.setdefault(d, []).append((t, kb))
    print("  per daemon (first sample -> max -> last, lifetime):")
    for d, s in per.items():
        print("    #%-3d %6.1f -> %6.1f -> %6.1f MB over %ds" %
              (d, s[0][1] / 1024, max(k for _, k in s) / 1024, s[-1][1] / 1024, s[-1][0] - s[0][0]))
    line, minute = [], 0
    for t, d, kb in samples:
        if t >= minute * 60:
            line.append("%d:%02d %.1f(#%d)" % (t // 60, t % 60, kb / 1024, d))
            minute = t // 60 + 1
    print("  over time, MB (one sample a minute, #daemon):")
    for i in range(0, len(line), 6):
        print("    " + "  ".join(line[i:i + 6]))

verdict = "PASS" if not missing and not not_in_topic and not mismatch else "FAIL"
print()
print("checks: missing %d, not-in-topic %d, content mismatches %d -> %s" % (len(missing), not_in_topic, mismatch, verdict))
sys.exit(0 if verdict == "PASS" else 1)
PY
# The python above ends with its verdict (exit 1 on a failed check); the final stop adds to it.
status=0
[ "$checks_rc" = 0 ] || status=1
if [ "$final_rc" != 0 ] || [ "$drained" != 1 ]; then
  echo "final stop: NOT clean (drained $drained, exit code $final_rc) -> FAIL" >>"$report"
  status=1
fi
cat "$report"
if [ "$status" = 0 ] && [ "$keep_output" = 0 ]; then
  rm -rf "$out/events"
  echo "soak: passed; printed events and topic dump deleted (--keep-output keeps them)" >&2
else
  echo "soak: printed events and topic dump kept in $out/events" >&2
fi
echo "soak: results in $out (report.txt, timeline.log, rss.csv, plan.txt, logs/)" >&2
finished=1
exit "$status"
