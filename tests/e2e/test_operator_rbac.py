"""The operator works with only the permissions deploy/operator-rbac.yaml grants it.

The session operator (admin credentials) is stopped; one running as the `opsgate-operator`
ServiceAccount (a token from the API server) takes its place for these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.cluster import REQUESTER_GROUPS, ROOT, Kubectl, Operator, opsrequest, requester, wait_for

ACCOUNT = "system:serviceaccount:opsgate-system:opsgate-operator"


@pytest.fixture(scope="module")
def least_privilege_operator(
    kubectl: Kubectl, operator: Operator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    kubectl(
        "apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"), "-f", str(ROOT / "deploy" / "executor-rbac.yaml")
    )
    token = kubectl("create", "token", "opsgate-operator", "-n", "opsgate-system", "--duration=1h").stdout.strip()
    admin = yaml.safe_load(Path(kubectl.cluster.kubeconfig).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": admin["clusters"][0]["name"], "user": "operator"}}],
        "current-context": "operator",
    }
    state = tmp_path_factory.mktemp("rbac-operator")
    kubeconfig = state / "kubeconfig"
    kubeconfig.write_text(json.dumps(config))
    operator.stop()
    scoped = Operator(operator.cluster, state / "operator.log", {**operator.env, "KUBECONFIG": str(kubeconfig)})
    scoped.start()
    yield scoped
    scoped.stop()
    operator.start()


def phase(k: Kubectl, namespace: str, name: str) -> str:
    status: dict[str, Any] = k.get_json("opsrequest", name, "-n", namespace).get("status") or {}
    return str(status.get("phase", ""))


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "allowed"),
    [
        ("create", "jobs", "opsgate-system", True),
        ("create", "jobs", "team-a", False),
        ("list", "jobs", None, False),  # no cluster-wide watch on every Job
        ("create", "configmaps", "team-a", False),
        ("create", "configmaps", "opsgate-system", False),  # the plan travels inside its Job
        ("patch", "opsrequests/status", None, True),
        ("create", "subjectaccessreviews", None, True),
        ("get", "secrets", None, False),
        ("delete", "jobs", "team-a", False),
        ("update", "opsrequests", None, False),
        ("create", "pods", "opsgate-system", False),
        ("create", "rolebindings", None, False),
    ],
    ids=lambda v: str(v),
)
def test_the_operator_account_can_do_only_what_it_needs(
    kubectl: Kubectl, verb: str, resource: str, namespace: str | None, allowed: bool
) -> None:
    kubectl("apply", "-f", str(ROOT / "deploy" / "operator-rbac.yaml"))
    where = ["-n", namespace] if namespace else ["-A"]
    answer = kubectl("auth", "can-i", verb, resource, "--as", ACCOUNT, *where, check=False).stdout.strip()
    assert answer == ("yes" if allowed else "no")


def test_a_request_runs_end_to_end_under_the_operators_own_account(
    kubectl: Kubectl, least_privilege_operator: Operator, namespace: str
) -> None:
    requester(kubectl, namespace, "rita").create(
        opsrequest("email", namespace, "create an email for rbac@acme.org", requester="rita", groups=REQUESTER_GROUPS)
    )
    wait_for(lambda: phase(kubectl, namespace, "email") == "AwaitingApproval", timeout=60, what="a decision")
    status = kubectl.get_json("opsrequest", "email", "-n", namespace)["status"]
    digest = status["plan"]["digest"]
    entry = {"approver": "bob", "decision": "Approve", "digest": digest}
    kubectl.as_user("bob", "opsgate-approvers")(
        "patch",
        "approval",
        status["approval"]["name"],
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"decisions": [entry]}}),
    )
    wait_for(lambda: phase(kubectl, namespace, "email") == "Succeeded", timeout=240, what="the Job's outcome")
    assert "forbidden" not in least_privilege_operator.log().lower()
