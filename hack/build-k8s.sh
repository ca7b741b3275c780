#!/usr/bin/env bash
# Build the upstream control-plane binaries from Go modules into a cache keyed by version.
#
# Why: tests need a real kube-apiserver (CEL, admission policies, RBAC, Jobs) and this machine
# has no Docker. Like envtest, we run the upstream binaries as local processes. Nothing is
# downloaded from release buckets: everything comes from the Go module proxy.
#
# Usage: hack/build-k8s.sh            # builds what is missing, prints the bin dir
# Env:   OPSGATE_CACHE (default ~/.cache/opsgate), K8S_VERSION, ETCD_VERSION, KWOK_VERSION, HELM_VERSION
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.34.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.4}
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
HELM_VERSION=${HELM_VERSION:-3.19.0}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)

log() { printf '[build-k8s] %s\n' "$*" >&2; }

complete() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
  [[ -f "$BIN/../kwok-stages.yaml" ]]
}

if complete; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build the control plane"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-k8s-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
out="$work/bin"
mkdir -p "$out"
start=$(date +%s)

minor=${K8S_VERSION#*.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION \
 -X k8s.io/component-base/version.gitTreeState=clean"

# 1. kubernetes: a throwaway module that pins every staging module to its published version.
log "kubernetes v$K8S_VERSION (the longest step: ~5 min cold on 2 cores)"
mkdir -p "$work/k8s" && cd "$work/k8s"
go mod init local/k8sbins >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod"); do
  go mod edit -replace="$m=$m@v0.${K8S_VERSION#*.}"
done
go mod edit -go="$(awk '$1 == "go" {print $2; exit}' "$gomod")"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
go mod tidy >/dev/null 2>&1 || go mod tidy
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  log "  $c"
  go build -trimpath -ldflags "$ldflags" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
done

# 2. etcd: its server module builds as is.
log "etcd v$ETCD_VERSION"
mkdir -p "$work/etcd" && cd "$work/etcd"
go mod init local/etcdbin >/dev/null 2>&1
go mod edit -require="go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
go mod tidy >/dev/null 2>&1 || go mod tidy
go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3

# 3. kwok and helm install cleanly.
log "kwok v$KWOK_VERSION, helm v$HELM_VERSION"
GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
GOBIN="$out" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"

# kwok's own "fast" stages: nodes become Ready, pods run, Job pods complete.
stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/stage"
{
  cat "$stages/node/fast/node-initialize.yaml"
  for s in pod-ready pod-complete pod-delete; do printf '\n---\n'; cat "$stages/pod/fast/$s.yaml"; done
} > "$work/kwok-stages.yaml"

# Move into place only when everything built, so an interrupted build never looks complete.
mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"
mv "$out" "$BIN"
mv "$work/kwok-stages.yaml" "$BIN/../kwok-stages.yaml"
log "built in $(( $(date +%s) - start ))s into $BIN"
echo "$BIN"
