#!/usr/bin/env bash
# Runs local Apache Kafka brokers (KRaft, combined broker+controller nodes, loopback only) for
# pricepipe's tests and benchmarks. The broker jars come from Maven Central via
# scripts/kafka-pom.xml and are cached outside the repo; nothing here needs Docker.
#
# Usage: scripts/kafka.sh COMMAND [--nodes 1|3 | --secure] [options]
#   start     [--nodes 1|3] [--owner TAG]
#                                    start the single node (default) or the 3-node cluster and
#                                    wait until every broker answers metadata; no-op if running
#   stop      [--nodes 1|3|all] [--wipe] [--owner TAG]
#                                    SIGTERM, wait, then SIGKILL; data kept unless --wipe
#   reset     [--nodes 1|3|all]      stop and delete the data (the next start formats anew)
#   status    [--nodes 1|3] [--node N]
#                                    exit 0 if all (or node N) running, 3 if not
#   bootstrap [--nodes 1|3]          print the bootstrap servers, e.g. 127.0.0.1:9092
#   logs      [--nodes 1|3] [--node N] [--lines K]
#                                    print the tail of each node's server.log
#   stop-node N [--nodes 1|3]        SIGTERM one node (controlled shutdown) and wait for it
#   kill-node N [--nodes 1|3]        SIGKILL one node
#   start-node N [--nodes 1|3]       start one node (data kept) and wait until it serves
#   fetch                            only download the jars into the cache
#   classpath                        print the java classpath of the cached jars
#   topics [--nodes 1|3] ARGS...     kafka-topics (TopicCommand) with --bootstrap-server set
#   tool CLASS ARGS...               run a Kafka tool class, e.g.
#                                    org.apache.kafka.tools.ProducerPerformance
#   client-conf [--secure]           print the librdkafka properties a client needs (with
#                                    --secure: SASL_SSL, SCRAM-SHA-512 user, password, CA file),
#                                    one key=value a line, for kcat -F FILE or --librdkafka.*
#   --secure (with start, stop, reset, status, bootstrap, logs): a separate single node whose
#     client listener is SASL_SSL with SCRAM-SHA-512 (certificates and user made at first start)
#   --owner TAG (with start and stop, TAG of A-Z a-z 0-9 . _ -): leave the nodes as found.
#     `start --owner TAG` starts them unless all of them run already, and then records that TAG
#     started them (file $PRICEPIPE_KAFKA_RUN/TAG-started-MODE, MODE 1, 3 or secure); if they all
#     run, it says so, drops such a record and starts nothing. `stop --owner TAG` stops them only
#     if that record is there (and removes it), else does nothing. Used by the CTest fixture
#     (test/kafka-fixture.sh, TAG fixture), scripts/test.sh, scripts/bench.sh and
#     scripts/docker-test.sh, all with `stop --wipe`: a broker they started goes with its data.
#
# Single node: broker 127.0.0.1:9092, controller 127.0.0.1:9093, node.id 1, RF 1.
# Three nodes: brokers 127.0.0.1:19092-19094, controllers 127.0.0.1:19192-19194, node ids 1-3,
#   default.replication.factor 3, min.insync.replicas 2. Both can run at the same time.
# Secure single node (--secure): SASL_SSL client listener 127.0.0.1:9192, controller 9193,
#   inter-broker PLAINTEXT listener 9194 (all loopback), the same Kafka version as the other
#   nodes, state in $PRICEPIPE_KAFKA_RUN/secure/:
#   tls/ca.pem (the CA clients trust), tls/broker.pem (key and chain, CN/SAN 127.0.0.1 and
#   localhost), client.properties (mode 0600). The SCRAM-SHA-512 user is written into the
#   metadata log at format time; `reset --secure` makes new certificates and a new password.
#
# Environment:
#   PRICEPIPE_KAFKA_VERSION  Kafka version (default below; tested: 4.4.0)
#   PRICEPIPE_CACHE        cache root (default ~/.cache/pricepipe); jars in kafka-VERSION/libs
#   PRICEPIPE_KAFKA_RUN    runtime state (default $PRICEPIPE_CACHE/run): single/, cluster/nodeN/
#   PRICEPIPE_KAFKA_PORT, PRICEPIPE_KAFKA_CONTROLLER_PORT                 single node ports
#   PRICEPIPE_KAFKA_CLUSTER_PORT, PRICEPIPE_KAFKA_CLUSTER_CONTROLLER_PORT first port of 3
#     (ports are fixed into the metadata log at format time: reset after changing them)
#   PRICEPIPE_KAFKA_SECURE_PORT, PRICEPIPE_KAFKA_SECURE_CONTROLLER_PORT,
#     PRICEPIPE_KAFKA_SECURE_INTERNAL_PORT                     secure node ports (9192-9194)
#   PRICEPIPE_KAFKA_SECURE_USER (pricepipe), PRICEPIPE_KAFKA_SECURE_PASSWORD (default: random,
#     made at first start)                                     the SCRAM-SHA-512 user
#   PRICEPIPE_KAFKA_JAVA_OPTS (default "-Xms256m -Xmx512m"), PRICEPIPE_KAFKA_START_TIMEOUT (90),
#   PRICEPIPE_KAFKA_STOP_TIMEOUT (30)
#   PRICEPIPE_KAFKA_EXTRA_PROPS  "key=value ..." appended to every node's server.properties at
#     start, e.g. "broker.session.timeout.ms=4000 broker.heartbeat.interval.ms=1000" so that a
#     killed (-9) node is fenced and can re-register sooner than the default 9 s
set -euo pipefail

KAFKA_VERSION=${PRICEPIPE_KAFKA_VERSION:-4.4.0}  # also the default in kafka-pom.xml

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$SCRIPT_DIR/kafka-pom.xml
LOG4J_CONF=$SCRIPT_DIR/kafka-log4j2.properties
CACHE_DIR=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}
KAFKA_DIR=$CACHE_DIR/kafka-$KAFKA_VERSION
LIBS_DIR=$KAFKA_DIR/libs
RUN_DIR=${PRICEPIPE_KAFKA_RUN:-$CACHE_DIR/run}
SINGLE_PORT=${PRICEPIPE_KAFKA_PORT:-9092}
SINGLE_CONTROLLER_PORT=${PRICEPIPE_KAFKA_CONTROLLER_PORT:-9093}
CLUSTER_PORT=${PRICEPIPE_KAFKA_CLUSTER_PORT:-19092}
CLUSTER_CONTROLLER_PORT=${PRICEPIPE_KAFKA_CLUSTER_CONTROLLER_PORT:-19192}
SECURE_PORT=${PRICEPIPE_KAFKA_SECURE_PORT:-9192}
SECURE_CONTROLLER_PORT=${PRICEPIPE_KAFKA_SECURE_CONTROLLER_PORT:-9193}
SECURE_INTERNAL_PORT=${PRICEPIPE_KAFKA_SECURE_INTERNAL_PORT:-9194}
SECURE_USER=${PRICEPIPE_KAFKA_SECURE_USER:-pricepipe}
JAVA_OPTS=${PRICEPIPE_KAFKA_JAVA_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${PRICEPIPE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${PRICEPIPE_KAFKA_STOP_TIMEOUT:-30}
EXTRA_PROPS=${PRICEPIPE_KAFKA_EXTRA_PROPS:-}
HOST=127.0.0.1

msg() { echo "kafka.sh: $*" >&2; }
die() { msg "error: $*"; exit 1; }
usage() { sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }

# ---- jars -------------------------------------------------------------------------------------

# The marker holds the version and the pom's hash: editing the pom refetches.
libs_stamp() { echo "$KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"; }

libs_ready() { [[ -f $KAFKA_DIR/.complete && "$(<"$KAFKA_DIR/.complete")" == "$(libs_stamp)" ]]; }

ensure_libs() {
  libs_ready && return 0
  command -v mvn >/dev/null || die "mvn not found (run scripts/install-deps.sh)"
  mkdir -p "$KAFKA_DIR"
  exec 8>"$KAFKA_DIR/.lock"
  flock -w 900 8 || die "timed out waiting for another download into $KAFKA_DIR"
  if ! libs_ready; then
    msg "downloading Kafka $KAFKA_VERSION jars with mvn into $LIBS_DIR"
    local t0=$SECONDS tmp=$KAFKA_DIR/libs.tmp
    rm -rf "$tmp"
    if ! mvn -B -q -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        </dev/null >"$KAFKA_DIR/mvn.log" 2>&1; then
      tail -n 40 "$KAFKA_DIR/mvn.log" >&2
      die "mvn could not fetch Kafka $KAFKA_VERSION (full log: $KAFKA_DIR/mvn.log)"
    fi
    [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    libs_stamp >"$KAFKA_DIR/.complete"
    msg "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
  fi
  exec 8>&-
}

# ---- layout -----------------------------------------------------------------------------------

# SECURE=yes (--secure) is its own single node, beside the plain single node and the cluster.
mode_name() { if [[ $SECURE == yes ]]; then echo secure; else echo "$NODES"; fi; }
mode_flag() { if [[ $SECURE == yes ]]; then echo "--secure"; else echo "--nodes $NODES"; fi; }
mode_dir() {
  if [[ $SECURE == yes ]]; then echo "$RUN_DIR/secure"
  elif [[ $NODES == 1 ]]; then echo "$RUN_DIR/single"; else echo "$RUN_DIR/cluster"; fi
}
node_dir() {
  if [[ $SECURE == yes ]]; then echo "$RUN_DIR/secure"
  elif [[ $NODES == 1 ]]; then echo "$RUN_DIR/single"; else echo "$RUN_DIR/cluster/node$1"; fi
}
node_ids() { if [[ $NODES == 1 ]]; then echo 1; else echo 1 2 3; fi; }
broker_port() {
  if [[ $SECURE == yes ]]; then echo "$SECURE_PORT"
  elif [[ $NODES == 1 ]]; then echo "$SINGLE_PORT"; else echo $((CLUSTER_PORT + $1 - 1)); fi
}
controller_port() {
  if [[ $SECURE == yes ]]; then echo "$SECURE_CONTROLLER_PORT"
  elif [[ $NODES == 1 ]]; then echo "$SINGLE_CONTROLLER_PORT"; else echo $((CLUSTER_CONTROLLER_PORT + $1 - 1)); fi
}
bootstrap_servers() {
  local n out=()
  for n in $(node_ids); do out+=("$HOST:$(broker_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}
controller_servers() {
  local n out=()
  for n in $(node_ids); do out+=("$HOST:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

check_node_id() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > NODES)); then die "no node $1 with --nodes $NODES"; fi
}

# Prints the pid of node N's broker if it runs: the pid file's pid if that process is the
# kafka.Kafka JVM of this node's server.properties, else such a process found by its command line.
node_pid() {
  local dir pid cmd
  dir=$(node_dir "$1")
  if [[ -f $dir/kafka.pid ]]; then
    pid=$(<"$dir/kafka.pid")
    if [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]]; then
      cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
      if [[ $cmd == *"kafka.Kafka $dir/server.properties"* ]]; then echo "$pid"; return 0; fi
    fi
  fi
  pid=$(pgrep -f -- "kafka[.]Kafka $dir/server[.]properties" | head -n 1 || true)
  if [[ -n $pid ]]; then echo "$pid" >"$dir/kafka.pid"; echo "$pid"; return 0; fi
  return 1
}

# A killed JVM can stay a zombie for a while until its parent (often init) reaps it: not alive.
pid_alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

port_in_use() { timeout 2 bash -c ": </dev/tcp/$HOST/$1" 2>/dev/null; }

lock_mode() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock-$(mode_name)"
  flock -w 300 9 || die "timed out waiting for another kafka.sh on $(mode_flag)"
}
unlock_mode() { exec 9>&-; }

random_uuid() {  # a Kafka Uuid: 16 random bytes, base64url without padding, not starting with '-'
  local u
  while :; do
    u=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $u != -* ]] && { echo "$u"; return; }
  done
}

write_config() {
  if [[ $SECURE == yes ]]; then write_secure_config; return; fi
  local n=$1 dir rf isr
  dir=$(node_dir "$n")
  if [[ $NODES == 1 ]]; then rf=1; isr=1; else rf=3; isr=2; fi
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh on each start; edits are lost.
process.roles=broker,controller
node.id=$n
listeners=PLAINTEXT://$HOST:$(broker_port "$n"),CONTROLLER://$HOST:$(controller_port "$n")
advertised.listeners=PLAINTEXT://$HOST:$(broker_port "$n"),CONTROLLER://$HOST:$(controller_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=$(controller_servers)
EOF
  write_common_config "$dir" "$rf" "$isr"
}

# Appends what every node's server.properties shares (data dir; internal topics with
# replication factor $2 and min ISR $3), then PRICEPIPE_KAFKA_EXTRA_PROPS, and puts the log4j
# config beside it.
write_common_config() {
  local dir=$1 rf=$2 isr=$3 kv
  cat >>"$dir/server.properties" <<EOF
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
  for kv in $EXTRA_PROPS; do echo "$kv" >>"$dir/server.properties"; done
  cp "$LOG4J_CONF" "$dir/log4j2.properties"
}

# ---- secure node ------------------------------------------------------------------------------

# Makes, once, what the secure node needs: a CA, the broker's key and certificate signed by it
# (PEM; SAN 127.0.0.1 and localhost, as librdkafka checks the host name), the SCRAM password,
# and client.properties. They live as long as the node's data: the user is in its metadata log.
ensure_secure_material() {
  local dir tls pw
  dir=$(mode_dir)
  tls=$dir/tls
  mkdir -p "$tls"
  if [[ ! -f $tls/broker.pem || ! -f $tls/ca.pem ]]; then
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    (
      umask 077
      set -e
      cd "$tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=pricepipe test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
      openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=$HOST"
      printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:$HOST,DNS:localhost" >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile broker.ext -out broker.crt
      # Kafka's PEM keystore: an unencrypted PKCS#8 key, then the certificate chain.
      openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
      cat broker.p8 broker.crt ca.pem >broker.pem.tmp
      mv broker.pem.tmp broker.pem
      rm -f broker.csr broker.ext broker.p8
      chmod 644 ca.pem
    ) >"$dir/openssl.log" 2>&1 || { tail -n 20 "$dir/openssl.log" >&2; die "openssl could not make the certificates"; }
    msg "made a CA and a broker certificate in $tls"
  fi
  if [[ ! -f $dir/client.properties ]]; then
    [[ ! -f $dir/data/meta.properties ]] ||
      die "$dir/client.properties is missing but the node is formatted: run '$0 reset --secure'"
    # The SCRAM credential syntax has no quoting: keep to letters, digits and . _ -
    pw=${PRICEPIPE_KAFKA_SECURE_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')}
    [[ $pw =~ ^[A-Za-z0-9._-]+$ ]] || die "PRICEPIPE_KAFKA_SECURE_PASSWORD may only hold A-Z a-z 0-9 . _ -"
    (
      umask 077
      printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
        "sasl.username=$SECURE_USER" "sasl.password=$pw" "ssl.ca.location=$tls/ca.pem" \
        >"$dir/client.properties.tmp"
    )
    mv "$dir/client.properties.tmp" "$dir/client.properties"
  fi
}

secure_prop() { sed -n "s/^$1=//p" "$(mode_dir)/client.properties"; }

write_secure_config() {
  local dir tls
  dir=$(mode_dir)
  tls=$dir/tls
  ensure_secure_material
  if [[ -f $dir/data/meta.properties && -f $dir/kafka.version && $(<"$dir/kafka.version") != "$KAFKA_VERSION" ]]; then
    die "$dir was formatted by Kafka $(<"$dir/kafka.version"), not $KAFKA_VERSION: run '$0 reset --secure'"
  fi
  mkdir -p "$dir/data" "$dir/logs"
  echo "$KAFKA_VERSION" >"$dir/kafka.version"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh on each start; edits are lost.
process.roles=broker,controller
node.id=1
listeners=SASL_SSL://$HOST:$SECURE_PORT,INTERNAL://$HOST:$SECURE_INTERNAL_PORT,CONTROLLER://$HOST:$SECURE_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$SECURE_PORT,INTERNAL://$HOST:$SECURE_INTERNAL_PORT,CONTROLLER://$HOST:$SECURE_CONTROLLER_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=$HOST:$SECURE_CONTROLLER_PORT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
ssl.client.auth=none
EOF
  write_common_config "$dir" 1 1
}

# Formats the storage of the given nodes that are not formatted yet (in parallel).
format_nodes() {
  local mdir cid n dir ids=() pids=() i failed=0
  mdir=$(mode_dir)
  for n in "$@"; do
    [[ -f $(node_dir "$n")/data/meta.properties ]] || ids+=("$n")
  done
  ((${#ids[@]})) || return 0
  mkdir -p "$mdir"
  if [[ ! -f $mdir/cluster.id ]]; then
    if ((${#ids[@]} < NODES)); then die "$mdir/cluster.id is missing but some nodes are formatted: run '$0 reset $(mode_flag)'"; fi
    random_uuid >"$mdir/cluster.id"
    if [[ $NODES != 1 ]]; then
      local vs=()
      for n in $(node_ids); do vs+=("$n@$HOST:$(controller_port "$n"):$(random_uuid)"); done
      (IFS=,; echo "${vs[*]}") >"$mdir/initial-controllers"
    fi
  fi
  cid=$(<"$mdir/cluster.id")
  for n in "${ids[@]}"; do
    dir=$(node_dir "$n")
    local quorum=(--standalone)
    [[ $NODES == 1 ]] || quorum=(--initial-controllers "$(<"$mdir/initial-controllers")")
    [[ $SECURE != yes ]] ||
      quorum+=(--add-scram "SCRAM-SHA-512=[name=$SECURE_USER,password=$(secure_prop sasl.password)]")
    java -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
      -cp "$LIBS_DIR/*" kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
      "${quorum[@]}" </dev/null >"$dir/format.log" 2>&1 8>&- 9>&- &
    pids+=($!)
  done
  for i in "${!ids[@]}"; do
    if ! wait "${pids[$i]}"; then
      dir=$(node_dir "${ids[$i]}")
      msg "error: formatting node ${ids[$i]} failed:"; tail -n 20 "$dir/format.log" >&2; failed=1
    fi
  done
  ((failed == 0)) || exit 1
  msg "formatted storage (cluster id $cid) for node(s) ${ids[*]}"
}

launch_node() {
  local n=$1 dir jopts
  dir=$(node_dir "$n")
  read -r -a jopts <<<"$JAVA_OPTS"
  [[ -f $dir/kafka.out ]] && mv -f "$dir/kafka.out" "$dir/kafka.out.prev"
  # The GC options of Apache Kafka's own bin/kafka-run-class.sh (KAFKA_JVM_PERFORMANCE_OPTS): G1
  # aiming at 20 ms pauses instead of its default 200 ms, so a node pauses as a broker started
  # by Kafka's scripts does (young pauses 8-9 ms instead of 10-14 on this machine; BENCHMARKS.md).
  (
    cd "$dir"
    exec setsid java "${jopts[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$dir/server.properties"
  ) </dev/null >"$dir/kafka.out" 2>&1 8>&- 9>&- &
  echo $! >"$dir/kafka.pid"
}

# True when node N answers a metadata request and lists itself (registered and unfenced).
node_serves() {
  local n=$1 port out conf=()
  port=$(broker_port "$n")
  port_in_use "$port" || return 1  # fails fast; kcat would wait for its -m timeout
  [[ $SECURE != yes ]] || conf=(-F "$(mode_dir)/client.properties")
  out=$(timeout 10 kcat -L -b "$HOST:$port" -m 3 "${conf[@]}" 2>/dev/null) || return 1
  grep -q "broker $n at $HOST:$port" <<<"$out"
}

all_brokers_listed() {
  local out
  out=$(timeout 10 kcat -L -b "$(bootstrap_servers)" -m 3 2>/dev/null) || return 1
  grep -q "^ *$NODES brokers:" <<<"$out"
}

show_node_log() {
  local dir
  dir=$(node_dir "$1")
  msg "--- node $1: tail of $dir/logs/server.log ---"
  tail -n 30 "$dir/logs/server.log" >&2 2>/dev/null || true
  if [[ -s $dir/kafka.out ]]; then
    msg "--- node $1: tail of $dir/kafka.out ---"
    tail -n 15 "$dir/kafka.out" >&2 || true
  fi
}

# Starts the given nodes (those not running) and waits until they serve.
start_nodes() {
  local want_all=$1 n todo=() port
  shift
  command -v java >/dev/null || die "java not found (run scripts/install-deps.sh)"
  command -v kcat >/dev/null || die "kcat not found (run scripts/install-deps.sh)"
  ensure_libs
  lock_mode
  for n in "$@"; do
    if node_pid "$n" >/dev/null; then
      msg "node $n already running (pid $(node_pid "$n"), $HOST:$(broker_port "$n"))"
    else
      todo+=("$n")
    fi
  done
  if ((${#todo[@]} == 0)); then
    msg "already running: $(bootstrap_servers)"
    return 0
  fi
  for n in "${todo[@]}"; do
    for port in "$(broker_port "$n")" "$(controller_port "$n")"; do
      port_in_use "$port" && die "port $HOST:$port (node $n) is already in use by another process"
    done
    write_config "$n"
  done
  format_nodes "${todo[@]}"
  local t0=$SECONDS
  for n in "${todo[@]}"; do launch_node "$n"; done
  msg "started node(s) ${todo[*]} ($(mode_flag)), waiting up to ${START_TIMEOUT}s"

  local deadline=$((SECONDS + START_TIMEOUT)) pending=("${todo[@]}") still
  while :; do
    still=()
    for n in "${pending[@]}"; do
      if ! node_pid "$n" >/dev/null; then
        msg "error: node $n exited during startup"
        show_node_log "$n"
        stop_nodes "${todo[@]}"
        exit 1
      fi
      node_serves "$n" || still+=("$n")
    done
    pending=("${still[@]}")
    if ((${#pending[@]} == 0)); then
      if [[ $want_all != yes || $NODES == 1 ]] || all_brokers_listed; then break; fi
    fi
    if ((SECONDS >= deadline)); then
      if ((${#pending[@]} == 0)); then
        msg "error: not all $NODES brokers listed in metadata within ${START_TIMEOUT}s"
        pending=("${todo[@]}")
      else
        msg "error: node(s) ${pending[*]} not serving metadata within ${START_TIMEOUT}s"
      fi
      for n in "${pending[@]}"; do show_node_log "$n"; done
      stop_nodes "${todo[@]}"
      exit 1
    fi
    sleep 0.5
  done
  msg "ready in $((SECONDS - t0))s: $(bootstrap_servers)"
}

# Stops the given nodes: SIGTERM (controlled shutdown) to all at once, then SIGKILL.
stop_nodes() {
  local n pid pids=() ids=() sig=${STOP_SIGNAL:-TERM}
  for n in "$@"; do
    if pid=$(node_pid "$n"); then
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$pid"); ids+=("$n")
    else
      rm -f "$(node_dir "$n")/kafka.pid"
    fi
  done
  ((${#pids[@]})) || return 0
  local grace=$STOP_TIMEOUT others=0
  if [[ $NODES != 1 && $sig == TERM ]]; then
    # A cluster node's controlled shutdown needs the controller quorum (2 of 3); a node that is
    # the last one running waits for it forever, so it gets a short grace before SIGKILL.
    for n in $(node_ids); do
      [[ " ${ids[*]} " == *" $n "* ]] || ! node_pid "$n" >/dev/null || others=$((others + 1))
    done
    if ((${#ids[@]} == 1 && others == 0 && grace > 5)); then grace=5; fi
  fi
  local deadline=$((SECONDS + grace)) t0=$SECONDS alive killed=no
  while :; do
    alive=()
    for pid in "${pids[@]}"; do pid_alive "$pid" && alive+=("$pid"); done
    ((${#alive[@]})) || break
    if ((SECONDS >= deadline)); then
      [[ $killed == no ]] || die "pid(s) ${alive[*]} survive SIGKILL"
      msg "pid(s) ${alive[*]} still running after ${grace}s, sending SIGKILL"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      killed=yes
      deadline=$((SECONDS + 10))
    fi
    sleep 0.2
  done
  # A SIGKILLed JVM turns zombie before all its threads (and sockets) are gone: wait for its ports.
  deadline=$((SECONDS + 10))
  for n in "${ids[@]}"; do
    rm -f "$(node_dir "$n")/kafka.pid"
    while ((SECONDS < deadline)) && { port_in_use "$(broker_port "$n")" || port_in_use "$(controller_port "$n")"; }; do
      sleep 0.1
    done
  done
  [[ $killed == no ]] || sig="TERM, then SIGKILL"
  msg "stopped node(s) ${ids[*]} ($(mode_flag), SIG$sig) in $((SECONDS - t0))s"
}

# ---- commands ---------------------------------------------------------------------------------

NODES=1
NODES_ARG=""
SECURE=no
NODE=""
LINES=100
WIPE=no
OWNER=""
POS=()

parse_args() {
  while (($#)); do
    case $1 in
      --nodes) NODES_ARG=${2:?--nodes needs 1, 3 or all}; shift 2 ;;
      --nodes=*) NODES_ARG=${1#*=}; shift ;;
      --node) NODE=${2:?--node needs a node id}; shift 2 ;;
      --node=*) NODE=${1#*=}; shift ;;
      --lines|-n) LINES=${2:?--lines needs a number}; shift 2 ;;
      --wipe) WIPE=yes; shift ;;
      --secure) SECURE=yes; shift ;;
      --owner) OWNER=${2:?--owner needs a tag}; shift 2 ;;
      --owner=*) OWNER=${1#*=}; [[ -n $OWNER ]] || die "--owner needs a tag"; shift ;;
      -h|--help) usage 0 ;;
      -*) die "unknown option $1" ;;
      *) POS+=("$1"); shift ;;
    esac
  done
  case ${NODES_ARG:-1} in
    1|3) NODES=${NODES_ARG:-1} ;;
    all) [[ $CMD == stop || $CMD == reset ]] || die "--nodes all only works with stop and reset" ;;
    *) die "--nodes must be 1 or 3 (or all for stop/reset)" ;;
  esac
  if [[ $SECURE == yes && ${NODES_ARG:-1} != 1 ]]; then die "--secure is a single node: no --nodes $NODES_ARG"; fi
  if [[ -n $OWNER ]]; then
    [[ $CMD == start || $CMD == stop ]] || die "--owner only works with start and stop"
    [[ $OWNER =~ ^[A-Za-z0-9._-]+$ ]] || die "--owner takes a tag of A-Z a-z 0-9 . _ -"
  fi
}

modes() { if [[ $NODES_ARG == all ]]; then echo 1 3; else echo "$NODES"; fi; }

# --owner TAG: the file that records that `start --owner TAG` started the current mode's nodes.
owner_marker() { echo "$RUN_DIR/$OWNER-started-$(mode_name)"; }

# start --owner TAG: starts the nodes unless all of them run already (as `status` tells), and
# then records that TAG started them; if they all run, TAG's record goes and they are left alone.
start_owned() {
  local n running=yes
  for n in $(node_ids); do node_pid "$n" >/dev/null || running=no; done
  if [[ $running == yes ]]; then
    msg "already running ($(mode_flag)): $(bootstrap_servers); not started by $OWNER, so 'stop --owner $OWNER' leaves it running"
    rm -f "$(owner_marker)"
    return 0
  fi
  # shellcheck disable=SC2046
  start_nodes yes $(node_ids)
  touch "$(owner_marker)"
}

one_node_arg() {
  ((${#POS[@]} == 1)) || die "$CMD needs one node id, e.g. '$CMD 2 --nodes 3'"
  check_node_id "${POS[0]}"
}

cmd_status() {
  local n pid total=0 up=0 ids
  ids=$(node_ids)
  if [[ -n $NODE ]]; then check_node_id "$NODE"; ids=$NODE; fi
  for n in $ids; do
    total=$((total + 1))
    if pid=$(node_pid "$n"); then
      up=$((up + 1))
      echo "node $n: running (pid $pid) $HOST:$(broker_port "$n")"
    else
      echo "node $n: stopped"
    fi
  done
  ((up == total)) || exit 3
}

cmd_client_conf() {
  if [[ $SECURE != yes ]]; then echo "security.protocol=PLAINTEXT"; return; fi
  [[ -f $(mode_dir)/client.properties ]] || die "no $(mode_dir)/client.properties yet: run '$0 start --secure'"
  cat "$(mode_dir)/client.properties"
}

cmd_logs() {
  local n dir ids
  ids=$(node_ids)
  if [[ -n $NODE ]]; then check_node_id "$NODE"; ids=$NODE; fi
  for n in $ids; do
    dir=$(node_dir "$n")
    echo "==> node $n: $dir/logs/server.log <=="
    tail -n "$LINES" "$dir/logs/server.log" 2>/dev/null || echo "(no log yet)"
    if [[ -s $dir/kafka.out ]]; then
      echo "==> node $n: $dir/kafka.out <=="
      tail -n "$LINES" "$dir/kafka.out"
    fi
  done
}

main() {
  (($#)) || usage 2
  CMD=$1
  shift
  case $CMD in
    tool)
      (($#)) || die "tool needs a class name"
      ensure_libs
      exec java -cp "$LIBS_DIR/*" "$@" ;;
    topics)
      if [[ ${1:-} == --nodes ]]; then NODES_ARG=${2:?}; shift 2; fi
      if [[ ${1:-} == --nodes=* ]]; then NODES_ARG=${1#*=}; shift; fi
      parse_args
      ensure_libs
      exec java -cp "$LIBS_DIR/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$(bootstrap_servers)" "$@" ;;
  esac
  parse_args "$@"
  case $CMD in
    start)
      ((${#POS[@]} == 0)) || usage 2
      if [[ -n $OWNER ]]; then start_owned; else
        # shellcheck disable=SC2046
        start_nodes yes $(node_ids)
      fi ;;
    start-node)
      one_node_arg
      start_nodes no "${POS[0]}" ;;
    stop|reset)
      ((${#POS[@]} == 0)) || usage 2
      [[ $CMD == reset ]] && WIPE=yes
      local m
      for m in $(modes); do
        NODES=$m
        if [[ -n $OWNER ]]; then
          [[ -e $(owner_marker) ]] || continue  # not started by OWNER: left as found
          rm -f "$(owner_marker)"
        fi
        lock_mode
        # shellcheck disable=SC2046
        stop_nodes $(node_ids)
        if [[ $WIPE == yes && -d $(mode_dir) ]]; then
          rm -rf "$(mode_dir)"
          msg "wiped $(mode_dir)"
        fi
        unlock_mode
      done ;;
    stop-node|kill-node)
      one_node_arg
      lock_mode
      if ! node_pid "${POS[0]}" >/dev/null; then
        msg "node ${POS[0]} ($(mode_flag)) is not running"
      elif [[ $CMD == kill-node ]]; then
        STOP_SIGNAL=KILL stop_nodes "${POS[0]}"
      else
        stop_nodes "${POS[0]}"
      fi ;;
    status) cmd_status ;;
    logs) cmd_logs ;;
    bootstrap) bootstrap_servers ;;
    client-conf) cmd_client_conf ;;
    fetch) ensure_libs; msg "jars in $LIBS_DIR" ;;
    classpath) ensure_libs; echo "$LIBS_DIR/*" ;;
    help|-h|--help) usage 0 ;;
    *) msg "unknown command $CMD"; usage 2 ;;
  esac
}

main "$@"
