#!/usr/bin/env bash
# A Docker engine for the Docker test (scripts/docker-test.sh) on machines where none runs as a
# service, such as CI containers without systemd.
#   scripts/docker-engine.sh start   start dockerd in the background unless `docker info` already
#                                    answers, and wait until it does
#   scripts/docker-engine.sh stop    stop dockerd only if `start` started it
# State (pid, log) lives in $PRICEPIPE_CACHE/run (default ~/.cache/pricepipe/run).
set -euo pipefail
run_dir=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}/run
pid_file=$run_dir/dockerd.pid
log_file=$run_dir/dockerd.log
msg() { echo "docker-engine.sh: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

# The pid in the pid file, if that dockerd still runs: then an earlier `start` started it.
own_pid() { [ -f "$pid_file" ] && kill -0 "$(<"$pid_file")" 2>/dev/null && cat "$pid_file"; }

start() {
  if engine_up; then
    if own_pid >/dev/null; then msg "dockerd (pid $(own_pid)) started earlier by this script answers"; return 0; fi
    msg "a Docker engine already answers; it is used and left running"
    rm -f "$pid_file"
    return 0
  fi
  command -v dockerd >/dev/null || { msg "dockerd not found (scripts/install-deps.sh installs docker.io)"; exit 1; }
  mkdir -p "$run_dir"
  setsid dockerd >"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 60); do
    if engine_up; then msg "started dockerd (pid $(<"$pid_file"), log $log_file)"; return 0; fi
    kill -0 "$(<"$pid_file")" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$log_file" >&2
  msg "dockerd did not answer within 60 s"
  exit 1
}

stop() {
  [ -f "$pid_file" ] || return 0
  local pid
  pid=$(<"$pid_file")
  rm -f "$pid_file"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || { msg "stopped dockerd (pid $pid)"; return 0; }; sleep 1; done
  kill -KILL "$pid" 2>/dev/null || true
  msg "dockerd (pid $pid) killed after 30 s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
