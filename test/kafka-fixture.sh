#!/usr/bin/env bash
# CTest fixture around scripts/kafka.sh: `start N` starts the N-node cluster unless it is
# already running (then it is left as found), `stop N` stops it only if `start N` started it,
# and then deletes its data (--wipe): every run's topics and groups would otherwise pile up in
# the cached broker state, and its start took 55 s after a few weeks of CI runs (5 s fresh).
# N = secure is the SASL_SSL single node (kafka.sh --secure). kafka.sh's `--owner fixture`
# does the bookkeeping: a file fixture-started-N beside the broker state kafka.sh uses
# (PRICEPIPE_KAFKA_RUN), so runs on other ports do not mix.
#
# `start 1` and `start 3` also make the group coordinator answer before any test runs: on fresh
# data the first consumer group makes the broker create __consumer_offsets (50 partitions, on the
# cluster 3 replicas each), and under CI's load that took the first cluster test's consumer 10 s
# to join, by when its producer had finished the stream it meant to fail a leader in the middle
# of. A describe of a group that does not exist waits for the coordinator (the admin client
# retries while the topic is created and loaded); that the topic then has partitions is checked.
set -euo pipefail
action=$1
nodes=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
kafka="$here/../scripts/kafka.sh"
mode=(--nodes "$nodes")
if [ "$nodes" = secure ]; then mode=(--secure); fi

coordinator_ready() {
  local brokers partitions
  brokers=$(bash "$kafka" bootstrap "${mode[@]}")
  timeout 120 bash "$kafka" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$brokers" --describe --group kafka-fixture-warm-up >/dev/null 2>&1 || true
  partitions=$(timeout 30 kcat -L -b "$brokers" -t __consumer_offsets -m 10 2>/dev/null | grep -c ' partition ' || true)
  if [ "$partitions" -eq 0 ]; then
    echo "kafka-fixture: the group coordinator did not answer: no __consumer_offsets on $brokers" >&2
    return 1
  fi
  echo "kafka-fixture: the group coordinator answers (__consumer_offsets: $partitions partitions)" >&2
}

case "$action" in
  start)
    bash "$kafka" start "${mode[@]}" --owner fixture
    [ "$nodes" = secure ] || coordinator_ready ;;
  stop) exec bash "$kafka" stop "${mode[@]}" --owner fixture --wipe ;;
  *) echo "usage: $0 start|stop [nodes|secure]" >&2; exit 64 ;;
esac
