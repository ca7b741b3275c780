"""Asking for the inverse of a change that ran: the OpsRequest ``opsgate rollback NAME`` creates.

A run whose catalog entry declares a ``rollback`` records the inverse in ``status.result.rollback``
(action and parameters captured before the change). Rolling back later is a new request for that
inverse - with a structured intent (nothing is parsed) and a text stating every parameter - that
goes through planning, policy, approval and execution like any other, as the person asking. A
change already rolled back by its own failed validation is not rolled back twice. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsgate import resources

LABEL_ROLLBACK_OF = "opsgate.dev/rollback-of"
SUFFIX = "-rollback"
STATE_ROLLED_BACK = "RolledBack"

MESSAGE_NOTHING_RECORDED = (
    "{name} recorded no rollback: its action declares none in the catalog, or it has not run (phase {phase})"
)
MESSAGE_ALREADY = "{name} was already rolled back when its validation failed: {summary}"


class RollbackError(ValueError):
    """The request cannot be rolled back; the message says why."""


def inverse_request(request: Mapping[str, Any], *, requester: str, groups: Sequence[str]) -> dict[str, Any]:
    """The OpsRequest asking for the inverse of ``request``'s recorded change, as ``requester``."""
    meta, status = request["metadata"], request.get("status") or {}
    recorded = (status.get("result") or {}).get("rollback")
    if not isinstance(recorded, Mapping) or not recorded.get("action"):
        raise RollbackError(MESSAGE_NOTHING_RECORDED.format(name=meta["name"], phase=status.get("phase", "Pending")))
    if recorded.get("state") == STATE_ROLLED_BACK:
        raise RollbackError(MESSAGE_ALREADY.format(name=meta["name"], summary=recorded.get("summary", "")))
    category, action, resource_type = str(recorded["action"]).split(".")
    parameters = dict(recorded.get("parameters") or {})
    stated = ", ".join(f"{key} {value}" for key, value in sorted(parameters.items()))
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "OpsRequest",
        "metadata": {
            "name": f"{meta['name'][: 253 - len(SUFFIX)]}{SUFFIX}",
            "namespace": meta["namespace"],
            "labels": {**_tags(meta), LABEL_ROLLBACK_OF: meta["name"][:63]},
        },
        "spec": {
            "request": f"roll back {meta['name']}: {recorded['action']} with {stated}",
            "requester": requester,
            "requesterGroups": sorted(groups),
            "intent": {
                "category": category,
                "action": action,
                "resource_type": resource_type,
                "entities": parameters,
            },
        },
    }


def _tags(meta: Mapping[str, Any]) -> dict[str, str]:
    """The cost-allocation labels of the original (the tags policy reads them on the request)."""
    labels = meta.get("labels") or {}
    return {k: v for k, v in labels.items() if k in ("opsgate.dev/project", "opsgate.dev/cost-center")}
