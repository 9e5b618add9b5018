#!/usr/bin/env bash
# Static checks of the Kubernetes manifests in deploy/kubernetes/, run by the test suite (CTest
# label `deploy`). No cluster is needed: kubernetes-validate (PyPI) carries the API schemas.
#   scripts/check-kubernetes.sh [PRICEPIPE_BINARY]      (default build/pricepipe)
# - every manifest but kustomization.yaml and the optional KEDA file passes
#   `kubernetes-validate --strict` for Kubernetes $PRICEPIPE_KUBERNETES_VERSION (default
#   1.34.0), with no unknown field and no resource left unchecked for want of a schema;
# - the ConfigMap's supervisor.conf passes `pricepipe --check-config` run with each
#   Deployment's args and env (dummy values for the Secret and the pod name), and the
#   effective config, probes, grace period, PodDisruptionBudget, security context, kustomization
#   and KEDA file agree (scripts/check-kubernetes.py says what exactly);
# - prometheusrule.yaml is what scripts/gen-prometheusrule.py makes of
#   deploy/prometheus/pricepipe-rules.yml, and it and podmonitor.yaml pass the openAPIV3Schema
#   of the Prometheus Operator's CRDs (strict: no unknown field); the PodMonitor scrapes both
#   Deployments' pods with the job the alerts select;
# - a self-test breaks a copy of the manifests in known ways and fails unless each is caught.
# kubernetes-validate lives in a venv in $PRICEPIPE_CACHE (default ~/.cache/pricepipe), made
# once (pip, pinned version) and reused; needs python3-venv (scripts/install-deps.sh). The
# operator's CRDs come from its Go module at a pinned version (`go mod download`: the Go module
# proxy, checksum-verified; Go is on this project's machines), cached beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/pricepipe}
[ -x "$binary" ] || { echo "check-kubernetes: no pricepipe binary at $binary" >&2; exit 66; }

validate_version=1.37.0
kubernetes_version=${PRICEPIPE_KUBERNETES_VERSION:-1.34.0}
cache=${PRICEPIPE_CACHE:-${HOME:?set HOME or PRICEPIPE_CACHE}/.cache/pricepipe}
venv=$cache/kubernetes-validate-$validate_version
mkdir -p "$cache"

# Made once; the lock keeps two builds' test runs from making it at the same time.
exec 9>"$cache/kubernetes-validate.lock"
flock 9
if [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" != "$validate_version" ]; then
  echo "check-kubernetes: installing kubernetes-validate $validate_version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$validate_version" >&2
  [ "$("$venv/bin/kubernetes-validate" --version)" = "$validate_version" ]
fi

# The Prometheus Operator's CRDs for PrometheusRule and PodMonitor, as its release ships them
# (example/prometheus-operator-crd/ of the module), checked against pinned sha256 sums.
operator_version=v0.85.0
operator_module_sum=h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=
crd_dir=$cache/prometheus-operator-crds-$operator_version
crd_sums="98fd16c9ab79fba8dcd6ef62c957c98cd6546ab74ce0a4ecf09ddf2fda03020e  monitoring.coreos.com_prometheusrules.yaml
8ce88c52c51209993511cae093089c9525f5552def88119e3f559123ee9d454b  monitoring.coreos.com_podmonitors.yaml"
crds_ok() { (cd "$1" 2>/dev/null && sha256sum --quiet --strict -c - <<<"$crd_sums" >/dev/null 2>&1); }
if ! crds_ok "$crd_dir"; then
  echo "check-kubernetes: fetching the Prometheus Operator's CRDs ($operator_version) into $crd_dir" >&2
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  command -v go >/dev/null || { echo "check-kubernetes: no go command to fetch the CRDs with" >&2; exit 66; }
  gomod=$(mktemp -d)
  trap 'rm -rf "$gomod"' EXIT
  module=github.com/prometheus-operator/prometheus-operator@$operator_version
  (cd "$gomod" && GOMODCACHE="$gomod/cache" GOFLAGS=-modcacherw GO111MODULE=on \
    go mod download -json "$module") >"$gomod/download.json"
  field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$gomod/download.json" "$1"; }
  [ "$(field Sum)" = "$operator_module_sum" ] ||
    { echo "check-kubernetes: $module has the sum $(field Sum), not $operator_module_sum" >&2; exit 1; }
  rm -rf "$crd_dir.new" && mkdir -p "$crd_dir.new"
  for f in monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_podmonitors.yaml; do
    cp "$(field Dir)/example/prometheus-operator-crd/$f" "$crd_dir.new/"
  done
  crds_ok "$crd_dir.new" || { echo "check-kubernetes: the CRDs of $module do not match their sums" >&2; exit 1; }
  rm -rf "$crd_dir" && mv "$crd_dir.new" "$crd_dir"
  rm -rf "$gomod"
fi
flock -u 9

exec "$venv/bin/python" scripts/check-kubernetes.py --binary "$binary" \
  --validator "$venv/bin/kubernetes-validate" --kubernetes-version "$kubernetes_version" \
  --crd-dir "$crd_dir" --self-test
