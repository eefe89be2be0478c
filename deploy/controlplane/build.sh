#!/usr/bin/env bash
# Build the local Kubernetes control plane used by the tests, from pinned Go
# modules (no container images, no downloads of prebuilt binaries):
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#       k8s.io/kubernetes, pinned in ./go.mod (regenerate: ./gen-replaces.sh vX.Y.Z)
#   etcd    go.etcd.io/etcd/server/v3, pinned in ./etcd/go.mod
#   helm    helm.sh/helm/v3, pinned in ./helm/go.mod
#
# Binaries go to a cache outside the repository:
#   ${KUBESAT_CACHE:-$HOME/.cache/kubesat}/controlplane-<k8s>-etcd<ver>-helm<ver>/bin
# Binaries that are already there are not rebuilt.  The last line printed on
# stdout is the bin directory.
#
# Usage: build.sh [--print-bin-dir]   (--print-bin-dir: print the dir, build nothing)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Version of MODULE as required in the go.mod at FILE (no `go` needed).
modver() {
  local ver
  ver="$(awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }
                        $1 == "require" && $2 == m { print $3; exit }' "$1")"
  [[ -n "$ver" ]] || { echo "build.sh: $2 not found in $1" >&2; exit 1; }
  echo "$ver"
}

KUBE_VERSION="$(modver "$HERE/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(modver "$HERE/helm/go.mod" helm.sh/helm/v3)"
HELM_CLIENT_GO="$(modver "$HERE/helm/go.mod" k8s.io/client-go)"

CACHE="${KUBESAT_CACHE:-$HOME/.cache/kubesat}"
BIN_DIR="$CACHE/controlplane-${KUBE_VERSION}-etcd${ETCD_VERSION#v}-helm${HELM_VERSION#v}/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go toolchain not found on PATH" >&2; exit 1; }
mkdir -p "$BIN_DIR"

# One build at a time per cache dir (CI, make and pytest may all call this).
exec 9>"$BIN_DIR/.build.lock"
if command -v flock >/dev/null; then
  flock 9
fi

export CGO_ENABLED=0
# Never let a go.work elsewhere in the tree interfere with the wrapper modules.
export GOWORK=off
# The wrapper modules pin everything; do not let `go build` edit go.mod.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

# Reproducible build date: the release's commit time is not at hand, so use
# SOURCE_DATE_EPOCH when given, else a fixed epoch.
BUILD_DATE="$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%dT%H:%M:%SZ)"

kube_minor="${KUBE_VERSION#v1.}"
kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION"
  kube_ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done

etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"

helm_k8s_minor="${HELM_CLIENT_GO#v0.}"
helm_k8s_minor="${helm_k8s_minor%%.*}"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done

total_start=$SECONDS
# build NAME MODULE_DIR PACKAGE LDFLAGS
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4"
  if [[ -x "$BIN_DIR/$name" ]]; then
    echo "build.sh: $name: already built" >&2
    return
  fi
  local start=$SECONDS
  echo "build.sh: building $name from $pkg ..." >&2
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$BIN_DIR/.$name.tmp" "$pkg")
  mv -f "$BIN_DIR/.$name.tmp" "$BIN_DIR/$name"
  echo "build.sh: built $name in $((SECONDS - start))s" >&2
}

build etcd "$HERE/etcd" go.etcd.io/etcd/server/v3 "$etcd_ldflags"
build kube-apiserver "$HERE" k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build kube-controller-manager "$HERE" k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
build kube-scheduler "$HERE" k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
if [[ "${KUBESAT_SKIP_KUBECTL:-}" != "1" ]]; then
  build kubectl "$HERE" k8s.io/kubernetes/cmd/kubectl "$kube_ldflags"
fi
build helm "$HERE/helm" helm.sh/helm/v3/cmd/helm "$helm_ldflags"

cat >"$BIN_DIR/../versions.env" <<EOF
KUBE_VERSION=$KUBE_VERSION
ETCD_VERSION=$ETCD_VERSION
HELM_VERSION=$HELM_VERSION
EOF
echo "build.sh: control plane binaries ready in $((SECONDS - total_start))s" >&2
echo "$BIN_DIR"
