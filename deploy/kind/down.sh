#!/usr/bin/env bash
# Delete the kind cluster of `make kind-up` (`make kind-down`): the operator, the
# monitoring stack and every satellite go with it. The built image stays in Docker.
set -euo pipefail

CLUSTER="${KIND_CLUSTER_NAME:-kubesat}"
command -v kind >/dev/null 2>&1 || {
  echo "kind-down: kind not found" >&2
  exit 1
}
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  kind delete cluster --name "${CLUSTER}"
else
  echo "no kind cluster named '${CLUSTER}'"
fi
