#!/usr/bin/env bash
# CTest fixture around scripts/kafka.sh: `start N` starts the N-node cluster unless it is
# already running (then it is left as found), `stop N` stops it only if `start N` started it.
# N = secure is the SASL_SSL single node (kafka.sh --secure).
set -euo pipefail
action=$1
nodes=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
kafka="$here/../scripts/kafka.sh"
# Beside the broker state kafka.sh uses, so runs on other ports (PRICEPIPE_KAFKA_RUN) do not mix.
marker="${PRICEPIPE_KAFKA_RUN:-${PRICEPIPE_CACHE:-$HOME/.cache/pricepipe}/run}/fixture-started-$nodes"
mode=(--nodes "$nodes")
if [ "$nodes" = secure ]; then mode=(--secure); fi
mkdir -p "$(dirname "$marker")"
case "$action" in
  start)
    if bash "$kafka" status "${mode[@]}" >/dev/null 2>&1; then
      echo "kafka ($nodes node(s)) already running; the tests use it and leave it running" >&2
      rm -f "$marker"
    else
      bash "$kafka" start "${mode[@]}"
      touch "$marker"
    fi
    ;;
  stop)
    if [ -e "$marker" ]; then
      rm -f "$marker"
      bash "$kafka" stop "${mode[@]}"
    fi
    ;;
  *) echo "usage: $0 start|stop [nodes|secure]" >&2; exit 64 ;;
esac
