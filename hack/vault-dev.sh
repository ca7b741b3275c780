#!/usr/bin/env bash
# A dev OpenBao (Vault's API) for the demo and manual runs, wired to the cluster in $KUBECONFIG
# exactly as docs/vault.md tells a platform team to: kubernetes auth reviewing tokens with that
# API server, the role opsgate-executor for ServiceAccount opsgate-system/opsgate-executor, a
# read-only policy on secret/opsgate/*, and random demo secrets (secret/opsgate/mail {token}, …).
#
#   eval "$(hack/vault-dev.sh up)"     # start on a random loopback port, configure, print exports
#   hack/vault-dev.sh status           # is the server of $OPSGATE_VAULT_DIR alive
#   hack/vault-dev.sh down             # stop it by pid, remove its state dir
#
# In memory only (dev mode): secrets vanish with `down`. The root token is in
# $OPSGATE_VAULT_DIR/root-token (mode 600), not in the exports; `opsgate execute` never uses it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
log() { printf '[vault-dev] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

healthy() {  # 200 only once unsealed and active
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v1/sys/health", timeout=1)' "$1"
}

cmd_up() {
  [[ -n "${KUBECONFIG:-}" ]] || die "KUBECONFIG is not set (eval \"\$(hack/local-cluster.sh up)\" first)"
  command -v kubectl >/dev/null || die "kubectl is not on PATH"
  local bin port url token
  bin=$(PYTHON="$ROOT/.venv/bin/python" "$HERE/fetch-openbao.sh")
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/opsgate-vault.XXXXXX")
  trap 'log "start failed; stopping what was started"; cmd_down >/dev/null 2>&1 || true' ERR
  port=$(free_port)
  url="http://127.0.0.1:$port"
  token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  (umask 077 && printf '%s\n' "$token" >"$DIR/root-token")
  # the root token reaches the server through its environment, not argv (which ps shows)
  HOME="$DIR" BAO_DEV_ROOT_TOKEN_ID="$token" BAO_DEV_LISTEN_ADDRESS="127.0.0.1:$port" \
    setsid "$bin/bao" server -dev -dev-no-store-token </dev/null >"$DIR/server.log" 2>&1 &
  echo "$!" >"$DIR/pid"
  local deadline=$(( $(date +%s) + 30 ))
  until healthy "$url" 2>/dev/null; do
    kill -0 "$(cat "$DIR/pid")" 2>/dev/null || { log "bao exited: $(tail -5 "$DIR/server.log")"; false; }
    (( $(date +%s) < deadline )) || { log "bao not ready after 30s; log in $DIR/server.log"; false; }
    sleep 0.2
  done
  (cd "$ROOT" && VAULT_ADDR="$url" VAULT_TOKEN="$token" \
    .venv/bin/python -m tests.vault_setup --kubectl "$(command -v kubectl)" --demo-secrets)
  trap - ERR
  log "ready: $url, state in $DIR"
  printf 'export OPSGATE_VAULT_DIR=%q\nexport VAULT_ADDR=%q\nexport BAO_ADDR=%q\n' "$DIR" "$url" "$url"
}

vault_dir() {
  DIR=${1:-${OPSGATE_VAULT_DIR:-}}
  [[ -n "$DIR" ]] || die "no server named: pass its state dir or set OPSGATE_VAULT_DIR"
  [[ -d "$DIR" ]] || die "$DIR does not exist"
}

cmd_down() {
  local pid
  if [[ -f "$DIR/pid" ]]; then
    pid=$(cat "$DIR/pid")
    if kill -TERM "$pid" 2>/dev/null; then
      local deadline=$(( $(date +%s) + 15 ))
      while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { log "bao ($pid) ignored SIGTERM for 15s; killing"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
  fi
  rm -rf "$DIR"
  log "stopped and removed $DIR"
}

cmd_status() {
  [[ -f "$DIR/pid" ]] || { echo "no server in $DIR"; return 1; }
  local pid; pid=$(cat "$DIR/pid")
  if kill -0 "$pid" 2>/dev/null; then echo "bao $pid running"; else echo "bao $pid stopped"; return 1; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) vault_dir "${2:-}"; cmd_down ;;
  status) vault_dir "${2:-}"; cmd_status ;;
  *) echo "usage: $0 up | down [DIR] | status [DIR]" >&2; exit 2 ;;
esac
