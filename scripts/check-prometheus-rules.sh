#!/usr/bin/env bash
# Static checks of the Prometheus alerting rules in deploy/prometheus/, run by the test suite
# (CTest deploy_prometheus_rules, label `deploy`). No Prometheus server is needed:
#   scripts/check-prometheus-rules.sh
# - `promtool check rules` on pricepipe-rules.yml and `promtool test rules` on
#   pricepipe-rules.test.yml (unit tests over synthetic series: each alert fires when it
#   should, with its labels and annotations, and stays quiet when it should not);
# - every alert has for:, a severity, a summary and a description, and a firing and a quiet
#   test case (scripts/check-prometheus-rules.py says what exactly);
# - deploy/kubernetes/prometheusrule.yaml is what scripts/gen-prometheusrule.py makes of the
#   rules (the Kubernetes checks test that further, with the operator's CRD schema);
# - a self-test breaks a copy of the files in known ways (a syntax error, a threshold moved, a
#   severity missing, an alert without tests, ...) and fails unless each is caught.
# promtool comes from Debian's package prometheus, PyYAML from python3-yaml
# (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
promtool=${PROMTOOL:-promtool}
command -v "$promtool" >/dev/null ||
  { echo "check-prometheus-rules: no $promtool (Debian package prometheus: scripts/install-deps.sh)" >&2; exit 66; }
echo "check-prometheus-rules: $("$promtool" --version 2>&1 | head -n 1)" >&2

# Debian's python3 with python3-yaml, or any python3 on the PATH that has PyYAML.
python=python3
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import yaml' 2>/dev/null; then python=$candidate; break; fi
done

status=0
"$python" scripts/gen-prometheusrule.py --check || status=1
"$python" scripts/check-prometheus-rules.py --promtool "$promtool" --self-test || status=1
exit $status
