"""Decisions first: the steps that can wait, waiting behind the requests still to be decided.

A burst of new requests is decided fastest when nothing else competes with the decisions for the
API server (on a small control plane it is the API server's CPU that runs out first, not ours).
Two steps can wait without anyone waiting on them: the context of a request already decided
(``opsgate.controller.context_batch``), and the launch of an allowed request's Job with all it
brings (ConfigMap, Job, pods, their scheduling and status writes, the Running write). Each waits
while a request is being decided, at most ``MAX_DEFER`` seconds, so neither is ever starved (then
it takes its turn: in a backlog of thousands, behind the decisions already queued).

``bench/reconcile.py`` (a burst of 200, half of them launching Jobs, quiet 2-core machine) measured
the launch's wait as the difference between deciding 44-50 and 101-106 requests a second (0.23-0.29x
and 0.57-0.66x bare kopf's in the same runs). The cap was 2 s at first: a burst that took longer
to decide than that let its first launches in while it was still being decided, which slowed it,
which let more in (a burst of 200 then went at 42-64 a second in one run of two or three).

The waiting steps are woken when the last decision is written (:class:`Undecided`), not by
polling: a thousand launches waiting behind a backlog cost nothing until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

MAX_DEFER = 10.0  # seconds a deferred step waits for the decisions before it runs anyway


class Undecided:
    """The uids of new requests being decided (or waiting to be), and a wait until there are none."""

    def __init__(self) -> None:
        self._uids: set[str] = set()
        self._none = asyncio.Event()
        self._none.set()

    def add(self, uid: str) -> None:
        self._uids.add(uid)
        self._none.clear()

    def discard(self, uid: str) -> None:
        self._uids.discard(uid)
        if not self._uids:
            self._none.set()

    def __bool__(self) -> bool:
        return bool(self._uids)

    async def behind(self, *, max_defer: float = MAX_DEFER) -> float:
        """Wait until no request is being decided, at most ``max_defer`` seconds; how long it waited."""
        if not self._uids:
            return 0.0
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):  # then it runs anyway: never starved
            await asyncio.wait_for(self._none.wait(), timeout=max_defer)
        return time.monotonic() - started
