"""What the controller keeps between reconciles: the rate-limit ledger and the namespace labels."""

from __future__ import annotations

import datetime
from typing import Any

from opsgate import handlers
from opsgate.resources import Phase

NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)


def request(uid: str, *, created: str = "2026-11-23T09:30:00Z", action: str | None = "p.scale.d") -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "creationTimestamp": created},
        "spec": {"requester": "alice"},
        "status": {"plan": {"action": action}} if action else {},
    }


def test_a_planned_request_of_the_last_hour_counts_once_however_often_it_is_seen() -> None:
    controller = handlers.Controller()
    for _ in range(3):  # planned here, then its own watch events
        controller.record(request("a"), now=NOW)
    controller.record(request("b"), now=NOW)
    assert controller.history("alice") == [("2026-11-23T09:30:00Z", "p.scale.d")] * 2


def test_requests_without_a_plan_or_older_than_an_hour_do_not_count() -> None:
    controller = handlers.Controller()
    controller.record(request("a", action=None), now=NOW)
    controller.record(request("b", created="2026-11-23T08:59:00Z"), now=NOW)
    assert controller.history("alice") == []


def test_an_hour_later_the_ledger_forgets() -> None:
    controller = handlers.Controller()
    controller.record(request("a"), now=NOW)
    controller.record(request("b", created="2026-11-23T10:45:00Z"), now=NOW + datetime.timedelta(hours=1))
    assert controller.history("alice") == [("2026-11-23T10:45:00Z", "p.scale.d")]


def test_an_event_from_before_this_process_own_last_write_is_recognised_as_done() -> None:
    controller = handlers.Controller()
    controller.wrote("u", Phase.RUNNING)
    assert controller.behind("u", Phase.PENDING)
    assert controller.behind("u", Phase.APPROVED)
    assert not controller.behind("u", Phase.RUNNING)
    assert not controller.behind("other", Phase.PENDING)
    controller.wrote("u", Phase.SUCCEEDED)  # settled: nothing kept
    assert not controller.behind("u", Phase.PENDING)


def test_a_new_request_counts_as_being_decided_until_its_decision_is_written() -> None:
    controller = handlers.Controller()
    assert not controller.deciding
    controller.undecided.add("a")  # as request_event does for new requests
    controller.undecided.add("b")
    controller.wrote("a", Phase.PLANNING)
    assert controller.deciding  # planning is not a decision
    controller.wrote("a", Phase.APPROVED)
    controller.wrote("b", Phase.DENIED)
    assert not controller.deciding  # what waits behind them (Job launches, context) may go now
