#!/usr/bin/env bash
# Installs what is missing, builds, starts a local Apache Kafka broker (scripts/kafka.sh) and
# runs pricepipe on it in the foreground: prices on stdout, logs on stderr. Ctrl-C stops it
# gracefully; the broker keeps running until `scripts/kafka.sh stop`.
#   scripts/run.sh [pricepipe options...]      e.g. scripts/run.sh --producer.rate=100
#   scripts/run.sh --kafka.brokers=embedded    no broker at all: librdkafka's mock cluster
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build >&2

own_broker=1
for arg in "$@"; do
  case "$arg" in
    --kafka.brokers=*|--kafka.brokers) own_broker=0 ;;
  esac
done
if [ "$own_broker" = 1 ]; then
  bash scripts/kafka.sh start
fi
exec build/pricepipe --config supervisor.conf "$@"
