"""How many requests a route may make in a window, counted from the route's requests. Pure.

An alert storm (a whole node going down fires one crash-loop alert per deployment) must not
become a storm of restarts. The count is not kept by the receiver: it is read from the API
server - the receiver's OpsRequests labelled with the route whose ``creationTimestamp`` lies in
the window - so a restart of ``opsgate alerts``, or a second replica, sees what the first made.
Only the receiver's own requests count (``spec.requester``, held to the creator by admission):
anyone may put a route's label on a request of theirs, and that must not spend the route's
budget. The receiver serialises count-then-create per route; the clock is passed in.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from opsgate.alerts.routes import LABEL_ROUTE, RateLimit

_RESOLUTION = datetime.timedelta(seconds=1)  # creationTimestamp is truncated to the second
MESSAGE_LIMITED = "rate limited: route {route} made {requests} request(s) in the last {seconds}s"


def made_in_window(
    requests: Iterable[Mapping[str, Any]], *, route: str, requester: str, per_seconds: int, now: datetime.datetime
) -> int:
    """How many of ``requests`` the route made as ``requester`` after ``now - per_seconds``.

    A request without a readable creation time counts, and so does one made in the second the
    window starts (the API server keeps whole seconds): a doubt never lets one more through.
    """
    since = now - datetime.timedelta(seconds=per_seconds) - _RESOLUTION
    made = 0
    for request in requests:
        meta, spec = request.get("metadata") or {}, request.get("spec") or {}
        if spec.get("requester") != requester or (meta.get("labels") or {}).get(LABEL_ROUTE) != route:
            continue
        created = _created(meta.get("creationTimestamp"))
        if created is None or created > since:
            made += 1
    return made


def allows(
    requests: Iterable[Mapping[str, Any]], *, route: str, limit: RateLimit, requester: str, now: datetime.datetime
) -> bool:
    """Whether the route may make one more request at ``now``, given the requests it has."""
    count = made_in_window(requests, route=route, requester=requester, per_seconds=limit.per_seconds, now=now)
    return count < limit.requests


def limited_reason(route: str, limit: RateLimit) -> str:
    return MESSAGE_LIMITED.format(route=route, requests=limit.requests, seconds=limit.per_seconds)


def _created(value: Any) -> datetime.datetime | None:
    """A ``creationTimestamp`` (RFC 3339, ``Z``) as an aware datetime; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
