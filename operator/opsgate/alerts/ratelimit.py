"""How many requests a route may make in a window: a sliding window per route, clock passed in.

An alert storm (a whole node going down fires one crash-loop alert per deployment) must not
become a storm of restarts. The window lives in the receiver's memory: a restart forgets it,
which errs on the side of one more request - the policy's per-requester rate limit (counted by
the operator from the API server) still bounds the receiver's identity as a whole. Pure.
"""

from __future__ import annotations

import collections

from opsgate.alerts.routes import RateLimit


class Window:
    def __init__(self) -> None:
        self._made: dict[str, collections.deque[float]] = {}

    def allow(self, route: str, limit: RateLimit, *, now: float) -> bool:
        """True (and counted) if ``route`` may make one more request at ``now`` (seconds)."""
        made = self._made.setdefault(route, collections.deque())
        while made and made[0] <= now - limit.per_seconds:
            made.popleft()
        if len(made) >= limit.requests:
            return False
        made.append(now)
        return True

    def release(self, route: str) -> None:
        """Give back the last count (the request turned out to exist already: a re-send)."""
        made = self._made.get(route)
        if made:
            made.pop()
