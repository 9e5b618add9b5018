#!/usr/bin/env bash
# A network fault on loopback, scoped to one TCP port (the test broker's), for the fault tests
# and for trying by hand. Root only (iptables). The rules carry a comment naming the port and
# are removed when the script ends however it ends (EXIT, INT, TERM, HUP trap), so a fault
# never outlives its test; `clear` removes any that a SIGKILL left behind.
#
#   scripts/net-fault.sh blackhole PORT [SECONDS]     drop every packet to and from PORT: no
#                                                     RST, no answer (a silent network)
#   scripts/net-fault.sh loss PORT PERCENT [SECONDS]  drop PERCENT % of them at random
#   scripts/net-fault.sh clear PORT                   remove this script's rules for PORT
#
# Without SECONDS the fault lasts until the script is stopped (SIGTERM or Ctrl-C). It prints
# "fault on" once the rules are in place.
set -euo pipefail

usage() { sed -n '2,15p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
command=$1
port=$2
[[ $port =~ ^[0-9]+$ ]] || usage
tag="pricepipe-net-fault:$port"

rules() {  # the rule specs, without the chain
  local match=("$@")
  for direction in --dport --sport; do
    echo "-o lo -p tcp $direction $port ${match[*]} -m comment --comment $tag -j DROP"
  done
}

clear_rules() {
  # Every OUTPUT rule that carries our tag, deleted by its own spec as iptables -S prints it.
  # (iptables -S quotes the comment: eval reads the quotes back.)
  local spec
  while read -r spec; do
    eval "iptables -w -D OUTPUT $spec"
  done < <(iptables -w -S OUTPUT | grep -F -- "\"$tag\"" | sed 's/^-A OUTPUT //' || true)
}

hold() {  # inserts the rules for "$@", then waits for the end
  local seconds=$1
  shift
  trap clear_rules EXIT
  trap 'exit 0' INT TERM HUP
  while read -r spec; do
    # shellcheck disable=SC2086  # the spec is words on purpose
    iptables -w -I OUTPUT $spec
  done < <(rules "$@")
  echo "fault on"
  if [ -n "$seconds" ]; then sleep "$seconds"; else while :; do sleep 1; done; fi
}

case $command in
  blackhole) hold "${3:-}" ;;
  loss)
    [ $# -ge 3 ] && [[ $3 =~ ^[0-9]+$ ]] && [ "$3" -le 100 ] || usage
    probability=$(printf '0.%02d' "$3")
    [ "$3" -eq 100 ] && probability=1
    hold "${4:-}" -m statistic --mode random --probability "$probability"
    ;;
  clear) clear_rules ;;
  *) usage ;;
esac
