"""Validated changes that roll themselves back, and rollbacks asked for later, on the real cluster.

The scale entry of the catalog declares a validation (the rollout completes within its timeout)
and a rollback (scale back to the count captured before the change). The Jobs run on the process
node, so the Deployment really changes and really changes back. A Deployment whose pods can land
on no node (a nodeSelector no node has) makes a scale whose new pods never become ready.
"""

from __future__ import annotations

import json
import subprocess

from tests.e2e.cluster import ROOT, Kubectl, Operator, Team
from tests.e2e.test_lifecycle import EXECUTOR_NAMESPACE, wait_phase


def replicas(kubectl: Kubectl, namespace: str, name: str) -> int:
    return int(kubectl.get_json("deployment", name, "-n", namespace)["spec"]["replicas"])


def rollback(kubectl: Kubectl, team: Team, name: str) -> subprocess.CompletedProcess[str]:
    """``opsgate rollback NAME`` as the team's requester (impersonated through the admin kubeconfig)."""
    argv = [str(ROOT / ".venv/bin/opsgate"), "rollback", name, "-n", team.namespace]
    argv += ["--as", team.user, "--as-group", "opsgate-mfa"]
    return subprocess.run(argv, env=kubectl.cluster.env, capture_output=True, text=True, check=False, timeout=60)


def test_a_scale_whose_pods_never_become_ready_is_rolled_back_on_its_own(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    ns = team.namespace
    kubectl("create", "deployment", "stuck", "--image=registry.local/shop/app:1", "--replicas=0", "-n", ns)
    nowhere = json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"opsgate.dev/no-such-node": "x"}}}}})
    kubectl("patch", "deployment", "stuck", "-n", ns, "--type=merge", "-p", nowhere)

    team.create("grow-stuck", "scale deployment stuck to 2 replicas in staging")
    status = wait_phase(kubectl, ns, "grow-stuck", "Succeeded", "Failed", timeout=240)

    assert status["phase"] == "Failed"
    result = status["result"]
    assert result["reason"] == "ValidationFailed"
    assert result["validation"]["state"] == "Failed"
    assert "timed out" in result["validation"]["message"]
    assert result["rollback"]["state"] == "RolledBack"
    assert result["rollback"]["parameters"] == {"name": "stuck", "namespace": ns, "replicas": 0}
    assert "rolled back: Deployment" in result["summary"]
    assert replicas(kubectl, ns, "stuck") == 0  # really scaled to 2, and really back
    (pod,) = kubectl.get_json("pods", "-n", EXECUTOR_NAMESPACE, "-l", f"job-name={status['job']['name']}")["items"]
    assert pod["spec"]["nodeName"] == "process-node"

    # It was undone already: asking again is refused, with the reason.
    again = rollback(kubectl, team, "grow-stuck")
    assert again.returncode != 0
    assert "already rolled back when its validation failed" in again.stderr


def test_a_rollback_asked_for_later_is_a_new_request_through_policy(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    ns = team.namespace
    team.create("grow", "scale deployment checkout to 2 replicas in staging")
    status = wait_phase(kubectl, ns, "grow", "Succeeded", "Failed", timeout=240)
    assert status["phase"] == "Succeeded", status.get("result")
    assert status["result"]["validation"]["state"] == "Passed"
    assert status["result"]["rollback"] == {
        "action": "provision.scale.deployment",
        "parameters": {"name": "checkout", "namespace": ns, "replicas": 1},
        "state": "Available",
    }
    assert replicas(kubectl, ns, "checkout") == 2

    asked = rollback(kubectl, team, "grow")
    assert asked.returncode == 0, asked.stderr
    undo = wait_phase(kubectl, ns, "grow-rollback", "Succeeded", "Failed", "AwaitingApproval", "Denied", timeout=240)
    assert undo["phase"] == "Succeeded", undo
    request = kubectl.get_json("opsrequest", "grow-rollback", "-n", ns)
    assert request["spec"]["requester"] == team.user  # asked as the person, not the operator
    assert request["metadata"]["labels"]["opsgate.dev/rollback-of"] == "grow"
    assert undo["policy"]["decision"] == "Allowed"  # judged by the same policies
    assert replicas(kubectl, ns, "checkout") == 1

    twice = rollback(kubectl, team, "grow")
    assert twice.returncode != 0
    assert "has already been asked to roll back" in twice.stderr


def test_a_request_without_a_recorded_rollback_cannot_be_rolled_back(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    team.create("bounce", "restart deployment payments in staging")
    wait_phase(kubectl, team.namespace, "bounce", "Succeeded", "Failed", timeout=240)
    refused = rollback(kubectl, team, "bounce")
    assert refused.returncode != 0
    assert "recorded no rollback" in refused.stderr
