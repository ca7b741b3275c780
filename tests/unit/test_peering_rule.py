"""The replica that acts, as kopf's peering status says (opsgate.controller.peering)."""

from __future__ import annotations

import datetime

from opsgate.controller.peering import outranked

NOW = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)


def peer(priority: int, seen_seconds_ago: float, lifetime: int = 15) -> dict[str, object]:
    seen = NOW - datetime.timedelta(seconds=seen_seconds_ago)
    return {"priority": priority, "lastseen": seen.isoformat(), "lifetime": lifetime}


def test_a_live_higher_priority_peer_outranks() -> None:
    assert outranked({"high@a": peer(100, 3), "low@b": peer(10, 1)}, 10, now=NOW)


def test_a_dead_higher_priority_peer_does_not() -> None:
    assert not outranked({"high@a": peer(100, 20), "low@b": peer(10, 1)}, 10, now=NOW)


def test_the_highest_live_peer_is_never_outranked() -> None:
    assert not outranked({"high@a": peer(100, 3), "low@b": peer(10, 1)}, 100, now=NOW)


def test_no_peering_status_or_garbage_in_it_outranks_nobody() -> None:
    assert not outranked(None, 0, now=NOW)
    assert not outranked({"x": "not a peer", "y": {"priority": 5}}, 0, now=NOW)
