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
# - a self-test breaks a copy of the manifests in known ways and fails unless each is caught.
# kubernetes-validate lives in a venv in $PRICEPIPE_CACHE (default ~/.cache/pricepipe), made
# once (pip, pinned version) and reused; needs python3-venv (scripts/install-deps.sh).
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
flock -u 9

exec "$venv/bin/python" scripts/check-kubernetes.py --binary "$binary" \
  --validator "$venv/bin/kubernetes-validate" --kubernetes-version "$kubernetes_version" --self-test
