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


async def test_a_burst_still_arriving_is_waited_out_even_when_each_is_decided_at_once() -> None:
    # A client creating about as fast as requests are decided: between two of them none is
    # undecided, yet a launch let in then would compete with the rest of the burst.
    undecided = deferral.Undecided(window=0.2, burst=5)

    async def arrivals() -> float:
        for i in range(12):  # one every 20 ms (50 a second), each decided at once
            undecided.add(str(i))
            undecided.discard(str(i))
            await asyncio.sleep(0.02)
        return time.monotonic()

    async def step() -> float:
        await asyncio.sleep(0.11)  # the burst is under way: six arrivals in the last 200 ms
        assert undecided  # nothing undecided at this moment, but a burst is arriving
        await undecided.behind(max_defer=5)
        return time.monotonic()

    last_arrival, went = await asyncio.gather(arrivals(), step())
    assert went >= last_arrival - 0.03  # not before the burst was over
    assert went - last_arrival < 0.5  # and soon after: once the window holds fewer than a burst
    assert not undecided


async def test_a_steady_stream_below_the_burst_rate_never_holds_a_step_back() -> None:
    undecided = deferral.Undecided(window=0.2, burst=5)
    for i in range(8):  # one every 60 ms: at most 4 in any 200 ms
        undecided.add(str(i))
        undecided.discard(str(i))
        assert not undecided
        assert await undecided.behind(max_defer=5) == 0.0
        await asyncio.sleep(0.06)


async def test_a_burst_that_never_ends_still_lets_a_step_go_after_max_defer() -> None:
    undecided = deferral.Undecided(window=1.0, burst=2)
    undecided.add("a")
    undecided.discard("a")
    undecided.add("b")
    undecided.discard("b")
    started = time.monotonic()
    await undecided.behind(max_defer=0.2)
    assert 0.15 <= time.monotonic() - started < 0.6
