#!/usr/bin/env bash
# OpsGate's main job on the embedded defaults, end to end on a real local control plane:
# install the API, run the operator (rule parser), apply examples/, watch every request reach its
# phase, approve the one awaiting approval as a second user, and show the outcome.
#   hack/demo.sh          # then stop everything
#   hack/demo.sh --keep   # leave the cluster and the operator running; prints how to use them
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
keep=${1:-}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

hack/setup.sh --demo
say "starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
eval "$(hack/local-cluster.sh up)"
operator_pid=
cleanup() {
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  hack/local-cluster.sh down >/dev/null 2>&1 || true
}
[[ $keep == --keep ]] || trap cleanup EXIT

say "installing the API: kubectl apply -f crds/"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/opsrequests.opsgate.dev crd/approvals.opsgate.dev --timeout=60s >/dev/null
kubectl create clusterrolebinding demo-approvers --clusterrole=opsgate-approver --group=opsgate-approvers >/dev/null
kubectl label namespace default opsgate.dev/project=demo opsgate.dev/cost-center=cc-demo --overwrite >/dev/null

say "indexing the docs, playbooks, modules and policies for context: opsgate index"
export QDRANT_PATH=$OPSGATE_CLUSTER_DIR/qdrant
.venv/bin/opsgate index

say "running the operator: opsgate operator (log in $OPSGATE_CLUSTER_DIR/logs/operator.log)"
setsid .venv/bin/opsgate operator --metrics-port 0 --health http://127.0.0.1:0/healthz \
  </dev/null >"$OPSGATE_CLUSTER_DIR/logs/operator.log" 2>&1 &
operator_pid=$!
sleep 3

say "applying the examples as admin: kubectl apply -f examples/"
kubectl apply -f examples/
for example in examples/*.yaml; do
  name=$(awk '/^  name:/{print $2; exit}' "$example")
  expected=$(awk '/opsgate.dev\/expected-phase:/{print $2; exit}' "$example")
  kubectl wait --for=jsonpath='{.status.phase}'="$expected" "opsrequest/$name" --timeout=60s >/dev/null
done
kubectl get opsrequests

approval=$(kubectl get opsrequest email-john -o jsonpath='{.status.approval.name}')
digest=$(kubectl get approval "$approval" -o jsonpath='{.spec.planDigest}')
say "the email request waits for approval; admin requested it, so admin may not approve it:"
kubectl get approval "$approval"
say "bob (group opsgate-approvers) approves plan $digest"
kubectl --as bob --as-group opsgate-approvers patch approval "$approval" --type=merge \
  -p "{\"spec\":{\"decisions\":[{\"approver\":\"bob\",\"decision\":\"Approve\",\"digest\":\"$digest\",\"message\":\"ok\"}]}}"
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded opsrequest/email-john --timeout=60s >/dev/null
kubectl get opsrequests,approvals,jobs

say "why was delete-payments-prod denied?"
kubectl get opsrequest delete-payments-prod -o jsonpath='{range .status.policy.results[?(@.result=="deny")]}{.policy}: {.message}{"\n"}{end}'
say "what did the question get?"
kubectl get opsrequest how-to-rotate -o jsonpath='{.status.answer}{"\n"}' | head -20
say "which sources was the scale request planned with?"
kubectl get opsrequest scale-checkout -o jsonpath='{range .status.context[*]}{.score}  {.source}{"\n"}{end}'

if [[ $keep == --keep ]]; then
  say "left running (operator pid $operator_pid); to use it:"
  printf 'export KUBECONFIG=%q PATH=%q:"$PATH" OPSGATE_CLUSTER_DIR=%q\n' "$KUBECONFIG" "$(dirname "$(command -v kubectl)")" "$OPSGATE_CLUSTER_DIR"
  echo "stop with: kill $operator_pid; hack/local-cluster.sh down $OPSGATE_CLUSTER_DIR"
fi
