#!/usr/bin/env bash
# A real local Kubernetes control plane without Docker: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes whose pods "run" and whose Job
# pods complete), started as local processes the way envtest does. Unless OPSGATE_PROCESS_NODE=0, also a
# process node (hack/process_node.py): a kubelet stand-in that really runs the pods bound to it as local
# processes, tainted and labelled opsgate.dev/process-node=true so only executor Jobs land there.
#
#   eval "$(hack/local-cluster.sh up)"   # build once (cached), start, print shell exports
#   hack/local-cluster.sh status         # which processes of $OPSGATE_CLUSTER_DIR are alive
#   hack/local-cluster.sh down           # stop what `up` started, remove its state dir
#   hack/local-cluster.sh restart-process-node   # kill -9 and restart the process node (as a crash)
#
# Each cluster gets its own state dir (certs, data, logs, pids) and random free ports, so two
# never collide; `down` kills only the pids it wrote. Everything is logged under the state dir;
# only the exports go to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PROCESS_NODE=process-node

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start NAME CMD...: detached (no inherited stdio, own session), pid recorded.
start() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &  # appends: a restarted process keeps the old log
  echo "$name $!" >>"$DIR/pids"
}

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || { log "timed out waiting for $what; logs in $DIR/logs"; return 1; }
    sleep 0.2
  done
}

make_certs() {
  local c=$DIR/certs
  mkdir -p "$c"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=opsgate-local-ca" \
    -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$c/apiserver.key" -out "$c/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1\n' >"$c/san.ext"
  openssl x509 -req -in "$c/apiserver.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 365 -extfile "$c/san.ext" -out "$c/apiserver.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" \
    -keyout "$c/admin.key" -out "$c/admin.csr" 2>/dev/null
  openssl x509 -req -in "$c/admin.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 365 -out "$c/admin.crt" 2>/dev/null
  openssl genrsa -out "$c/sa.key" 2048 2>/dev/null
  openssl rsa -in "$c/sa.key" -pubout -out "$c/sa.pub" 2>/dev/null
}

write_kubeconfig() {
  local c=$DIR/certs
  cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: opsgate-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $c/ca.crt
users:
- name: admin
  user:
    client-certificate: $c/admin.crt
    client-key: $c/admin.key
contexts:
- name: opsgate-local
  context: {cluster: opsgate-local, user: admin}
current-context: opsgate-local
EOF
}

nodes_manifest() {
  local name labels taints
  for spec in "opsgate-worker-0|node-role: worker|" \
              "opsgate-llm-0|node-role: private-llm|[{key: node-role, value: private-llm, effect: NoSchedule}]"; do
    IFS='|' read -r name labels taints <<<"$spec"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {type: kwok, kubernetes.io/os: linux, kubernetes.io/arch: amd64, kubernetes.io/hostname: $name, $labels}
spec:
  taints: ${taints:-[]}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "2000"}
  capacity: {cpu: "32", memory: 256Gi, pods: "2000"}
EOF
  done
}

start_process_node() {
  # Root-only (unshare, bind mounts, setpriv). The venv first on its PATH: a pod's `opsgate`/`python` resolve there.
  start process-node env PATH="$ROOT/.venv/bin:$PATH" "$ROOT/.venv/bin/python" "$HERE/process_node.py" \
    --kubeconfig "$DIR/kubeconfig" --state-dir "$DIR/process-node" --node-name "$PROCESS_NODE" --concurrency 16
}

cmd_up() {
  local bin started
  started=$(date +%s)
  bin=$("$HERE/build-k8s.sh")
  DIR=${OPSGATE_CLUSTER_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/opsgate-cluster.XXXXXX")}
  mkdir -p "$DIR/logs" "$DIR/etcd"
  [[ -s "$DIR/pids" ]] && die "$DIR already has a running cluster (hack/local-cluster.sh down first)"
  : >"$DIR/pids"
  trap 'log "start failed; stopping what was started"; cmd_down >/dev/null 2>&1 || true' ERR

  # The process node needs root (unshare, bind mounts, setpriv): on by default as root, OPSGATE_PROCESS_NODE=0 opts out.
  PROCESS_NODE_ON=$( ((EUID == 0)) && echo "${OPSGATE_PROCESS_NODE:-1}" || echo "${OPSGATE_PROCESS_NODE:-0}")
  if [[ $PROCESS_NODE_ON == 1 && $EUID != 0 ]]; then die "OPSGATE_PROCESS_NODE=1 needs root"; fi
  if [[ $PROCESS_NODE_ON != 1 ]]; then log "no process node (OPSGATE_PROCESS_NODE=0 or not root): pods only \"run\" on kwok nodes"; fi
  # Executor pods mount an emptyDir at /tmp, and on the process node a mount hides the host's files
  # below it, the repository's venv included: their command would not be found.
  if [[ $PROCESS_NODE_ON == 1 && $ROOT == /tmp/* ]]; then
    die "the repository is under /tmp ($ROOT): executor pods mount /tmp and would hide its .venv on the process node; clone it elsewhere (or OPSGATE_PROCESS_NODE=0)"
  fi
  local etcd_port etcd_peer kcm_port sched_port
  etcd_port=$(free_port); etcd_peer=$(free_port); API_PORT=$(free_port)
  kcm_port=$(free_port); sched_port=$(free_port)
  make_certs
  write_kubeconfig
  local c=$DIR/certs k=$DIR/kubeconfig

  start etcd "$bin/etcd" --name default --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "default=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn

  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --secure-port "$API_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --tls-cert-file "$c/apiserver.crt" --tls-private-key-file "$c/apiserver.key" --client-ca-file "$c/ca.crt" \
    --authorization-mode Node,RBAC --service-cluster-ip-range 10.0.0.0/24 --allow-privileged \
    --service-account-issuer "https://127.0.0.1:$API_PORT" --service-account-key-file "$c/sa.pub" \
    --service-account-signing-key-file "$c/sa.key" --cert-dir "$DIR/certs/serving" \
    --enable-priority-and-fairness=false
  wait_for 90 "kube-apiserver /readyz" "$bin/kubectl" --kubeconfig "$k" get --raw /readyz

  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$k" \
    --authentication-kubeconfig "$k" --authorization-kubeconfig "$k" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" \
    --service-account-private-key-file "$c/sa.key" --root-ca-file "$c/ca.crt" --leader-elect=false \
    --use-service-account-credentials --controllers='*' \
    --cluster-signing-cert-file "$c/ca.crt" --cluster-signing-key-file "$c/ca.key" \
    --node-monitor-grace-period=120s
  # (on 2 busy cores kwok's heartbeats came late enough for the default 40 s to mark the fake
  # nodes NotReady mid-test, and a Deployment's pods with them, stalling real rollouts)
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$k" \
    --authentication-kubeconfig "$k" --authorization-kubeconfig "$k" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false
  start kwok "$bin/kwok" --kubeconfig "$k" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --config "$bin/../kwok-stages.yaml" --config "$HERE/kwok-node-heartbeat.yaml" \
    --server-address "127.0.0.1:$(free_port)"

  nodes_manifest | "$bin/kubectl" --kubeconfig "$k" apply -f - >&2
  if [[ $PROCESS_NODE_ON == 1 ]]; then
    start_process_node
    wait_for 60 "the process node" "$bin/kubectl" --kubeconfig "$k" get node "$PROCESS_NODE"
  fi
  wait_for 60 "nodes Ready" "$bin/kubectl" --kubeconfig "$k" wait --for=condition=Ready node --all --timeout=1s
  wait_for 60 "the default service account" "$bin/kubectl" --kubeconfig "$k" get serviceaccount default
  trap - ERR
  log "ready in $(( $(date +%s) - started ))s: API https://127.0.0.1:$API_PORT, state in $DIR"
  printf 'export OPSGATE_CLUSTER_DIR=%q\nexport KUBECONFIG=%q\nexport PATH=%q:"$PATH"\n' "$DIR" "$k" "$bin"
  if [[ $PROCESS_NODE_ON == 1 ]]; then
    # What executor Jobs need to land on the process node: this nodeSelector and a toleration for this key.
    printf 'export OPSGATE_EXECUTOR_NODE_SELECTOR=%s=true\nexport OPSGATE_EXECUTOR_TOLERATION=%s\n' \
      opsgate.dev/process-node opsgate.dev/process-node
  fi
}

cluster_dir() {
  DIR=${1:-${OPSGATE_CLUSTER_DIR:-}}
  [[ -n "$DIR" ]] || die "no cluster named: pass its state dir or set OPSGATE_CLUSTER_DIR"
  [[ -d "$DIR" ]] || die "$DIR does not exist"
}

cmd_down() {
  [[ -f "$DIR/pids" ]] || { log "nothing recorded in $DIR"; rm -rf "$DIR"; return 0; }
  local name pid deadline
  # Reverse start order: kwok and controllers first, etcd last.
  tac "$DIR/pids" | while read -r name pid; do
    kill -TERM "$pid" 2>/dev/null || continue
    deadline=$(( $(date +%s) + 15 ))
    while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) ignored SIGTERM for 15s; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
  log "stopped and removed $DIR"
}

cmd_restart_process_node() {  # SIGKILL, as a crash; the new agent fails the pods the old one ran
  local pid
  pid=$(awk '$1 == "process-node" {print $2}' "$DIR/pids" 2>/dev/null)
  [[ -n "$pid" ]] || die "no process node recorded in $DIR"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  sed -i '/^process-node /d' "$DIR/pids"
  start_process_node
  log "process node restarted (was $pid); log in $DIR/logs/process-node.log"
}

cmd_status() {
  [[ -f "$DIR/pids" ]] || { echo "no cluster in $DIR"; return 1; }
  local name pid down=0
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "$name $pid running"; else echo "$name $pid stopped"; down=1; fi
  done <"$DIR/pids"
  return "$down"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cluster_dir "${2:-}"; cmd_down ;;
  status) cluster_dir "${2:-}"; cmd_status ;;
  restart-process-node) cluster_dir "${2:-}"; cmd_restart_process_node ;;
  build) "$HERE/build-k8s.sh" ;;
  *) echo "usage: $0 up | down [DIR] | status [DIR] | restart-process-node [DIR] | build" >&2; exit 2 ;;
esac
