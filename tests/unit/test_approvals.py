"""What an Approval's decisions add up to, and the Approval the controller creates."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from opsgate.controller import approvals
from opsgate.resources import ApprovalState, Verdict

NOW = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.UTC)
DIGEST = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64


def spec(*decisions: tuple[str, str, str], required: int = 1, expires: str = "2026-11-03T10:00:00Z") -> dict[str, Any]:
    return {
        "opsRequestRef": {"name": "r", "uid": "u"},
        "planDigest": DIGEST,
        "requester": "alice",
        "requiredApprovals": required,
        "approverGroups": ["opsgate-approvers"],
        "expiresAt": expires,
        "summary": {},
        "decisions": [{"approver": a, "decision": d, "digest": g} for a, d, g in decisions],
    }


@pytest.mark.parametrize(
    ("approval_spec", "state", "approvers"),
    [
        (spec(), ApprovalState.PENDING, ()),
        (spec(("bob", "Approve", DIGEST)), ApprovalState.APPROVED, ("bob",)),
        (spec(("bob", "Approve", DIGEST), required=2), ApprovalState.PENDING, ("bob",)),
        (
            spec(("bob", "Approve", DIGEST), ("carol", "Approve", DIGEST), required=2),
            ApprovalState.APPROVED,
            ("bob", "carol"),
        ),
        (
            spec(("bob", "Approve", DIGEST), ("bob", "Approve", DIGEST), required=2),
            ApprovalState.PENDING,
            ("bob",),
        ),
        (
            spec(("bob", "Approve", DIGEST), ("carol", "Reject", DIGEST), required=2),
            ApprovalState.REJECTED,
            ("bob",),
        ),
        (spec(("alice", "Approve", DIGEST)), ApprovalState.PENDING, ()),
        (spec(("bob", "Approve", OTHER)), ApprovalState.PENDING, ()),
        (spec(expires="2026-11-02T10:00:00Z"), ApprovalState.EXPIRED, ()),
        (spec(("bob", "Approve", DIGEST), expires="2026-11-01T00:00:00Z"), ApprovalState.EXPIRED, ()),
        (spec(("bob", "Reject", DIGEST), expires="2026-11-01T00:00:00Z"), ApprovalState.EXPIRED, ()),
    ],
    ids=[
        "no-decisions",
        "one-of-one",
        "one-of-two",
        "two-of-two",
        "same-approver-twice-counts-once",
        "any-rejection-rejects",
        "self-approval-does-not-count",
        "other-digest-does-not-count",
        "expired-at-the-deadline",
        "an-approval-seen-after-expiry-never-approves",
        "past-expiry-it-is-expired-whatever-was-decided",
    ],
)
def test_decisions_tally_into_a_state(
    approval_spec: dict[str, Any], state: ApprovalState, approvers: tuple[str, ...]
) -> None:
    result = approvals.tally(approval_spec, now=NOW)
    assert (result.state, result.approvers) == (state, approvers)


def test_a_pending_approval_says_who_is_awaited() -> None:
    message = approvals.tally(spec(("bob", "Approve", DIGEST), required=2), now=NOW).message
    assert message == "1 of 2 approvals; waiting for a member of opsgate-approvers"


def test_the_built_approval_is_bound_to_the_plan_and_owned_by_the_request() -> None:
    request = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": "email-john", "namespace": "team", "uid": "uid-1"},
        "spec": {"request": "create an email for john@acme.org", "requester": "alice"},
    }
    plan = {
        "action": "provision.create.email",
        "digest": DIGEST,
        "parameters": {"email": "john@acme.org"},
        "executor": {"kind": "ansible", "playbook": "playbooks/provision/create-email.yml"},
        "risk": "low",
    }
    body = approvals.build(
        request=request,
        plan=plan,
        policy_lines=["catalog-approval: approval"],
        required_approvals=2,
        approver_groups=["sre"],
        description="Create a mailbox",
        now=NOW,
    )
    assert body["metadata"]["name"] == "email-john-1111111111"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert body["spec"]["planDigest"] == DIGEST
    assert body["spec"]["requester"] == "alice"
    assert body["spec"]["expiresAt"] == "2026-11-03T10:00:00Z"
    assert body["spec"]["summary"]["executor"] == "playbooks/provision/create-email.yml"
    assert approvals.tally(body["spec"], now=NOW).state is ApprovalState.PENDING


def test_a_decision_is_appended_for_the_approvals_own_digest_and_guarded_by_resource_version() -> None:
    approval = {"metadata": {"resourceVersion": "42"}, "spec": spec()}
    first = approvals.decision_patch(approval, approver="bob", verdict=Verdict.APPROVE, message="ok")
    assert first == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {
            "op": "add",
            "path": "/spec/decisions",
            "value": [{"approver": "bob", "decision": "Approve", "digest": DIGEST, "message": "ok"}],
        },
    ]
    approval["spec"] = spec(("bob", "Approve", DIGEST))
    second = approvals.decision_patch(approval, approver="carol", verdict=Verdict.REJECT, message="")
    assert second[1] == {
        "op": "add",
        "path": "/spec/decisions/-",
        "value": {"approver": "carol", "decision": "Reject", "digest": DIGEST},
    }


def test_approvers_are_shown_the_parameters_environment_risk_and_why_it_asks() -> None:
    approval = {
        "metadata": {"name": "email-1234"},
        "spec": {
            **spec(),
            "summary": {
                "request": "delete old test mailbox t1@acme.org",
                "action": "provision.delete.email",
                "description": "Delete a mailbox and its mail",
                "risk": "medium",
                "environment": "production",
                "executor": "playbooks/provision/delete-email.yml",
                "parameters": {"email": "ceo@acme.org"},
                "policy": ["catalog-approval: provision.delete.email requires approval"],
                "warnings": ["spec.intent names email=ceo@acme.org, which the request text does not mention"],
            },
        },
    }
    text = "\n".join(approvals.describe(approval))
    for shown in (
        "provision.delete.email",
        "email = ceo@acme.org",
        "environment   production",
        "risk medium",
        "asks because  catalog-approval",
        "WARNING       spec.intent names email=ceo@acme.org",
        DIGEST,
    ):
        assert shown in text
