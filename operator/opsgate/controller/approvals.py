"""Approvals as data: the object the controller creates, and the state its decisions add up to.

The API server already refuses forged, self-, out-of-group, duplicate and wrong-digest decisions
(crds/admission-policies.yaml and the CRD schema). This module still counts only decisions that
name the Approval's digest, by distinct approvers other than the requester - defence in depth
for clusters where the admission policy was not installed.
Pure functions.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsgate import resources
from opsgate.controller.conditions import timestamp
from opsgate.resources import ApprovalState, Verdict

DEFAULT_TTL = datetime.timedelta(hours=24)
DEFAULT_APPROVER_GROUP = resources.DEFAULT_APPROVER_GROUP
LABEL_REQUEST = "opsgate.dev/request"
ANNOTATION_REQUEST = "opsgate.dev/request"  # the full name, where the label holds its hash
MAX_LABEL_VALUE = 63


def request_label(name: str) -> str:
    """The request's name as a label value: itself when it fits, else a stable hash of it.

    Object names may have 253 characters, label values 63; the full name is kept in the
    ``opsgate.dev/request`` annotation.
    """
    if len(name) <= MAX_LABEL_VALUE:
        return name
    return f"h-{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def approval_name(request_name: str, digest: str) -> str:
    """Deterministic per request and plan: a replayed event finds the Approval it already made."""
    short = digest.removeprefix("sha256:")[:10]
    return f"{request_name[: 253 - len(short) - 1]}-{short}"


@dataclass(frozen=True)
class Tally:
    state: ApprovalState
    approvers: tuple[str, ...]  # distinct valid approvals, in order
    message: str


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def tally(spec: Mapping[str, Any], *, now: datetime.datetime) -> Tally:
    """What the decisions recorded on an Approval add up to at ``now``.

    Past ``expiresAt`` it has expired, whatever its decisions say; before it, any valid rejection
    rejects and enough distinct valid approvals approve.
    """
    model = resources.ApprovalSpec.model_validate(spec)
    if now >= parse_time(model.expires_at):
        # Expiry first: a decision appended after expiresAt (say, while the operator was down)
        # never counts. Decisions carry no trustworthy time, so none made after it can be told apart.
        return Tally(
            ApprovalState.EXPIRED,
            (),
            f"expired at {model.expires_at} before {model.required_approvals} approval(s) were counted; "
            "a decision that arrives after expiry never approves",
        )
    approvers: list[str] = []
    for decision in model.decisions:
        if decision.digest != model.plan_digest or decision.approver == model.requester:
            continue
        if decision.decision is Verdict.REJECT:
            why = f": {decision.message}" if decision.message else ""
            return Tally(ApprovalState.REJECTED, tuple(approvers), f"rejected by {decision.approver}{why}")
        if decision.approver not in approvers:
            approvers.append(decision.approver)
    if len(approvers) >= model.required_approvals:
        return Tally(ApprovalState.APPROVED, tuple(approvers), f"approved by {', '.join(approvers)}")
    groups = ", ".join(model.approver_groups)
    return Tally(
        ApprovalState.PENDING,
        tuple(approvers),
        f"{len(approvers)} of {model.required_approvals} approvals; waiting for a member of {groups}",
    )


def build(
    *,
    request: Mapping[str, Any],
    plan: Mapping[str, Any],
    policy_lines: Sequence[str],
    required_approvals: int,
    approver_groups: Sequence[str],
    description: str,
    now: datetime.datetime,
    ttl: datetime.timedelta = DEFAULT_TTL,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The Approval manifest for an OpsRequest whose plan needs approval (owned by the request)."""
    meta = request["metadata"]
    executor = plan.get("executor", {})
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "Approval",
        "metadata": {
            "name": approval_name(meta["name"], plan["digest"]),
            "namespace": meta["namespace"],
            "labels": {LABEL_REQUEST: request_label(meta["name"])},
            "annotations": {ANNOTATION_REQUEST: meta["name"]},
            "ownerReferences": [owner_reference(request)],
        },
        "spec": {
            "opsRequestRef": {"name": meta["name"], "uid": meta["uid"]},
            "planDigest": plan["digest"],
            "requester": request["spec"]["requester"],
            "requiredApprovals": required_approvals,
            "approverGroups": list(approver_groups) or [DEFAULT_APPROVER_GROUP],
            "expiresAt": timestamp(now + ttl),
            "summary": {
                "request": request["spec"]["request"],
                "action": plan["action"],
                "description": description,
                "risk": str(plan.get("risk", "")),
                "environment": str(plan.get("environment") or ""),
                "executor": str(executor.get("playbook") or executor.get("module") or executor.get("kind", "")),
                "parameters": dict(plan.get("parameters", {})),
                "policy": list(policy_lines),
                "warnings": list(warnings),
            },
        },
    }


def describe(approval: Mapping[str, Any]) -> list[str]:
    """What an approver must see before deciding: what will run, where, how risky, and why it asks.

    The lines ``opsgate approve`` prints (and the chat front-end shows): the validated
    parameters, environment, risk, executor and the policy results that asked for approval,
    with any warning - e.g. a structured intent naming values its text never mentions.
    """
    spec = approval["spec"]
    summary = resources.ApprovalSummary.model_validate(spec.get("summary") or {})
    lines = [
        f"{approval['metadata']['name']}: {summary.action or '?'} - {summary.description}",
        f"  requested by  {spec['requester']}: {summary.request}",
        f"  environment   {summary.environment or '(none stated)'}    risk {summary.risk or '?'}",
        f"  runs          {summary.executor or '?'}",
    ]
    lines += [f"  parameter     {key} = {value}" for key, value in sorted(summary.parameters.items())]
    lines += [f"  asks because  {line}" for line in summary.policy]
    lines += [f"  WARNING       {line}" for line in summary.warnings]
    lines += [
        f"  needs         {spec['requiredApprovals']} approval(s) from {', '.join(spec['approverGroups'])}",
        f"  expires       {spec['expiresAt']}",
        f"  plan digest   {spec['planDigest']}",
    ]
    return lines


def decision_patch(
    approval: Mapping[str, Any], *, approver: str, verdict: Verdict, message: str
) -> list[dict[str, Any]]:
    """JSON-patch operations appending one decision for the Approval's own digest.

    The ``test`` of resourceVersion makes the append atomic: if someone decided in between, the
    API server refuses the patch instead of the two decisions overwriting each other.
    """
    entry = {"approver": approver, "decision": verdict.value, "digest": approval["spec"]["planDigest"]}
    if message:
        entry["message"] = message
    test = {"op": "test", "path": "/metadata/resourceVersion", "value": approval["metadata"]["resourceVersion"]}
    if approval["spec"].get("decisions"):
        return [test, {"op": "add", "path": "/spec/decisions/-", "value": entry}]
    return [test, {"op": "add", "path": "/spec/decisions", "value": [entry]}]


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj.get("apiVersion", resources.API_VERSION),
        "kind": obj.get("kind", "OpsRequest"),
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
