#!/usr/bin/env bash
# Soak test (not in CI): runs pricepipe at a fixed rate against a three-node Kafka cluster of its
# own for a set time while a chaos loop, on a seeded random plan, sends SIGHUPs, restarts brokers
# one at a time and kill -9s the daemon, which this script restarts like systemd's
# Restart=always would. At the end it turns the producer off with a reload, lets the consumer
# read to the end of the topic, stops the daemon with SIGTERM (exit 0 expected), reads the whole
# topic with kcat as the independent truth and reports events delivered, printed, missing,
# duplicated, restarts and RSS over time (the comparison and the report's sections are
# scripts/soak_report.py; scripts/soak_printed_up_to.py tells when the consumer has drained).
# Exit 0 only if nothing is missing, nothing was printed that is not in the topic, every printed
# event matches its record, and the final stop was clean.
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
printed_up_to() { python3 scripts/soak_printed_up_to.py "$out/events" "$1"; }

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
nice python3 scripts/soak_report.py "$out" "$rate" "$duration" >>"$report" || checks_rc=$?
# soak_report.py ends with its verdict (exit 1 on a failed check); the final stop adds to it.
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
