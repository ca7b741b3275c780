"""Whether an alert route has earned running without approval, from its recorded outcomes.

The record is the route's own OpsRequests on the API server (their terminal phase and whether a
person approved them): nothing else to keep, it survives restarts, and it works without an
audit store. Only the receiver's requests count (``RouteSet.requester``): anyone may put the
route's label on a request of their own, but that neither earns nor spends the route's standing.

Reading newest first, the route's *approved successes* are its runs that a person approved and
that succeeded, counted back to its last failure (or rejection): one failure demotes a route,
however long its record. Runs that went ahead without approval neither add nor break the
streak, so a promoted route stays promoted while it keeps succeeding.

The numbers reach the policy engine as ``history.routeApprovedSuccesses`` and
``history.routePromoteAfter``; the rule ``alert-route-autonomy`` (``policies/autonomy.yaml``)
decides whether that is enough - a platform team that forbids autonomy edits or tightens that
rule, not code. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from opsgate.alerts.routes import LABEL_ROUTE, Route, RouteSet
from opsgate.policy.inputs import ROUTE_HISTORY

HISTORY_APPROVED_SUCCESSES, HISTORY_PROMOTE_AFTER = ROUTE_HISTORY

_BREAKS = frozenset({"Failed", "Rejected"})


@dataclasses.dataclass(frozen=True)
class Standing:
    """A route's record: approved successes since its last failure, and what ended the streak."""

    route: str
    approved_successes: int
    promote_after: int  # 0: the route never runs without approval
    last_failure: str | None = None  # the request whose failure (or rejection) restarted the count

    @property
    def eligible(self) -> bool:
        """Enough approved successes for the policy to consider running without approval."""
        return self.promote_after > 0 and self.approved_successes >= self.promote_after

    def history(self) -> dict[str, int]:
        return {HISTORY_APPROVED_SUCCESSES: self.approved_successes, HISTORY_PROMOTE_AFTER: self.promote_after}

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "route": self.route,
            "approvedSuccesses": self.approved_successes,
            "promoteAfter": self.promote_after,
        }
        if self.last_failure:
            status["lastFailure"] = self.last_failure
        return status


def route_of(request: Mapping[str, Any], *, routes: RouteSet) -> Route | None:
    """The route whose history ``request`` counts in: the receiver's requests labelled with a route."""
    meta, spec = request.get("metadata") or {}, request.get("spec") or {}
    if spec.get("requester") != routes.requester:
        return None
    return routes.get((meta.get("labels") or {}).get(LABEL_ROUTE))


def standing(route: Route, requests: Iterable[Mapping[str, Any]], *, requester: str, exclude: str = "") -> Standing:
    """``route``'s standing from its requests (any order); ``exclude`` is the uid being planned."""
    runs = [
        r
        for r in requests
        if (r.get("spec") or {}).get("requester") == requester
        and ((r.get("metadata") or {}).get("labels") or {}).get(LABEL_ROUTE) == route.name
        and (r.get("metadata") or {}).get("uid") != exclude
    ]
    runs.sort(key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"].get("name", "")), reverse=True)
    approved = 0
    for run in runs:
        status = run.get("status") or {}
        phase = status.get("phase")
        if phase in _BREAKS:
            return Standing(route.name, approved, route.promote_after or 0, run["metadata"].get("name"))
        if phase == "Succeeded" and (status.get("approval") or {}).get("state") == "Approved":
            approved += 1
    return Standing(route.name, approved, route.promote_after or 0)
