"""What the front doors show and build, from plain objects: no I/O, no clock of their own. Pure.

The kubectl plugin prints these; the MCP server returns them as structured results. Both read the
OpsRequest's status (DESIGN.md's fixed fields), so what an agent is told is what a person sees.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsgate import resources
from opsgate.controller import phases
from opsgate.resources import ApprovalState, Phase

if TYPE_CHECKING:  # loading the catalog's models costs a CLI half a second; only callers of catalog_actions need them
    from opsgate.catalog import Catalog

GENERATE_NAME = "ask-"
# Phases after which a request changes no more, and those of them that mean "it did what was asked".
# A dry run stops at Approved: the plan was allowed and nothing runs.
GOOD_ENDS = frozenset({Phase.SUCCEEDED, Phase.ANSWERED})
MESSAGE_NO_TEXT = "the request text is empty"


@dataclass(frozen=True)
class Identity:
    """Who the API server says the caller is (a SelfSubjectReview's userInfo)."""

    username: str
    groups: tuple[str, ...] = ()
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_user_info(cls, user_info: Mapping[str, Any]) -> Identity:
        extra = {str(k): [str(v) for v in values] for k, values in (user_info.get("extra") or {}).items()}
        return cls(str(user_info["username"]), tuple(str(g) for g in user_info.get("groups") or ()), extra)


def request_manifest(
    text: str,
    *,
    namespace: str,
    identity: Identity,
    name: str | None = None,
    environment: str | None = None,
    dry_run: bool = False,
    intent: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The OpsRequest a caller submits: requester, groups and extra exactly as the API server knows them.

    The admission policy holds ``spec.requester``/``requesterGroups``/``requesterExtra`` to the
    caller's real identity; stating them lets the policies (MFA, tags) see the groups. Without a
    name the API server generates one (``ask-xxxxx``).
    """
    if not text.strip():
        raise ValueError(MESSAGE_NO_TEXT)
    spec: dict[str, Any] = {
        "request": text,
        "requester": identity.username,
        "requesterGroups": sorted(set(identity.groups)),
    }
    if identity.extra:
        spec["requesterExtra"] = {k: list(v) for k, v in identity.extra.items()}
    if environment:
        spec["environment"] = environment
    if dry_run:
        spec["dryRun"] = True
    if intent is not None:
        spec["intent"] = dict(intent)
    metadata: dict[str, Any] = {"namespace": namespace}
    metadata.update({"name": name} if name else {"generateName": GENERATE_NAME})
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": resources.API_VERSION, "kind": "OpsRequest", "metadata": metadata, "spec": spec}


def catalog_actions(catalog: Catalog) -> list[dict[str, Any]]:
    """What may be asked: each catalog entry with its parameter schema, defaults, risk and approval needs."""
    return [
        {
            "key": entry.key,
            "description": entry.description,
            "parameters": entry.parameters,
            "defaults": entry.defaults,
            "risk": entry.risk.value,
            "requiresApproval": entry.requires_approval,
            "privileged": entry.privileged,
            "informational": entry.informational,
            "executor": entry.executor.kind.value,
        }
        for entry in sorted(catalog.entries.values(), key=lambda e: e.key)
    ]


def phase_of(obj: Mapping[str, Any]) -> Phase:
    return phases.current((obj.get("status") or {}).get("phase"))


def finished(obj: Mapping[str, Any]) -> bool:
    """True once the request will change no more (a dry run finishes at Approved)."""
    phase = phase_of(obj)
    return phase in phases.TERMINAL or (phase is Phase.APPROVED and bool((obj.get("spec") or {}).get("dryRun")))


def succeeded(obj: Mapping[str, Any]) -> bool:
    """True if the request finished doing what was asked (ran, answered, or a dry run allowed)."""
    return phase_of(obj) in GOOD_ENDS or (finished(obj) and phase_of(obj) is Phase.APPROVED)


def reached(obj: Mapping[str, Any], wanted: Iterable[str]) -> bool:
    """True if the request is in one of the ``wanted`` phases, or finished (it will not get there)."""
    return phase_of(obj).value in set(wanted) or finished(obj)


def summary(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One request in a few fields: what ``status`` lists and the MCP ``status`` tool returns."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    ready = _condition(status, "Ready")
    return {
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "request": spec.get("request", ""),
        "requester": spec.get("requester", ""),
        "phase": phase_of(obj).value,
        "action": (status.get("plan") or {}).get("action"),
        "decision": (status.get("policy") or {}).get("decision"),
        "approval": status.get("approval"),
        "job": (status.get("job") or {}).get("name"),
        "result": status.get("result"),
        "message": (ready or {}).get("message", ""),
        "finished": finished(obj),
        "created": meta.get("creationTimestamp", ""),
    }


def explanation(obj: Mapping[str, Any], approval: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Why the request stands where it does: intent, context, plan, every policy result, approval, outcome."""
    status = obj.get("status") or {}
    policy = status.get("policy") or {}
    document = summary(obj)
    document.update(
        intent=status.get("intent"),
        context=list(status.get("context") or []),
        plan=status.get("plan"),
        policy={"decision": policy.get("decision"), "results": list(policy.get("results") or [])},
        answer=status.get("answer"),
        conditions=[
            {k: c.get(k, "") for k in ("type", "status", "reason", "message")} for c in status.get("conditions") or []
        ],
    )
    if approval is not None:
        spec = approval.get("spec") or {}
        document["approval"] = {
            "name": approval["metadata"]["name"],
            "state": (approval.get("status") or {}).get("state", ApprovalState.PENDING.value),
            "requiredApprovals": spec.get("requiredApprovals"),
            "approverGroups": list(spec.get("approverGroups") or []),
            "expiresAt": spec.get("expiresAt"),
            "decisions": [
                {k: d.get(k, "") for k in ("approver", "decision", "message")} for d in spec.get("decisions") or []
            ],
        }
    return document


def waiting_for(approvals: Iterable[Mapping[str, Any]], identity: Identity) -> list[Mapping[str, Any]]:
    """The Approvals ``identity`` can still decide: pending, not their own request, in their groups, undecided.

    The same rules the admission policy enforces, used here only to choose what to show.
    """
    groups = set(identity.groups)
    chosen = []
    for approval in approvals:
        spec = approval.get("spec") or {}
        state = (approval.get("status") or {}).get("state") or ApprovalState.PENDING.value
        decided = {d.get("approver") for d in spec.get("decisions") or []}
        if (
            state == ApprovalState.PENDING.value
            and spec.get("requester") != identity.username
            and groups.intersection(spec.get("approverGroups") or ())
            and identity.username not in decided
        ):
            chosen.append(approval)
    return chosen


def age(created: str, *, now: datetime.datetime) -> str:
    """kubectl's AGE column: 45s, 12m, 5h, 3d."""
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 120 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, left-aligned columns three spaces apart."""
    cells = [[str(h).upper() for h in header], *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def request_rows(objects: Iterable[Mapping[str, Any]], *, now: datetime.datetime) -> list[list[Any]]:
    rows = []
    for obj in objects:
        s = summary(obj)
        approval = s["approval"] or {}
        created = age(s["created"], now=now)
        rows.append([s["name"], s["phase"], s["action"], s["decision"], approval.get("state"), created])
    return rows


REQUEST_HEADER: tuple[str, ...] = ("name", "phase", "action", "decision", "approval", "age")
APPROVAL_HEADER: tuple[str, ...] = ("name", "request", "action", "risk", "requester", "needs", "expires")


def approval_rows(approvals: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    rows = []
    for approval in approvals:
        spec = approval.get("spec") or {}
        summary_ = spec.get("summary") or {}
        received = (approval.get("status") or {}).get("approvalsReceived") or 0
        rows.append(
            [
                approval["metadata"]["name"],
                (spec.get("opsRequestRef") or {}).get("name"),
                summary_.get("action"),
                summary_.get("risk"),
                spec.get("requester"),
                f"{received}/{spec.get('requiredApprovals', 1)}",
                spec.get("expiresAt"),
            ]
        )
    return rows


def render_explanation(document: Mapping[str, Any]) -> str:
    """The human view of :func:`explanation`, section by section."""
    lines = [
        f"Name:        {document['namespace']}/{document['name']}",
        f"Request:     {document['request']}",
        f"Requester:   {document['requester']}",
        f"Phase:       {document['phase']}" + (f"  ({document['message']})" if document["message"] else ""),
    ]
    intent = document.get("intent") or {}
    if intent.get("action"):
        key = f"{intent.get('category')}.{intent.get('action')}.{intent.get('resource_type')}"
        lines.append(f"Intent:      {key}  ({intent.get('parser')}, confidence {intent.get('confidence')})")
        lines += [f"  entity     {k} = {v}" for k, v in sorted((intent.get("entities") or {}).items())]
    else:
        lines.append("Intent:      (not recognised)")
    lines.append("Context:" + ("" if document["context"] else "     (none retrieved)"))
    lines += [f"  {c.get('score', 0):.3f}  {c.get('source')}" for c in document["context"]]
    plan = document.get("plan") or {}
    if plan:
        executor = plan.get("executor") or {}
        runs = executor.get("playbook") or executor.get("module") or executor.get("kind", "")
        lines += [f"Plan:        {plan.get('action')}  runs {runs}", f"  digest     {plan.get('digest')}"]
        lines += [f"  parameter  {k} = {v}" for k, v in sorted((plan.get("parameters") or {}).items())]
    else:
        lines.append("Plan:        (none)")
    policy = document["policy"]
    lines += [f"Decision:    {policy['decision'] or '(not yet)'}", ""]
    if policy["results"]:
        header = ("policy", "result", "severity", "category", "message")
        rows = [[r.get(k, "") for k in header] for r in policy["results"]]
        lines += [table(header, rows), ""]
    approval = document.get("approval") or {}
    if approval:
        lines.append(f"Approval:    {approval.get('name')}  {approval.get('state')}")
        if "approverGroups" in approval:
            groups = ", ".join(approval["approverGroups"])
            lines.append(f"  needs      {approval['requiredApprovals']} from {groups}, until {approval['expiresAt']}")
            lines += [f"  {d['decision']:<9}  {d['approver']}: {d['message']}" for d in approval["decisions"]]
    if document.get("job"):
        lines.append(f"Job:         {document['job']}")
    result = document.get("result") or {}
    if result:
        counts = ", ".join(f"{k} {result[k]}" for k in ("ok", "changed", "failed") if k in result)
        lines.append(f"Result:      {result.get('summary', '')}" + (f"  ({counts})" if counts else ""))
    if document.get("answer"):
        lines += ["Answer:", str(document["answer"])]
    return "\n".join(lines).rstrip()


def without_managed_fields(document: Any) -> Any:
    """The object (or List of objects) without ``metadata.managedFields``, which kubectl hides too."""
    if not isinstance(document, Mapping):
        return document
    if document.get("kind") == "List":
        return {**document, "items": [without_managed_fields(i) for i in document.get("items") or []]}
    meta = document.get("metadata")
    if isinstance(meta, Mapping) and "managedFields" in meta:
        return {**document, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return document


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def _cell(value: Any) -> str:
    return "<none>" if value is None or value == "" else str(value)
