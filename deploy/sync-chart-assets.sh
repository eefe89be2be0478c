#!/usr/bin/env bash
# Copy the chart's generated assets from their sources of truth into charts/kubesat/.
#
# Helm reads only files inside the chart directory, so the chart keeps copies of:
#   crds/*.yaml                       -> charts/kubesat/crds/
#   deploy/dashboards/*.json          -> charts/kubesat/files/dashboards/
#   deploy/alerts/kubesat-rules.yaml  -> charts/kubesat/files/alerts/
#   operator/kubesat/k8s/permissions.py (CLUSTER_RULES)
#                                     -> charts/kubesat/files/rbac/cluster-rules.yaml
# Files of the chart copies whose source is gone are removed.
#
# Usage: deploy/sync-chart-assets.sh          update the chart (make chart-sync)
#        deploy/sync-chart-assets.sh --check  change nothing; exit 1 and list the
#                                             differences when the chart is stale
#                                             (make verify)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="${ROOT}/charts/kubesat"
PYTHON="${PYTHON:-python3}"

mode="sync"
case "${1:-}" in
  "") ;;
  --check) mode="check" ;;
  -h | --help)
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "sync-chart-assets.sh: unknown argument '$1' (expected --check or nothing)" >&2
    exit 2
    ;;
esac

staging="$(mktemp -d)"
trap 'rm -rf "${staging}"' EXIT

# copy_glob SRC_DIR PATTERN DEST_SUBDIR: stage every SRC_DIR/PATTERN under DEST_SUBDIR.
copy_glob() {
  local src_dir="$1" pattern="$2" dest="${staging}/$3"
  mkdir -p "${dest}"
  [[ -d "${src_dir}" ]] || return 0
  local file
  while IFS= read -r -d '' file; do
    cp "${file}" "${dest}/"
  done < <(find "${src_dir}" -maxdepth 1 -type f -name "${pattern}" -print0)
}

copy_glob "${ROOT}/crds" '*.yaml' crds
copy_glob "${ROOT}/deploy/dashboards" '*.json' files/dashboards
copy_glob "${ROOT}/deploy/alerts" 'kubesat-rules.yaml' files/alerts

# The ClusterRole rules, rendered from permissions.py. The file is loaded by path (not
# imported as kubesat.k8s.permissions) so that neither the package nor Kopf and the
# Kubernetes client need to be installed.
mkdir -p "${staging}/files/rbac"
"${PYTHON}" - "${ROOT}/operator/kubesat/k8s/permissions.py" >"${staging}/files/rbac/cluster-rules.yaml" <<'PY'
import json
import runpy
import sys

rules = runpy.run_path(sys.argv[1])["CLUSTER_RULES"]
print("# Generated from operator/kubesat/k8s/permissions.py by deploy/sync-chart-assets.sh:")
print("# do not edit (run `make chart-sync`). The rules of the operator's ClusterRole.")
for group, resources, verbs in rules:
    # JSON strings are valid YAML scalars: "" stays the core group, nothing is reinterpreted.
    print(f"- apiGroups: [{json.dumps(group)}]")
    print(f"  resources: [{', '.join(json.dumps(r) for r in resources)}]")
    print(f"  verbs: [{', '.join(json.dumps(v) for v in verbs)}]")
PY

managed=(crds files/dashboards files/alerts files/rbac)

if [[ "${mode}" == "check" ]]; then
  problems=()
  for dir in "${managed[@]}"; do
    mkdir -p "${staging}/${dir}"
    for file in "${staging}/${dir}"/*; do
      [[ -e "${file}" ]] || continue
      name="${dir}/$(basename "${file}")"
      if [[ ! -f "${CHART}/${name}" ]]; then
        problems+=("missing from the chart: charts/kubesat/${name}")
      elif ! cmp -s "${file}" "${CHART}/${name}"; then
        problems+=("differs from its source: charts/kubesat/${name}")
      fi
    done
    for file in "${CHART}/${dir}"/*; do
      [[ -e "${file}" ]] || continue
      name="${dir}/$(basename "${file}")"
      if [[ ! -e "${staging}/${name}" ]]; then
        problems+=("no source any more: charts/kubesat/${name}")
      fi
    done
  done
  if ((${#problems[@]})); then
    printf '%s\n' "${problems[@]}" >&2
    echo "charts/kubesat is out of date with crds/, deploy/ or permissions.py:" \
      "run \`make chart-sync\`" >&2
    exit 1
  fi
  echo "charts/kubesat assets are up to date"
  exit 0
fi

for dir in "${managed[@]}"; do
  rm -rf "${CHART:?}/${dir}"
  mkdir -p "${CHART}/${dir}"
  if [[ -n "$(ls -A "${staging}/${dir}" 2>/dev/null)" ]]; then
    cp "${staging}/${dir}/"* "${CHART}/${dir}/"
  fi
done
echo "synced into charts/kubesat: $(cd "${CHART}" && find crds files -type f | sort | tr '\n' ' ')"
