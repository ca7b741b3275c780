#!/usr/bin/env bash
# The test command (README.md): static checks, unit tests, then e2e tests on a real local
# Kubernetes control plane. Installs what is missing first (hack/setup.sh).
#   hack/test.sh                 # everything
#   hack/test.sh tests/unit      # extra arguments go to pytest
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
hack/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
OPSGATE_TOFU="$(hack/build-tofu.sh)/tofu"  # cached by setup; the terraform/ tests run it
export OPSGATE_TOFU
OPSGATE_OLLAMA="$(hack/build-ollama.sh)/ollama"  # cached by setup; tests/real_ollama.py serves with it
OPSGATE_SMOLLM2_GGUF="$(hack/fetch-smollm2.sh)"
export OPSGATE_OLLAMA OPSGATE_SMOLLM2_GGUF
OPSGATE_BAO="$(hack/fetch-openbao.sh)/bao"  # cached by setup; tests/real_openbao.py serves with it
export OPSGATE_BAO
OPSGATE_ALERTMANAGER="$(hack/build-alertmanager.sh)/alertmanager"  # cached by setup; tests/real_alertmanager.py
export OPSGATE_ALERTMANAGER

echo "== static checks"
ruff check operator tests bench hack
ruff format --check operator tests bench hack
mypy
lint-imports

echo "== tests"
exec python -m pytest "${@:-tests}"
