"""Requests that live through the controller's stages, as the audit records their status writes."""

from __future__ import annotations

import uuid
from typing import Any

from opsgate.audit import records

AT = "2026-12-03T20:00:{:02d}Z"


def request(name: str, text: str = "create an email for jane@acme.org", requester: str = "alice") -> dict[str, Any]:
    return {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": str(uuid.uuid4()),
            "creationTimestamp": "2026-12-03T20:00:00Z",
        },
        "spec": {"request": text, "requester": requester},
        "status": {},
    }


INTENT = {
    "category": "provision",
    "action": "create",
    "resource_type": "email",
    "entities": {"email": "jane@acme.org"},
    "confidence": 0.92,
    "parser": "rules",
}
POLICY = {
    "decision": "ApprovalRequired",
    "results": [
        {"policy": "no-production-deletion", "result": "pass", "severity": "critical", "category": "safety"},
        {"policy": "approval-for-email", "result": "approval", "severity": "medium", "category": "approval"},
    ],
}
DECISIONS = {
    "approvalName": "email-approval",
    "decisions": [{"approver": "bob", "decision": "Approve", "digest": "sha256:abc", "message": "quota checked"}],
}


def lifecycle() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(status written, extra) for each write of an approved, executed request."""
    approval = {"name": "email-approval", "state": "Pending"}
    return [
        ({"phase": "AwaitingApproval", "intent": INTENT, "policy": POLICY, "approval": approval}, None),
        ({"phase": "Approved", "approval": {**approval, "state": "Approved", "approvalsReceived": 1}}, DECISIONS),
        ({"phase": "Running", "job": {"name": "opsgate-job-1"}}, None),
        ({"phase": "Succeeded", "result": {"ok": 3, "summary": "mailbox created"}}, None),
    ]


def records_of(req: dict[str, Any], writes: list[tuple[dict[str, Any], dict[str, Any] | None]] | None = None) -> list:
    """The records of ``writes`` (default :func:`lifecycle`), the request's status following along."""
    out = []
    for i, (status, extra) in enumerate(writes if writes is not None else lifecycle()):
        record = records.for_write(req, status, at=AT.format(i + 1), extra=extra)
        req["status"] = {**req["status"], **status, "audit": records.status_field(record)}
        out.append(record)
    return out
