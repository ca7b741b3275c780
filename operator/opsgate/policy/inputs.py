"""What a policy evaluation looks at, gathered once, and its translation into CEL variables.

The caller (the pipeline) gathers; the engine only evaluates. In CEL every variable is a map
of plain values with camelCase keys, and an absent string is ``""`` (never null) so rules can
compare without null checks: ``plan.environment == 'production'``. ``history`` has a count
for every rate class, 0 when the caller supplied none, and an alert route's record
(``routeApprovedSuccesses``, ``routePromoteAfter``; 0 for other requests). ``intent.unstated`` names the entities
of a ``spec.intent`` whose values the request text does not mention (derived from the intent
and the text, so every caller gets it). Pure; no I/O.
"""

from __future__ import annotations

import datetime
from typing import Any

import pydantic

from opsgate import catalog, redact
from opsgate.intent import Intent, unstated_entities
from opsgate.plan import Plan, RequestContext, Requester

# An alert route's record (opsgate.alerts.autonomy), 0 for a request no route made.
ROUTE_HISTORY = ("routeApprovedSuccesses", "routePromoteAfter")


class PolicyInputs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    request: RequestContext
    intent: Intent
    plan: Plan | None  # None when the request could not be planned: only request-scoped rules run
    requester: Requester
    now: pydantic.AwareDatetime
    # The requester's requests in the last hour, per rate class, before this one.
    history: dict[str, int] = pydantic.Field(default_factory=dict)
    # Secrets found in the raw request before redaction (kinds and places, never values).
    secret_findings: tuple[redact.Finding, ...] = ()


def cel_variables(inputs: PolicyInputs, *, config: dict[str, Any]) -> dict[str, Any]:
    """The variables every rule sees: request, intent, plan, requester, now, history, config."""
    return {
        "request": _request(inputs),
        "intent": _intent(inputs.intent, text=inputs.request.text),
        "plan": _plan(inputs.plan) if inputs.plan is not None else {},
        "requester": {
            "username": inputs.requester.username,
            "groups": list(inputs.requester.groups),
            "extra": {k: list(v) for k, v in inputs.requester.extra.items()},
        },
        "now": inputs.now.astimezone(datetime.UTC),
        "history": {**{c.value: 0 for c in catalog.RateClass}, **dict.fromkeys(ROUTE_HISTORY, 0), **inputs.history},
        "config": config,
    }


def secret_kinds(inputs: PolicyInputs) -> list[str]:
    """Kinds of secret found, from the caller and from a re-scan of what reached the engine."""
    found = list(inputs.secret_findings)
    found += redact.find_secrets(inputs.request.text)
    found += redact.find_secrets_in_value(inputs.intent.entities)
    if inputs.plan is not None:
        found += redact.find_secrets_in_value(inputs.plan.parameters)
    return sorted({f.kind.value for f in found})


def _request(inputs: PolicyInputs) -> dict[str, Any]:
    request = inputs.request
    return {
        "text": request.text,
        "name": request.name or "",
        "namespace": request.namespace,
        "environment": request.environment or "",
        "labels": dict(request.labels),
        "namespaceLabels": dict(request.namespace_labels),
        "annotations": dict(request.annotations),
        "dryRun": request.dry_run,
        "rollbackPlan": request.rollback_plan,
        "secrets": secret_kinds(inputs),
    }


def _intent(intent: Intent, *, text: str) -> dict[str, Any]:
    unstated = dict.fromkeys(entry.partition("=")[0] for entry in unstated_entities(intent, text))
    return {
        "key": intent.key or "",
        "category": intent.category or "",
        "action": intent.action or "",
        "resourceType": intent.resource_type or "",
        "entities": _no_nulls(intent.entities),
        "confidence": intent.confidence,
        "parser": intent.parser.value,
        "unstated": list(unstated),
    }


def _plan(plan: Plan) -> dict[str, Any]:
    status = plan.to_status()
    return {key: _no_nulls(value) for key, value in status.items()}


def _no_nulls(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nulls(v) for v in value]
    return value
