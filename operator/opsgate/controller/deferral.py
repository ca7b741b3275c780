"""Decisions first: the steps that can wait, waiting behind the requests still to be decided.

A burst of new requests is decided fastest when nothing else competes with the decisions for the
API server (on a small control plane it is the API server's CPU that runs out first, not ours).
Two steps can wait without anyone waiting on them: the context of a request already decided
(``opsgate.controller.context_batch``), and the launch of an allowed request's Job with all it
brings (Job, pods, their scheduling and status writes, the Running write). Each waits
while a request is being decided, at most ``MAX_DEFER`` seconds, so neither is ever starved (then
it takes its turn: in a backlog of thousands, behind the decisions already queued).

``bench/reconcile.py`` (a burst of 200, half of them launching Jobs, quiet 2-core machine) measured
the launch's wait as the difference between deciding 44-50 and 101-106 requests a second (0.23-0.29x
and 0.57-0.66x bare kopf's in the same runs). The cap was 2 s at first: a burst that took longer
to decide than that let its first launches in while it was still being decided, which slowed it,
which let more in (a burst of 200 then went at 42-64 a second in one run of two or three).

A burst is also waited out while it is still arriving. A client that creates requests about as
fast as they are decided leaves, between two of them, moments with none undecided; launches let
in at those moments slowed the API server, the client's creates and the decisions alike, so that
one burst in two or three went at 0.24-0.29x the floor, with the launches of its first requests
(hundreds of extra request updates) interleaved with its decisions. So while new requests keep
arriving faster than ``BURST_ARRIVALS`` per ``BURST_WINDOW`` seconds, nothing waiting goes; a
steady stream below that rate (a request every 50 ms or slower) never holds a launch back.

The waiting steps are woken when the last decision is written (:class:`Undecided`), or when the
arrivals of the last window fall below the burst rate (a timer set for that moment), not by
polling: a thousand launches waiting behind a backlog cost nothing until then.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

MAX_DEFER = 10.0  # seconds a deferred step waits for the decisions before it runs anyway
BURST_WINDOW = 0.5  # seconds of arrivals looked at
BURST_ARRIVALS = 10  # new requests in BURST_WINDOW that make a burst (20 a second)


class Undecided:
    """The uids of new requests being decided (or waiting to be), and a wait until there are none
    and no burst is arriving."""

    def __init__(self, *, window: float = BURST_WINDOW, burst: int = BURST_ARRIVALS) -> None:
        self._uids: set[str] = set()
        self._none = asyncio.Event()
        self._none.set()
        self._window, self._burst = window, burst
        self._arrivals: collections.deque[float] = collections.deque()  # when, within the last window

    def add(self, uid: str) -> None:
        if uid not in self._uids:
            now = time.monotonic()
            self._arrivals.append(now)
            self._forget(now)
        self._uids.add(uid)
        self._none.clear()

    def discard(self, uid: str) -> None:
        self._uids.discard(uid)
        if not self._uids:
            self._none.set()

    def __bool__(self) -> bool:
        """Is a request being decided, or a burst arriving?"""
        return bool(self._uids) or self._burst_ends(time.monotonic()) is not None

    async def behind(self, *, max_defer: float = MAX_DEFER) -> float:
        """Wait until no request is being decided and no burst is arriving, at most ``max_defer``
        seconds (then it runs anyway: never starved); how long it waited."""
        if not self:
            return 0.0
        started = time.monotonic()
        deadline = started + max_defer
        while (now := time.monotonic()) < deadline:
            if self._uids:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._none.wait(), timeout=deadline - now)
                continue
            ends = self._burst_ends(now)
            if ends is None:
                break
            await asyncio.sleep(min(ends, deadline) - now)
        return time.monotonic() - started

    def _burst_ends(self, now: float) -> float | None:
        """When the arrivals of the window fall below a burst, if no more come; None if they are below."""
        self._forget(now)
        if len(self._arrivals) < self._burst:
            return None
        return self._arrivals[len(self._arrivals) - self._burst] + self._window

    def _forget(self, now: float) -> None:
        while self._arrivals and self._arrivals[0] <= now - self._window:
            self._arrivals.popleft()
