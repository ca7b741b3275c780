#!/usr/bin/env bash
# The Helm chart is the single source of what gets installed. This copies the repository's API
# surface (crds/) and policies (policies/) into the chart, which can't read files outside its
# folder, and renders deploy/ (the operator's and executor's RBAC, kopf peering) from the chart for
# `kubectl apply -f crds/ -f deploy/` users and the e2e harness. tests/unit/test_chart.py fails when
# any of them has drifted; run this after editing crds/, policies/ or the chart's RBAC templates.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELM="${OPSGATE_HELM:-$(hack/build-k8s.sh)/helm}"
CHART=charts/opsgate
rm -f "$CHART"/files/crds/*.yaml "$CHART"/files/policies/*.yaml
cp crds/*.yaml "$CHART/files/crds/"
cp policies/*.yaml "$CHART/files/policies/"
render() {  # render <output> <template>…: the chart's templates as plain manifests, with the namespace
  local out=$1
  shift
  {
    echo "# Generated from charts/opsgate by hack/sync-chart.sh: edit the chart, not this file."
    echo "# Apply after crds/:  kubectl apply -f crds/ -f deploy/"
    "$HELM" template opsgate "$CHART" --namespace opsgate-system --kube-version 1.34.2 \
      --set namespace.create=true "${@/#/--show-only=templates/}" | grep -v '^# Source: '
  } >"$out"
}
render deploy/operator-rbac.yaml namespace.yaml operator-rbac.yaml
render deploy/executor-rbac.yaml namespace.yaml executor-rbac.yaml
render deploy/peering.yaml peering.yaml
