#!/usr/bin/env bash
# CTest fixture around scripts/kafka.sh: `start N` starts the N-node cluster unless it is
# already running (then it is left as found), `stop N` stops it only if `start N` started it,
# and then deletes its data (--wipe): every run's topics and groups would otherwise pile up in
# the cached broker state, and its start took 55 s after a few weeks of CI runs (5 s fresh).
# N = secure is the SASL_SSL single node (kafka.sh --secure). kafka.sh's `--owner fixture`
# does the bookkeeping: a file fixture-started-N beside the broker state kafka.sh uses
# (PRICEPIPE_KAFKA_RUN), so runs on other ports do not mix.
set -euo pipefail
action=$1
nodes=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
kafka="$here/../scripts/kafka.sh"
mode=(--nodes "$nodes")
if [ "$nodes" = secure ]; then mode=(--secure); fi
case "$action" in
  start) exec bash "$kafka" start "${mode[@]}" --owner fixture ;;
  stop) exec bash "$kafka" stop "${mode[@]}" --owner fixture --wipe ;;
  *) echo "usage: $0 start|stop [nodes|secure]" >&2; exit 64 ;;
esac
