#!/usr/bin/env bash
# The kubesat quickstart on kind (`make kind-up`; docs/kind.md):
#   1. create the kind cluster of deploy/kind-config.yaml (kept if it exists),
#   2. build the operator image and load it into the cluster,
#   3. install kube-prometheus-stack (Prometheus, Alertmanager, Grafana with the dashboard
#      sidecar) with deploy/kind/monitoring-values.yaml,
#   4. install charts/kubesat with its ServiceMonitor, PrometheusRule and dashboards,
#   5. apply an example constellation with its Jobs and PodDisruptionBudget,
#   6. print how to open Grafana.
# Needs docker (a running engine), kind (>= v0.33.0, for the pinned node image), kubectl
# and helm (>= 3.14). Re-running it upgrades everything in place.
#
# Environment (all optional):
#   KIND_CLUSTER_NAME  cluster name (kubesat)
#   KIND_NODE_IMAGE    node image instead of the one pinned in deploy/kind-config.yaml
#   IMAGE_REPOSITORY   operator image repository (kubesat)
#   IMAGE_TAG          operator image tag (the version in pyproject.toml)
#   SKIP_BUILD=1       load the existing image instead of building it
#   KPS_VERSION        kube-prometheus-stack chart version (84.2.0)
#   KUBESAT_NAMESPACE  namespace of the operator (kubesat-system)
#   EXAMPLE            manifest applied at the end (examples/sso-12.yaml)
#   EXAMPLE_NAMESPACE  namespace it is applied in (default)
#   HELM, KUBECTL      commands to use (default: on PATH, else the ones built by
#                      `make controlplane`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"

CLUSTER="${KIND_CLUSTER_NAME:-kubesat}"
CONTEXT="kind-${CLUSTER}"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-kubesat}"
IMAGE_TAG="${IMAGE_TAG:-${VERSION}}"
IMAGE="${IMAGE_REPOSITORY}:${IMAGE_TAG}"
KPS_VERSION="${KPS_VERSION:-84.2.0}"
KUBESAT_NAMESPACE="${KUBESAT_NAMESPACE:-kubesat-system}"
MONITORING_NAMESPACE="monitoring"
EXAMPLE="${EXAMPLE:-examples/sso-12.yaml}"
EXAMPLE_NAMESPACE="${EXAMPLE_NAMESPACE:-default}"

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "kind-up: $*" >&2
  exit 1
}

# A tool from PATH, else from the control-plane build of `make controlplane`.
find_tool() {
  local name="$1" bin_dir
  if command -v "${name}" >/dev/null 2>&1; then
    command -v "${name}"
    return
  fi
  bin_dir="$(bash deploy/controlplane/build.sh --print-bin-dir 2>/dev/null | tail -n 1 || true)"
  if [[ -n "${bin_dir}" && -x "${bin_dir}/${name}" ]]; then
    echo "${bin_dir}/${name}"
    return
  fi
  die "${name} not found: install it (or run \`make controlplane\`, which builds ${name})"
}

step "checking docker, kind, kubectl, helm"
command -v docker >/dev/null 2>&1 || die "docker not found: kind runs its nodes as Docker containers"
docker info >/dev/null 2>&1 || die "docker is installed but its engine does not answer (is it running?)"
command -v kind >/dev/null 2>&1 || die "kind not found: see https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
HELM="${HELM:-$(find_tool helm)}"
KUBECTL="${KUBECTL:-$(find_tool kubectl)}"
echo "kind: $(kind version)"
echo "helm: $("${HELM}" version --short)"
echo "kubectl: ${KUBECTL}"

kubectl() { "${KUBECTL}" --context "${CONTEXT}" "$@"; }
helm() { "${HELM}" --kube-context "${CONTEXT}" "$@"; }

step "kind cluster '${CLUSTER}'"
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  echo "cluster '${CLUSTER}' exists: reusing it (make kind-down deletes it)"
else
  create=(kind create cluster --name "${CLUSTER}" --config deploy/kind-config.yaml --wait 180s)
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    create+=(--image "${KIND_NODE_IMAGE}")
  fi
  "${create[@]}"
fi
kubectl cluster-info >/dev/null

step "operator image ${IMAGE}"
if [[ "${SKIP_BUILD:-0}" == "1" ]]; then
  echo "SKIP_BUILD=1: using the existing image"
else
  docker build -t "${IMAGE}" .
fi
kind load docker-image "${IMAGE}" --name "${CLUSTER}"

step "kube-prometheus-stack ${KPS_VERSION} in namespace ${MONITORING_NAMESPACE}"
"${HELM}" repo add prometheus-community https://prometheus-community.github.io/helm-charts \
  --force-update >/dev/null
"${HELM}" repo update prometheus-community >/dev/null
helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
  --version "${KPS_VERSION}" \
  --namespace "${MONITORING_NAMESPACE}" --create-namespace \
  --values deploy/kind/monitoring-values.yaml \
  --wait --timeout 15m

step "kubesat chart in namespace ${KUBESAT_NAMESPACE}"
deploy/sync-chart-assets.sh
# The operator's namespace enforces the "restricted" Pod Security Standard: the chart's
# pod meets it (non-root, read-only root filesystem, no capabilities, RuntimeDefault).
kubectl create namespace "${KUBESAT_NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "${KUBESAT_NAMESPACE}" --overwrite \
  pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null
features=(--set serviceMonitor.enabled=true)
if [[ -f charts/kubesat/files/alerts/kubesat-rules.yaml ]]; then
  features+=(--set prometheusRule.enabled=true)
else
  echo "warning: deploy/alerts/kubesat-rules.yaml not found: installing without alerts" >&2
fi
if compgen -G "charts/kubesat/files/dashboards/*.json" >/dev/null; then
  features+=(--set dashboards.enabled=true)
else
  echo "warning: no deploy/dashboards/*.json: installing without dashboards" >&2
fi
helm upgrade --install kubesat charts/kubesat \
  --namespace "${KUBESAT_NAMESPACE}" \
  --set image.repository="${IMAGE_REPOSITORY}" \
  --set image.tag="${IMAGE_TAG}" \
  "${features[@]}" \
  --wait --timeout 10m

step "example ${EXAMPLE} in namespace ${EXAMPLE_NAMESPACE}"
kubectl wait --for=condition=Established --timeout=60s \
  crd/constellations.kubesat.io crd/satellites.kubesat.io crd/groundstations.kubesat.io
kubectl apply --namespace "${EXAMPLE_NAMESPACE}" -f "${EXAMPLE}"

cat <<EOF

kubesat is running on kind cluster '${CLUSTER}' (kubectl context ${CONTEXT}).

  kubectl --context ${CONTEXT} get constellations,satellites -n ${EXAMPLE_NAMESPACE}
  kubectl --context ${CONTEXT} get nodes -l kubesat.io/satellite
  kubectl --context ${CONTEXT} get jobs,pods -n ${EXAMPLE_NAMESPACE} -o wide
  kubectl --context ${CONTEXT} logs -n ${KUBESAT_NAMESPACE} deployment/kubesat -f

Grafana (user admin; dashboards in folder "kubesat"):

  kubectl --context ${CONTEXT} -n ${MONITORING_NAMESPACE} get secret kube-prometheus-stack-grafana \\
    -o jsonpath='{.data.admin-password}' | base64 -d; echo
  kubectl --context ${CONTEXT} -n ${MONITORING_NAMESPACE} port-forward service/kube-prometheus-stack-grafana 3000:80
  # open http://localhost:3000

Prometheus:

  kubectl --context ${CONTEXT} -n ${MONITORING_NAMESPACE} port-forward service/kube-prometheus-stack-prometheus 9090
  # open http://localhost:9090/targets (the kubesat target) and /alerts

Delete everything: make kind-down
EOF
