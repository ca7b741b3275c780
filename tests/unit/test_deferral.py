"""Decisions first: a deferred step waits while requests are being decided, but never for good."""

from __future__ import annotations

import asyncio
import time

from opsgate.controller import deferral


async def test_a_step_waits_until_the_last_decision_is_written() -> None:
    undecided = deferral.Undecided()
    undecided.add("a")
    undecided.add("b")

    async def decided_later() -> None:
        await asyncio.sleep(0.1)
        undecided.discard("a")
        assert undecided  # b is still being decided
        await asyncio.sleep(0.1)
        undecided.discard("b")

    started = time.monotonic()
    _, waited = await asyncio.gather(decided_later(), undecided.behind(max_defer=5))
    assert 0.15 <= waited < 1
    assert time.monotonic() - started < 1
    assert not undecided


async def test_a_step_runs_at_once_when_nothing_is_being_decided() -> None:
    assert await deferral.Undecided().behind() == 0.0


async def test_a_step_is_never_starved_by_decisions_that_keep_coming() -> None:
    undecided = deferral.Undecided()
    undecided.add("a")
    started = time.monotonic()
    await undecided.behind(max_defer=0.2)
    assert 0.15 <= time.monotonic() - started < 1


async def test_many_waiting_steps_are_all_woken_by_one_decision() -> None:
    undecided = deferral.Undecided()
    undecided.add("a")
    waiting = [asyncio.ensure_future(undecided.behind(max_defer=5)) for _ in range(1000)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in waiting)
    undecided.discard("a")
    waits = await asyncio.wait_for(asyncio.gather(*waiting), timeout=2)
    assert max(waits) < 1
