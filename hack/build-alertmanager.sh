#!/usr/bin/env bash
# Build Prometheus Alertmanager from its Go module into a cache keyed by version (no release-bucket
# download). Used by tests/e2e/test_alerts_live.py: a real Alertmanager posts its webhook to `opsgate alerts`.
#   hack/build-alertmanager.sh      # prints the bin dir
# v0.28.1 is the newest that builds from the module proxy: from v0.29 on the web UI is built with
# npm and its app/dist is not in the module zip (`pattern app/dist: no matching files found`).
set -euo pipefail

ALERTMANAGER_VERSION=${ALERTMANAGER_VERSION:-0.28.1}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
BIN="$CACHE/alertmanager-$ALERTMANAGER_VERSION/bin"
log() { printf '[build-alertmanager] %s\n' "$*" >&2; }

if [[ -x "$BIN/alertmanager" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build alertmanager"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-alertmanager-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
log "alertmanager v$ALERTMANAGER_VERSION (~2 min cold on 2 cores)"
mkdir -p "$work/bin"
GOBIN="$work/bin" go install -trimpath \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$ALERTMANAGER_VERSION" \
  "github.com/prometheus/alertmanager/cmd/alertmanager@v$ALERTMANAGER_VERSION"
mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"
mv "$work/bin" "$BIN"
log "built in $(( $(date +%s) - start ))s into $BIN"
echo "$BIN"
