#!/usr/bin/env bash
# Build OpenTofu from its Go module into a cache keyed by version (no release-bucket download).
# Used by the tests of terraform/ (tofu fmt -check, tofu's own variable validation).
#   hack/build-tofu.sh      # prints the bin dir
set -euo pipefail

TOFU_VERSION=${TOFU_VERSION:-1.10.6}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
BIN="$CACHE/tofu-$TOFU_VERSION/bin"
log() { printf '[build-tofu] %s\n' "$*" >&2; }

if [[ -x "$BIN/tofu" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build tofu"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-tofu-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
log "opentofu v$TOFU_VERSION (~5 min cold on 2 cores)"
cd "$work"
go mod init local/tofubin >/dev/null 2>&1
go mod edit -require="github.com/opentofu/opentofu@v$TOFU_VERSION"
# The one replace directive OpenTofu's own go.mod carries (module zips don't apply it for us).
gomod=$(go mod download -json "github.com/opentofu/opentofu@v$TOFU_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
awk '/github.com\/hashicorp\/hcl\/v2/ && /=>/ {for (i = 1; i < NF; i++) if ($i == "=>") print $(i+1) "@" $(i+2)}' "$gomod" |
while read -r target; do
  go mod edit -replace="github.com/hashicorp/hcl/v2=$target"
done
go mod edit -go="$(awk '$1 == "go" {print $2; exit}' "$gomod")"
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/opentofu/opentofu/cmd/tofu"\n' > tools.go
go mod tidy -e >/dev/null 2>&1 || true
mkdir -p "$work/bin"
go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$work/bin/tofu" \
  github.com/opentofu/opentofu/cmd/tofu
mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"
mv "$work/bin" "$BIN"
log "built in $(( $(date +%s) - start ))s into $BIN"
echo "$BIN"
