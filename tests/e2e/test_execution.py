"""Approved plans really run: Jobs on the local cluster's process node execute `opsgate execute`.

Each test asserts what a user sees after the run - the Deployment's replicas, the mailbox at the
provider, the failing task named in the request's status - and tries the execution path as an
attacker would: another plan swapped into the executor pod before it runs, a requester without
the action's RBAC, a secret that must appear in no output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.cluster import REQUESTER_GROUPS, ROOT, Kubectl, Operator, Team, opsrequest, requester, wait_for
from tests.e2e.test_lifecycle import EXECUTOR_NAMESPACE, condition, decide, wait_phase
from tests.fakes import mail_server


def replicas(kubectl: Kubectl, namespace: str, name: str) -> int:
    deployment = kubectl.get_json("deployment", name, "-n", namespace)
    return int(deployment["spec"]["replicas"])


def test_an_allowed_scale_really_changes_the_deployment(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    shop = f"shop-{team.namespace.rsplit('-', 1)[-1]}"  # a name that reads as a name, not as words
    kubectl("create", "namespace", shop)
    kubectl("create", "deployment", "web", "--image=registry.local/shop/web:1", "-n", shop)
    kubectl("create", "rolebinding", "requests", "--clusterrole=opsgate-requester", f"--user={team.user}", "-n", shop)
    try:
        team.create("web", f"scale deployment web in namespace {shop} to 3 replicas")
        status = wait_phase(kubectl, team.namespace, "web", "Succeeded", "Failed", timeout=180)
        assert status["phase"] == "Succeeded", status.get("result")
        assert replicas(kubectl, shop, "web") == 3
        assert status["result"]["counts"]["changed"] >= 1
        assert "scaled from 1 to 3" in status["result"]["summary"]
        (pod,) = kubectl.get_json("pods", "-n", EXECUTOR_NAMESPACE, "-l", f"job-name={status['job']['name']}")["items"]
        assert pod["spec"]["nodeName"] == "process-node"  # it ran; a fake node runs nothing
    finally:
        kubectl("delete", "namespace", shop, "--wait=false", check=False)


def test_a_failing_playbook_ends_failed_with_the_task_named(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    team.create("ghost", "scale the ghost deployment to 2 replicas in staging")
    status = wait_phase(kubectl, team.namespace, "ghost", "Succeeded", "Failed", timeout=180)
    assert status["phase"] == "Failed"
    assert status["result"]["failedTask"] == "Read the deployment's current replica count"
    assert "Read the deployment's current replica count" in condition(status, "Executed")["message"]


def test_an_approved_mailbox_is_created_with_a_token_from_vault_that_appears_nowhere(
    kubectl: Kubectl, operator: Operator, team: Team, mail_api: mail_server.MailServer
) -> None:
    team.create("mailbox", "create an email for grace@acme.org")
    pending = wait_phase(kubectl, team.namespace, "mailbox", "AwaitingApproval")
    approver = requester(kubectl, team.namespace, f"{team.user}-approver")
    result = decide(
        approver,
        team.namespace,
        pending["approval"]["name"],
        f"{team.user}-approver",
        "Approve",
        pending["plan"]["digest"],
    )
    assert result.returncode == 0, result.stderr
    status = wait_phase(kubectl, team.namespace, "mailbox", "Succeeded", "Failed", timeout=180)
    assert status["phase"] == "Succeeded", status.get("result")
    assert mail_api.state.mailboxes["grace@acme.org"]["quota_mib"] == 1024
    assert all(authorized for _, path, authorized in mail_api.state.calls if "grace" in path)
    # the token: in no status, event, Job, pod or log this run wrote
    token = mail_api.state.token
    cluster_dir = Path(operator.env["OPSGATE_CLUSTER_DIR"])
    captured = [
        json.dumps(kubectl.get_json("opsrequests,approvals", "-A")),
        json.dumps(kubectl.get_json("events", "-A")),
        json.dumps(kubectl.get_json("jobs,pods,configmaps", "-n", EXECUTOR_NAMESPACE)),
        operator.log(),
        *(path.read_text(errors="replace") for path in cluster_dir.rglob("*.log")),
    ]
    assert not [text[:200] for text in captured if token in text]


def test_a_job_deleted_while_it_runs_fails_its_request_at_once(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    kubectl("cordon", "process-node")  # its pod waits unscheduled: the Job stays running
    try:
        team.create("cut", "restart the checkout deployment in staging")
        running = wait_phase(kubectl, team.namespace, "cut", "Running", "Succeeded", "Failed", timeout=120)
        assert running["phase"] == "Running"
        kubectl("delete", "job", running["job"]["name"], "-n", EXECUTOR_NAMESPACE, "--wait=false")
    finally:
        kubectl("uncordon", "process-node")
    # the Job watch hears the deletion: no poll interval, no operator restart needed
    status = wait_phase(kubectl, team.namespace, "cut", "Failed", "Succeeded", timeout=30)
    assert status["phase"] == "Failed"
    assert "was deleted before its outcome was read" in condition(status, "Ready")["message"]


def _executor_objects(kubectl: Kubectl, uid: str) -> list[str]:
    """The Jobs (and any ConfigMaps) the executor namespace still holds for the request ``uid``."""
    found = kubectl.get_json("jobs,configmaps", "-n", EXECUTOR_NAMESPACE, "-l", f"opsgate.dev/request-uid={uid}")
    return [f"{item['kind']}/{item['metadata']['name']}" for item in found["items"]]


def test_deleting_a_running_request_deletes_its_job_and_plan(kubectl: Kubectl, operator: Operator, team: Team) -> None:
    kubectl("cordon", "process-node")  # its pod waits unscheduled: the Job is still running when deleted
    try:
        team.create("dropped", "restart the checkout deployment in staging")
        running = wait_phase(kubectl, team.namespace, "dropped", "Running", "Succeeded", "Failed", timeout=120)
        assert running["phase"] == "Running"
        uid = kubectl.get_json("opsrequest", "dropped", "-n", team.namespace)["metadata"]["uid"]
        assert len(_executor_objects(kubectl, uid)) == 1  # its Job, the plan inside it
        kubectl("delete", "opsrequest", "dropped", "-n", team.namespace, "--timeout=60s")
    finally:
        kubectl("uncordon", "process-node")
    # kubectl delete returned: the request is gone, and nothing of it is left to run
    assert _executor_objects(kubectl, uid) == []


def test_a_request_deleted_while_the_operator_is_down_is_cleaned_up_when_it_returns(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    kubectl("cordon", "process-node")
    try:
        team.create("orphan", "restart the checkout deployment in staging")
        running = wait_phase(kubectl, team.namespace, "orphan", "Running", "Succeeded", "Failed", timeout=120)
        assert running["phase"] == "Running"
        uid = kubectl.get_json("opsrequest", "orphan", "-n", team.namespace)["metadata"]["uid"]
        operator.stop()
        try:
            kubectl("delete", "opsrequest", "orphan", "-n", team.namespace, "--wait=false")
        finally:
            operator.start()
    finally:
        kubectl("uncordon", "process-node")

    def gone() -> bool:
        request = kubectl("get", "opsrequest", "orphan", "-n", team.namespace, check=False)
        return request.returncode != 0 and not _executor_objects(kubectl, uid)

    wait_for(gone, timeout=60, what="the deleted request and its Job gone")


def test_a_plan_swapped_into_the_pod_before_it_runs_is_refused(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    kubectl("cordon", "process-node")  # its pod waits unscheduled: time to tamper with it
    try:
        team.create("swapped", "scale the checkout deployment to 4 replicas in staging")
        running = wait_phase(kubectl, team.namespace, "swapped", "Running", "Succeeded", "Failed", timeout=120)
        assert running["phase"] == "Running"
        selector = f"job-name={running['job']['name']}"

        def pod() -> str | None:
            items = kubectl.get_json("pods", "-n", EXECUTOR_NAMESPACE, "-l", selector)["items"]
            return items[0]["metadata"]["name"] if items else None

        name = wait_for(pod, timeout=60, what="the Job's pod")
        # Another valid plan, digest and all (only a cluster admin can write the executor
        # namespace; an annotation is the one part of a pod that can still be edited).
        other = _plan(team, "scale the checkout deployment to 40 replicas in staging")
        assert other["digest"] != running["plan"]["digest"]
        swap = f"opsgate.dev/plan={json.dumps(other)}"
        kubectl("annotate", "pod", name, "-n", EXECUTOR_NAMESPACE, "--overwrite", swap)
    finally:
        kubectl("uncordon", "process-node")
    status = wait_phase(kubectl, team.namespace, "swapped", "Failed", "Succeeded", timeout=180)
    assert status["phase"] == "Failed"
    message = condition(status, "Executed")["message"]
    assert f"is not the approved digest {running['plan']['digest']} this Job was created for" in message
    assert replicas(kubectl, team.namespace, "checkout") == 1


def test_a_requester_without_the_actions_rbac_is_denied(kubectl: Kubectl, operator: Operator, namespace: str) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "restart-only", "namespace": namespace},
        "rules": [
            {"apiGroups": ["opsgate.dev"], "resources": ["opsrequests"], "verbs": ["create", "get"]},
            {
                "apiGroups": ["opsgate.dev"],
                "resources": ["actions"],
                "verbs": ["execute"],
                "resourceNames": ["provision.restart.deployment"],
            },
        ],
    }
    kubectl.apply(role)
    kubectl("create", "rolebinding", "nora", "--role=restart-only", "--user=nora", "-n", namespace)
    nora = kubectl.as_user("nora")
    nora.create(
        opsrequest("scale", namespace, "scale the checkout deployment to 3 replicas in staging", requester="nora")
    )
    nora.create(opsrequest("restart", namespace, "restart the checkout deployment in staging", requester="nora"))
    status = wait_phase(kubectl, namespace, "scale", "Denied", "Approved", "Running", "Succeeded", "Failed")
    assert status["phase"] == "Denied"
    denial = next(r for r in status["policy"]["results"] if r["policy"] == "rbac-execute")
    assert f"nora may not execute provision.scale.deployment in namespace {namespace}" in denial["message"]
    restart = wait_phase(kubectl, namespace, "restart", "Denied", "Approved", "Running", "Succeeded", "Failed")
    assert restart["phase"] != "Denied"


def _plan(team: Team, text: str) -> Any:
    argv = [
        str(ROOT / ".venv/bin/opsgate"),
        "plan",
        text,
        "--json",
        "--namespace",
        team.namespace,
        "--requester",
        team.user,
    ]
    argv += ["--groups", ",".join(sorted({*REQUESTER_GROUPS, "system:authenticated"}))]
    result = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)["plan"]
