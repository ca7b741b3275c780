"""Decisions first: a deferred step waits while requests are being decided, but never for good."""

from __future__ import annotations

import asyncio
import time

from opsgate.controller import deferral


async def test_a_step_waits_until_the_decisions_are_written() -> None:
    busy = {"now": True}

    async def decided_later() -> None:
        await asyncio.sleep(0.15)
        busy["now"] = False

    started = time.monotonic()
    _, waited = await asyncio.gather(decided_later(), deferral.behind_decisions(lambda: busy["now"], max_defer=5))
    assert 0.1 <= waited < 1
    assert time.monotonic() - started < 1


async def test_a_step_runs_at_once_when_nothing_is_being_decided() -> None:
    assert await deferral.behind_decisions(lambda: False) == 0.0


async def test_a_step_is_never_starved_by_decisions_that_keep_coming() -> None:
    started = time.monotonic()
    await deferral.behind_decisions(lambda: True, max_defer=0.2)
    assert 0.15 <= time.monotonic() - started < 1
