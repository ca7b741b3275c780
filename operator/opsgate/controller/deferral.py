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
and 0.57-0.66x bare kopf's in the same runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

MAX_DEFER = 2.0  # seconds a deferred step waits for the decisions before it runs anyway
POLL = 0.02  # seconds between looks at whether decisions are still waiting


async def behind_decisions(busy: Callable[[], bool], *, max_defer: float = MAX_DEFER) -> float:
    """Wait while ``busy()`` says requests are being decided, at most ``max_defer`` seconds; the wait."""
    waited = 0.0
    while busy() and waited < max_defer:
        await asyncio.sleep(POLL)
        waited += POLL
    return waited
