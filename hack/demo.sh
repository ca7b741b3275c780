#!/usr/bin/env bash
# OpsGate's main job on the embedded defaults, end to end on a real local control plane:
# install the API, run the operator (rule parser), apply examples/, watch every request reach its
# phase, and see approved plans really run: the scale request's Job runs `opsgate execute` on the
# process node (ansible-runner, kubectl) and the Deployment gets its replicas; an e-mail request
# by a user with MFA is approved by a second user, and its Job fetches the mail provider's token
# from OpenBao (Kubernetes auth) and creates the mailbox at the provider (a test server here).
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
operator_pid= mail_pid=
cleanup() {
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  [[ -n $mail_pid ]] && kill "$mail_pid" 2>/dev/null
  hack/vault-dev.sh down >/dev/null 2>&1 || true
  hack/local-cluster.sh down >/dev/null 2>&1 || true
}
[[ $keep == --keep ]] || trap cleanup EXIT

say "installing the API and the operator's and executor's accounts: kubectl apply -f crds/ -f deploy/"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/opsrequests.opsgate.dev crd/approvals.opsgate.dev --timeout=60s >/dev/null
kubectl apply -f deploy/ >/dev/null
kubectl create clusterrolebinding demo-approvers --clusterrole=opsgate-approver --group=opsgate-approvers >/dev/null
kubectl create rolebinding alice-requests --clusterrole=opsgate-requester --user=alice >/dev/null
# the executor may act in this namespace (a platform team binds it where OpsGate may act)
kubectl create rolebinding opsgate-executor --clusterrole=opsgate-executor \
  --serviceaccount=opsgate-system:opsgate-executor >/dev/null
kubectl create clusterrolebinding opsgate-executor-namespaces --clusterrole=opsgate-executor-namespaces \
  --serviceaccount=opsgate-system:opsgate-executor >/dev/null
kubectl label namespace default opsgate.dev/project=demo opsgate.dev/cost-center=cc-demo --overwrite >/dev/null
kubectl create deployment checkout --image=registry.local/shop/checkout:1 >/dev/null
say "the checkout Deployment before any request:"
kubectl get deployment checkout

say "starting OpenBao (Vault's API) with Kubernetes auth against this cluster, and the mail provider's API"
eval "$(hack/vault-dev.sh up)"
mail_token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
VAULT_TOKEN=$(cat "$OPSGATE_VAULT_DIR/root-token") "$(hack/fetch-openbao.sh)/bao" kv put -mount=secret \
  opsgate/mail token="$mail_token" >/dev/null
mail_log=$OPSGATE_CLUSTER_DIR/logs/mail-api.log
setsid .venv/bin/python -m tests.fakes.mail_server --token "$mail_token" </dev/null >"$mail_log" 2>&1 &
mail_pid=$!
for _ in $(seq 50); do [[ -s $mail_log ]] && break; sleep 0.1; done
mail_url=$(head -1 "$mail_log")
export OPSGATE_EXECUTOR_ENV="OPSGATE_MAIL_API_URL=$mail_url"

# The operator indexes the docs, playbooks, modules and policies for context by itself, in the
# background (requests don't wait for it); `opsgate index` while it runs is handed to it.
export QDRANT_PATH=$OPSGATE_CLUSTER_DIR/qdrant

say "running the operator: opsgate operator (log in $OPSGATE_CLUSTER_DIR/logs/operator.log); it indexes its context sources in the background"
setsid env VAULT_ADDR="$VAULT_ADDR" OPSGATE_EXECUTOR_ENV="$OPSGATE_EXECUTOR_ENV" .venv/bin/opsgate operator --metrics-port 0 --health http://127.0.0.1:0/healthz \
  </dev/null >"$OPSGATE_CLUSTER_DIR/logs/operator.log" 2>&1 &
operator_pid=$!
sleep 3
# Requests don't wait for the index; the demo does, so that the questions below show their sources.
for _ in $(seq 240); do grep -q "context index:" "$OPSGATE_CLUSTER_DIR/logs/operator.log" && break; sleep 0.5; done

# the examples' team namespace (examples/namespace-tags.yaml labels it): the executor may act there too
kubectl create namespace team-shop >/dev/null
kubectl create rolebinding opsgate-executor --clusterrole=opsgate-executor \
  --serviceaccount=opsgate-system:opsgate-executor -n team-shop >/dev/null
say "applying the examples as admin: kubectl apply -f examples/"
kubectl apply -f examples/
# each example states the phase it ends in (an annotation); a file may also hold its namespace
kubectl get -f examples/ -o jsonpath='{range .items[?(@.kind=="OpsRequest")]}{.metadata.namespace} {.metadata.name} {.metadata.annotations.opsgate\.dev/expected-phase}{"\n"}{end}' |
  while read -r namespace name expected; do
    kubectl wait --for=jsonpath='{.status.phase}'="$expected" "opsrequest/$name" -n "$namespace" --timeout=120s >/dev/null
  done
kubectl get opsrequests -A

say "scale-checkout ran for real: its Job ran opsgate execute on the process node"
kubectl get opsrequest scale-checkout -o jsonpath='{.status.result}{"\n"}'
kubectl get deployment checkout

say "alice (signed in with MFA) asks for a mailbox; it needs an approval"
kubectl --as alice --as-group opsgate-mfa create -f - <<YAML
apiVersion: opsgate.dev/v1alpha1
kind: OpsRequest
metadata: {name: email-jane}
spec:
  request: create an email for jane@acme.org
  requester: alice
  requesterGroups: [opsgate-mfa, system:authenticated]
YAML
kubectl wait --for=jsonpath='{.status.phase}'=AwaitingApproval opsrequest/email-jane --timeout=60s >/dev/null
approval=$(kubectl get opsrequest email-jane -o jsonpath='{.status.approval.name}')
say "what the approver sees (opsgate approve prints the same):"
kubectl get approval "$approval" -o jsonpath='{.spec.summary}{"\n"}'
say "alice may not approve her own request:"
.venv/bin/opsgate approve "$approval" -n default --as alice --as-group opsgate-approvers || true
say "bob (group opsgate-approvers) approves it"
.venv/bin/opsgate approve "$approval" -n default --as bob --as-group opsgate-approvers -m "quota checked"
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded opsrequest/email-jane --timeout=120s >/dev/null
kubectl get opsrequests,approvals
kubectl get jobs -n opsgate-system
say "the mailbox now exists at the mail provider (the executor read the provider's token from OpenBao):"
curl -s -H "Authorization: Bearer $mail_token" "$mail_url/mailboxes/jane@acme.org"; echo
kubectl get opsrequest email-jane -o jsonpath='{.status.result}{"\n"}'

say "why was delete-payments-prod denied?"
kubectl get opsrequest delete-payments-prod -o jsonpath='{range .status.policy.results[?(@.result=="deny")]}{.policy}: {.message}{"\n"}{end}'
say "what did the question get?"
kubectl get opsrequest how-to-rotate -o jsonpath='{.status.answer}{"\n"}' | sed -n 1,20p  # sed reads it all: no SIGPIPE under pipefail
say "which sources was the scale request planned with?"
kubectl get opsrequest scale-checkout -o jsonpath='{range .status.context[*]}{.score}  {.source}{"\n"}{end}'

if [[ $keep == --keep ]]; then
  say "left running (operator pid $operator_pid); to use it:"
  printf 'export KUBECONFIG=%q PATH=%q:"$PATH" OPSGATE_CLUSTER_DIR=%q\n' "$KUBECONFIG" "$(dirname "$(command -v kubectl)")" "$OPSGATE_CLUSTER_DIR"
  echo "stop with: kill $operator_pid $mail_pid; hack/vault-dev.sh down; hack/local-cluster.sh down $OPSGATE_CLUSTER_DIR"
fi
