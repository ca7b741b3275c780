"""The approval chain, attacked the way a user of the cluster would, on a real API server.

Each test plays one attacker: a namespace admin with a wildcard Role, a user who pre-creates an
object at a name the controller will use, an approver who decides after the deadline while the
operator is down, a requester who states a softer environment than the namespace's, a burst
against the rate limit. What counts is what a user would see: the API server's refusal, the
request's phase and the message on it.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from collections import Counter
from typing import Any

from tests.e2e.cluster import ROOT, Kubectl, Operator, Team, requester, wait_for
from tests.e2e.conftest import APPROVAL_TTL_SECONDS
from tests.e2e.test_lifecycle import EXECUTOR_NAMESPACE, condition, decide, jobs_in, status_of, wait_phase


def plan_json(text: str, *, namespace: str, requester: str, namespace_labels: dict[str, str] | None = None) -> Any:
    """What `opsgate plan` says about a request - the same planning the operator runs."""
    argv = [str(ROOT / ".venv/bin/opsgate"), "plan", text, "--json", "--namespace", namespace]
    argv += ["--requester", requester]
    for key, value in (namespace_labels or {}).items():
        argv += ["--namespace-label", f"{key}={value}"]
    result = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def wildcard_admin(kubectl: Kubectl, namespace: str, user: str) -> Kubectl:
    """``user`` may do anything to any resource of any group in ``namespace`` (a namespace admin)."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "everything", "namespace": namespace},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }
    kubectl.apply(role)
    kubectl("create", "rolebinding", f"everything-{user}", "--role=everything", f"--user={user}", "-n", namespace)
    return kubectl.as_user(user, "opsgate-approvers")


def test_a_namespace_admin_cannot_create_a_look_alike_approval(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    team.create("email", "create an email for john@acme.org")
    pending = wait_phase(kubectl, team.namespace, "email", "AwaitingApproval")
    mallory = wildcard_admin(kubectl, team.namespace, "mallory")
    ours = kubectl.get_json("approval", pending["approval"]["name"], "-n", team.namespace)
    look_alike = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "Approval",
        "metadata": {"name": "email-easy", "namespace": team.namespace},
        "spec": {**ours["spec"], "requiredApprovals": 1, "approverGroups": ["mallory-friends"]},
    }
    look_alike["spec"].pop("decisions", None)
    result = mallory.create(look_alike, check=False)
    assert result.returncode != 0
    assert "only the OpsGate controller creates Approvals" in result.stderr
    assert status_of(kubectl, team.namespace, "email")["phase"] == "AwaitingApproval"


def test_an_approval_pre_created_at_the_controllers_name_is_never_adopted(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    # The admin (system:masters) may create Approvals; even so the controller adopts none it didn't make.
    text = "create an email for eve@acme.org"
    planned = plan_json(text, namespace=team.namespace, requester=team.user)
    digest = planned["plan"]["digest"]
    name = f"squat-{digest.removeprefix('sha256:')[:10]}"
    squatter = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "Approval",
        "metadata": {"name": name, "namespace": team.namespace},
        "spec": {
            "opsRequestRef": {"name": "squat", "uid": "00000000-0000-0000-0000-000000000000"},
            "planDigest": digest,
            "requester": team.user,
            "requiredApprovals": 1,
            "approverGroups": ["anyone"],
            "expiresAt": "2030-01-01T00:00:00Z",
            "summary": {"request": text, "action": planned["plan"]["action"]},
        },
    }
    kubectl.create(squatter)
    team.create("squat", text)
    status = wait_phase(kubectl, team.namespace, "squat", "Failed")
    message = condition(status, "Ready")["message"]
    assert f"Approval {name} exists but was not created by OpsGate" in message
    assert not jobs_in(kubectl, team.namespace)


def test_a_job_pre_created_while_the_operator_was_down_is_never_adopted(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    text = "scale the checkout deployment to 2 replicas in staging"
    operator.stop()
    try:
        team.create("scale", text)
        uid = kubectl.get_json("opsrequest", "scale", "-n", team.namespace)["metadata"]["uid"]
        digest = plan_json(text, namespace=team.namespace, requester=team.user)["plan"]["digest"]
        job_name = f"opsgate-scale-{digest.removeprefix('sha256:')[:10]}-{uid.replace('-', '')[:8]}"
        squatter = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job_name, "namespace": EXECUTOR_NAMESPACE},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "x", "image": "busybox", "command": ["sh", "-c", "echo pwned"]}],
                    }
                }
            },
        }
        # a namespace admin can't write the executor namespace at all; a cluster admin can
        eddie = wildcard_admin(kubectl, team.namespace, "eddie")
        refused = eddie.create(squatter, check=False)
        assert refused.returncode != 0
        assert "forbidden" in refused.stderr
        kubectl.create(squatter)
    finally:
        operator.start()
    status = wait_phase(kubectl, team.namespace, "scale", "Failed", "Succeeded", "Running")
    assert status["phase"] == "Failed"
    assert f"Job {job_name} exists but was not created by OpsGate" in condition(status, "Ready")["message"]


def test_a_decision_appended_after_expiry_while_the_operator_was_down_never_approves(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    team.create("late", "create an email for late@acme.org")
    pending = wait_phase(kubectl, team.namespace, "late", "AwaitingApproval")
    approval = pending["approval"]["name"]
    digest = pending["plan"]["digest"]
    expires = kubectl.get_json("approval", approval, "-n", team.namespace)["spec"]["expiresAt"]
    operator.stop()
    try:
        due = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
        wait_for(
            lambda: datetime.datetime.now(datetime.UTC) > due + datetime.timedelta(seconds=1),
            timeout=APPROVAL_TTL_SECONDS + 30,
            what="the approval's expiry",
            interval=1,
        )
        bob = requester(kubectl, team.namespace, "bob-late")
        result = decide(bob, team.namespace, approval, "bob-late", "Approve", digest)
        assert result.returncode == 0, result.stderr  # admission has no clock; the controller does
    finally:
        operator.start()
    status = wait_phase(kubectl, team.namespace, "late", "Expired", "Approved", "Running", "Succeeded")
    assert status["phase"] == "Expired"
    assert "never approves" in condition(status, "Approved")["message"]
    assert not jobs_in(kubectl, team.namespace)


def test_a_softer_environment_stated_in_a_production_namespace_gets_the_production_rules(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    kubectl("label", "namespace", team.namespace, "opsgate.dev/environment=production")
    team.create("zero", "scale the checkout deployment to 0 replicas in dev")
    status = wait_phase(kubectl, team.namespace, "zero", "Denied", "AwaitingApproval", "Approved", "Succeeded")
    assert status["plan"]["environment"] == "production"
    assert status["phase"] in ("Denied", "AwaitingApproval")
    assert "production" in condition(status, "PolicyEvaluated")["message"]


def test_a_request_whose_name_is_longer_than_a_label_value_still_gets_its_approval(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    name = "a-request-with-a-very-long-name-" + "x" * 90
    team.create(name, "create an email for longname@acme.org")
    status = wait_phase(kubectl, team.namespace, name, "AwaitingApproval")
    approval = kubectl.get_json("approval", status["approval"]["name"], "-n", team.namespace)
    assert approval["metadata"]["annotations"]["opsgate.dev/request"] == name


def test_a_burst_from_one_requester_is_counted_exactly_against_the_rate_limit(
    kubectl: Kubectl, operator: Operator, team: Team
) -> None:
    # provision: 10 per requester and hour (policies/config.yaml); 30 created at once
    names = [f"ns-{i}" for i in range(30)]
    documents = [team.request(n, f"create a namespace team-{n} in dev") for n in names]
    team.kubectl("create", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in documents))

    def decided() -> list[dict[str, Any]]:
        items = kubectl.get_json("opsrequests", "-n", team.namespace)["items"]
        settled = [i for i in items if (i.get("status") or {}).get("policy")]
        return settled if len(settled) == len(names) else []

    items = wait_for(decided, timeout=120, what="30 requests decided", interval=1)
    rate = Counter(r["result"] for i in items for r in i["status"]["policy"]["results"] if r["policy"] == "rate-limits")
    assert rate == Counter({"pass": 10, "deny": 20})
