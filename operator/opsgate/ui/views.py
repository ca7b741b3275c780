"""What the chat page shows of an OpsRequest and of an Approval, as plain JSON. Pure.

The server sends these views, never raw objects: the page gets the fields a person needs
(intent, context sources, policy results, approval state, job result) and nothing else of the
object - no managedFields, no annotations a controller keeps for itself. Every string in a view
is data for the page to show as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opsgate import resources
from opsgate.controller import approvals, phases
from opsgate.resources import ApprovalState, Phase

# How the page words each phase's state: waiting, done well, stopped, or failed.
TONE = {
    Phase.PENDING: "waiting",
    Phase.PLANNING: "waiting",
    Phase.AWAITING_APPROVAL: "waiting",
    Phase.APPROVED: "working",
    Phase.RUNNING: "working",
    Phase.SUCCEEDED: "done",
    Phase.ANSWERED: "done",
    Phase.DENIED: "denied",
    Phase.REJECTED: "denied",
    Phase.EXPIRED: "denied",
    Phase.NEEDS_INFO: "denied",
    Phase.FAILED: "failed",
}


def request_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An OpsRequest as the page shows it: one progress event of its stream."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    phase = phases.current(status.get("phase"))
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    # A dry run stops once its plan is approved (or allowed): nothing more will happen to it.
    stopped = bool(spec.get("dryRun")) and phase is Phase.APPROVED
    return {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta.get("uid", ""),
        "request": spec.get("request", ""),
        "requester": spec.get("requester", ""),
        "created": meta.get("creationTimestamp", ""),
        "phase": phase.value,
        "tone": "done" if stopped else TONE[phase],
        "final": stopped or phase in phases.TERMINAL,
        "message": str(ready.get("message") or ""),
        "intent": status.get("intent"),
        "context": [{"source": str(c.get("source", "")), "score": c.get("score")} for c in status.get("context") or []],
        "policy": {
            "decision": (status.get("policy") or {}).get("decision"),
            "results": [_policy_result(r) for r in (status.get("policy") or {}).get("results") or []],
        },
        "plan": _plan(status.get("plan")),
        "approval": status.get("approval"),
        "job": status.get("job"),
        "result": status.get("result"),
        "answer": status.get("answer"),
        "steps": [_step(t, c) for t, c in conditions.items() if t],
    }


def _step(type_: str, condition: Mapping[str, Any]) -> dict[str, str]:
    keys = ("status", "reason", "message")
    return {"type": type_, **{k: str(condition.get(k, "")) for k in keys}}


def _policy_result(result: Mapping[str, Any]) -> dict[str, str]:
    keys = ("policy", "result", "severity", "category", "message")
    return {k: str(result.get(k, "")) for k in keys}


def _plan(plan: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not plan:
        return None
    return {"action": plan.get("action"), "parameters": plan.get("parameters") or {}, "digest": plan.get("digest")}


def approval_view(approval: Mapping[str, Any]) -> dict[str, Any]:
    """An Approval as an approver must see it before deciding (what ``opsgate approve`` prints)."""
    spec, status = approval["spec"], approval.get("status") or {}
    summary = resources.ApprovalSummary.model_validate(spec.get("summary") or {})
    return {
        "name": approval["metadata"]["name"],
        "namespace": approval["metadata"]["namespace"],
        "request": summary.request,
        "requestName": (spec.get("opsRequestRef") or {}).get("name", ""),
        "requester": spec.get("requester", ""),
        "action": summary.action,
        "description": summary.description,
        "environment": summary.environment,
        "risk": summary.risk,
        "executor": summary.executor,
        "parameters": summary.parameters,
        "policy": list(summary.policy),
        "warnings": list(summary.warnings),
        "requiredApprovals": spec.get("requiredApprovals", 1),
        "approverGroups": list(spec.get("approverGroups") or []),
        "expiresAt": spec.get("expiresAt", ""),
        "planDigest": spec.get("planDigest", ""),
        "state": status.get("state") or ApprovalState.PENDING.value,
        "decisions": [
            {k: str(d.get(k, "")) for k in ("approver", "decision", "message")} for d in spec.get("decisions") or []
        ],
        "lines": approvals.describe(approval),
    }


def waiting_for(items: Iterable[Mapping[str, Any]], *, user: str, groups: Sequence[str]) -> list[Mapping[str, Any]]:
    """The Approvals ``user`` can still decide: pending, in their groups, not their own, not yet decided by them.

    A filter for the page only: the API server's admission policy is what refuses a decision.
    """
    mine = set(groups)
    waiting = []
    for item in items:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        if (status.get("state") or ApprovalState.PENDING) != ApprovalState.PENDING:
            continue
        if spec.get("requester") == user or not mine & set(spec.get("approverGroups") or []):
            continue
        if any(d.get("approver") == user for d in spec.get("decisions") or []):
            continue
        waiting.append(item)
    return sorted(waiting, key=lambda a: str(a["spec"].get("expiresAt", "")))


def mine(items: Iterable[Mapping[str, Any]], *, user: str, limit: int = 20) -> list[Mapping[str, Any]]:
    """``user``'s own requests among ``items``, newest first, at most ``limit`` of them."""
    own = [item for item in items if (item.get("spec") or {}).get("requester") == user]
    own.sort(key=lambda item: str(item["metadata"].get("creationTimestamp", "")), reverse=True)
    return own[:limit]


def opsrequest(*, namespace: str, text: str, user_info: Mapping[str, Any], prefix: str = "chat-") -> dict[str, Any]:
    """The OpsRequest the page creates: the text, and the requester as the API server reported them.

    ``user_info`` is the SelfSubjectReview's answer for the impersonated user; the admission
    policy holds ``requester``/``requesterGroups``/``requesterExtra`` to exactly that identity.
    """
    spec: dict[str, Any] = {
        "request": text,
        "requester": user_info["username"],
        "requesterGroups": sorted(user_info.get("groups") or []),
    }
    if user_info.get("extra"):
        spec["requesterExtra"] = {k: list(v) for k, v in user_info["extra"].items()}
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "OpsRequest",
        "metadata": {"generateName": prefix, "namespace": namespace},
        "spec": spec,
    }
