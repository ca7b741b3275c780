"""What `kubectl apply -f crds/` gives users: the API server itself accepts good OpsRequests and
Approvals and refuses bad ones with a message a person understands - no operator running."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.cluster import ROOT, Kubectl

DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64


def opsrequest(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body = {"request": "scale checkout to 6 replicas in production", "requester": "admin", **spec}
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def approval(name: str, namespace: str, *, requester: str = "alice") -> dict[str, Any]:
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "Approval",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "opsRequestRef": {"name": "req", "uid": "0b8e5ac4-97b6-4b2e-9f43-4a9e8f0f2c11"},
            "planDigest": DIGEST,
            "requester": requester,
            "requiredApprovals": 2,
            "approverGroups": ["opsgate-approvers"],
            "expiresAt": "2030-01-01T00:00:00Z",
            "summary": {"request": "create an email for x@acme.org", "action": "provision.create.email"},
        },
    }


def decide(k: Kubectl, namespace: str, name: str, decisions: list[dict[str, str]]) -> Any:
    patch = json.dumps({"spec": {"decisions": decisions}})
    return k("patch", "approval", name, "-n", namespace, "--type=merge", "-p", patch, check=False)


def entry(approver: str, decision: str = "Approve", digest: str = DIGEST) -> dict[str, str]:
    return {"approver": approver, "decision": decision, "digest": digest, "message": "looks right"}


@pytest.fixture
def roles(kubectl: Kubectl, namespace: str) -> str:
    """alice and bob may request; bob and carol approve; mallory only requests."""
    kubectl(
        "create",
        "rolebinding",
        "requesters",
        "--clusterrole=opsgate-requester",
        "--user=alice",
        "--user=bob",
        "--user=mallory",
        "-n",
        namespace,
    )
    kubectl(
        "create",
        "rolebinding",
        "approvers",
        "--clusterrole=opsgate-approver",
        "--group=opsgate-approvers",
        "-n",
        namespace,
    )
    return namespace


def test_a_valid_opsrequest_is_listed_with_its_printer_columns(kubectl: Kubectl, namespace: str) -> None:
    kubectl.create(opsrequest("scale-checkout", namespace, environment="production"))
    table = kubectl("get", "opsrequests", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "ACTION", "DECISION", "AGE"]
    assert table[1].startswith("scale-checkout")
    assert kubectl("get", "opsreq", "scale-checkout", "-n", namespace).returncode == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"request": None}, "spec.request: Required value"),
        ({"request": "x" * 4097}, "spec.request: Too long: may not be more than 4096"),
        ({"request": "   "}, "request must not be blank"),
        ({"environment": "prod"}, 'spec.environment: Unsupported value: "prod"'),
        ({"dryRun": "yes"}, "spec.dryRun: Invalid value"),
        (
            {"intent": {"category": "provision", "action": "create"}},
            "spec.intent.resource_type: Required value",
        ),
        (
            {"intent": {"category": "cooking", "action": "bake", "resource_type": "cake"}},
            'Unsupported value: "cooking"',
        ),
        (
            {"requester": "somebody-else"},
            'spec.requester must be your own username "admin", not "somebody-else"',
        ),
    ],
    ids=[
        "missing-request",
        "oversized-request",
        "blank-request",
        "bad-environment",
        "bad-dry-run",
        "incomplete-intent",
        "unknown-category",
        "forged-requester",
    ],
)
def test_an_invalid_opsrequest_is_refused_by_the_api_server(
    kubectl: Kubectl, namespace: str, spec: dict[str, Any], message: str
) -> None:
    result = kubectl.create(opsrequest("bad", namespace, **spec), check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_spec_of_an_opsrequest_cannot_change_after_creation(kubectl: Kubectl, namespace: str) -> None:
    kubectl.create(opsrequest("frozen", namespace))
    result = kubectl(
        "patch",
        "opsrequest",
        "frozen",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"request": "delete the production cluster"}}',
        check=False,
    )
    assert result.returncode != 0
    assert "spec is immutable after creation; to change a request, create a new OpsRequest" in result.stderr


def test_a_requester_creates_requests_only_under_their_own_name(kubectl: Kubectl, roles: str) -> None:
    alice = kubectl.as_user("alice")
    assert alice.create(opsrequest("mine", roles, requester="alice"), check=False).returncode == 0
    forged = alice.create(opsrequest("forged", roles, requester="bob"), check=False)
    assert 'spec.requester must be your own username "alice", not "bob"' in forged.stderr


def test_requesters_cannot_write_status_or_approve(kubectl: Kubectl, roles: str) -> None:
    alice = kubectl.as_user("alice")
    alice.create(opsrequest("mine", roles, requester="alice"))
    status = alice(
        "patch",
        "opsrequest",
        "mine",
        "-n",
        roles,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Approved"}}',
        check=False,
    )
    assert "forbidden" in status.stderr
    kubectl.create(approval("appr", roles))
    assert "forbidden" in decide(kubectl.as_user("mallory"), roles, "appr", [entry("mallory")]).stderr


def test_an_approver_in_the_group_records_a_decision(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", [entry("bob")])
    assert result.returncode == 0, result.stderr
    assert kubectl.get_json("approval", "appr", "-n", roles)["spec"]["decisions"][0]["approver"] == "bob"


def test_the_requester_cannot_approve_their_own_request(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles, requester="bob"))
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", [entry("bob")])
    assert '"bob" requested this change and can not approve or reject it' in result.stderr


def test_an_approver_cannot_decide_under_another_name(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", [entry("carol")])
    assert 'approver must be "bob"' in result.stderr


def test_only_members_of_the_approver_groups_decide(kubectl: Kubectl, roles: str) -> None:
    kubectl("create", "rolebinding", "dave-approver", "--clusterrole=opsgate-approver", "--user=dave", "-n", roles)
    kubectl.create(approval("appr", roles))
    result = decide(kubectl.as_user("dave"), roles, "appr", [entry("dave")])
    assert "only members of opsgate-approvers may decide on this request" in result.stderr


def test_a_decision_for_another_plan_digest_is_refused(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", [entry("bob", digest=OTHER_DIGEST)])
    assert "a decision must name the plan digest it decides on" in result.stderr


@pytest.mark.parametrize(
    ("decisions", "message"),
    [
        ([{"approver": "bob", "decision": "Maybe", "digest": DIGEST}], 'Unsupported value: "Maybe"'),
        ([{"approver": "bob", "decision": "Approve"}], "digest: Required value"),
        (
            [{"approver": "bob", "decision": "Approve", "digest": "abc"}],
            "should match '^sha256:[a-f0-9]{64}$'",
        ),
        ([entry("bob"), entry("bob", "Reject")], "each approver decides once"),
    ],
    ids=["unknown-verdict", "missing-digest", "malformed-digest", "same-approver-twice"],
)
def test_a_malformed_decision_is_refused(
    kubectl: Kubectl, roles: str, decisions: list[dict[str, str]], message: str
) -> None:
    kubectl.create(approval("appr", roles))
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", decisions)
    assert result.returncode != 0
    assert message in result.stderr


def test_decisions_are_append_only(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    bob, carol = kubectl.as_user("bob", "opsgate-approvers"), kubectl.as_user("carol", "opsgate-approvers")
    assert decide(bob, roles, "appr", [entry("bob")]).returncode == 0
    rewritten = decide(carol, roles, "appr", [entry("bob", "Reject"), entry("carol")])
    assert "earlier entries can't change or be removed" in rewritten.stderr
    removed = decide(carol, roles, "appr", [])
    assert "earlier entries can't change or be removed" in removed.stderr
    assert decide(carol, roles, "appr", [entry("bob"), entry("carol")]).returncode == 0


def test_the_controller_fields_of_an_approval_are_fixed(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    result = kubectl(
        "patch",
        "approval",
        "appr",
        "-n",
        roles,
        "--type=merge",
        "-p",
        '{"spec": {"requiredApprovals": 1}}',
        check=False,
    )
    assert "requiredApprovals is set by the controller and can't change" in result.stderr


def test_no_decision_is_taken_once_the_approval_is_settled(kubectl: Kubectl, roles: str) -> None:
    kubectl.create(approval("appr", roles))
    kubectl(
        "patch",
        "approval",
        "appr",
        "-n",
        roles,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"state": "Expired"}}',
    )
    result = decide(kubectl.as_user("bob", "opsgate-approvers"), roles, "appr", [entry("bob")])
    assert "this approval is already Expired" in result.stderr


def test_an_approval_cannot_be_created_with_decisions(kubectl: Kubectl, roles: str) -> None:
    body = copy.deepcopy(approval("appr", roles))
    body["spec"]["decisions"] = [entry("admin")]
    result = kubectl.create(body, check=False)
    assert "an Approval is created without decisions" in result.stderr


def test_the_examples_apply_cleanly(kubectl: Kubectl, namespace: str) -> None:
    examples = sorted(Path(ROOT / "examples").glob("*.yaml"))
    assert examples, "examples/ is empty"
    here = 0
    for example in examples:
        documents = list(yaml.safe_load_all(example.read_text()))
        # a file whose objects name their namespace (a tagged namespace and a request in it) applies as is
        placed = any((d.get("metadata") or {}).get("namespace") for d in documents)
        result = kubectl("apply", *([] if placed else ["-n", namespace]), "-f", str(example), check=False)
        assert result.returncode == 0, f"{example.name}: {result.stderr}"
        here += 0 if placed else len(documents)
    names = kubectl("get", "opsrequests", "-n", namespace, "-o", "name").stdout.split()
    assert len(names) == here


def test_requester_groups_are_accepted_only_when_they_are_the_callers_real_groups(kubectl: Kubectl, roles: str) -> None:
    kubectl(
        "create", "rolebinding", "mfa-requesters", "--clusterrole=opsgate-requester", "--group=opsgate-mfa", "-n", roles
    )
    alice = kubectl.as_user("alice", "opsgate-mfa")
    honest = opsrequest("honest", roles, requester="alice", requesterGroups=["opsgate-mfa", "system:authenticated"])
    assert alice.create(honest, check=False).returncode == 0
    mallory = kubectl.as_user("mallory")
    claimed = opsrequest("claimed", roles, requester="mallory", requesterGroups=["opsgate-mfa", "system:authenticated"])
    result = mallory.create(claimed, check=False)
    assert "spec.requesterGroups must be exactly your groups [system:authenticated] or left out" in result.stderr
    forged_extra = opsrequest("extra", roles, requester="mallory", requesterExtra={"amr": ["mfa"]})
    result = mallory.create(forged_extra, check=False)
    assert "spec.requesterExtra must be exactly the extra attributes of your identity" in result.stderr
