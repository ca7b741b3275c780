"""The OpsRequest a firing alert becomes: deterministic name, structured intent, the alert as context.

The name is derived from the route, the alert's fingerprint (Alertmanager's hash of its label
set) and when it started firing: Alertmanager re-sends a firing alert on every group interval,
and each re-send names the same request, so the API server's "already exists" is the
deduplication - across receiver restarts and replicas, with no state of our own. An alert that
resolves and fires again later starts anew and becomes a new request.

The request carries a structured ``spec.intent`` (the route chose the action; nothing is parsed)
and a text that states every parameter, so approvers read what will run. The alert's labels,
fingerprint and start go in an annotation for context; its annotations (free text) do not. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from opsgate import redact, resources
from opsgate.alerts.routes import ANNOTATION_ALERT, LABEL_FINGERPRINT, LABEL_ROUTE, Routed
from opsgate.alerts.webhook import Alert

NAME_PREFIX = "alert-"
MAX_LABEL_CHARS = 200  # per label value kept in the context annotation


def request_name(route: str, alert: Alert) -> str:
    """``alert-<route>-<12 hex>``: the same for every re-send of one firing of one alert."""
    digest = hashlib.sha256(f"{route}\0{alert.fingerprint}\0{alert.starts_at}".encode()).hexdigest()[:12]
    return f"{NAME_PREFIX}{route}-{digest}"


def request_text(routed: Routed, alert: Alert) -> str:
    """What approvers read: the alert that fired and the action with every parameter it takes."""
    stated = ", ".join(f"{key} {value}" for key, value in sorted(routed.parameters.items()))
    alertname = redact.redact(alert.labels.get("alertname", "alert"))
    return f"alert {alertname} (route {routed.route.name}): {routed.entry.key} with {stated}"


def manifest(routed: Routed, alert: Alert, *, requester: str, groups: Sequence[str]) -> dict[str, Any]:
    """The OpsRequest to create as the receiver (``requester`` is who the API server says it is)."""
    entry = routed.entry
    context = {
        "fingerprint": alert.fingerprint,
        "startsAt": alert.starts_at,
        "labels": {key: redact.redact(value)[:MAX_LABEL_CHARS] for key, value in sorted(alert.labels.items())},
    }
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "OpsRequest",
        "metadata": {
            "name": request_name(routed.route.name, alert),
            "namespace": routed.namespace,
            "labels": {LABEL_ROUTE: routed.route.name, LABEL_FINGERPRINT: alert.fingerprint[:63]},
            "annotations": {ANNOTATION_ALERT: json.dumps(context, sort_keys=True)},
        },
        "spec": {
            "request": request_text(routed, alert),
            "requester": requester,
            "requesterGroups": sorted(groups),
            "intent": {
                "category": entry.category,
                "action": entry.action,
                "resource_type": entry.resource_type,
                "entities": dict(routed.parameters),
            },
        },
    }
