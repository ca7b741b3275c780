"""Conditions are written through one helper: unchanged ones keep their transition time."""

from __future__ import annotations

import datetime

from opsgate.controller import conditions
from opsgate.controller.conditions import Condition, Reason, Type

T0 = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def test_a_new_condition_gets_the_current_time_and_generation() -> None:
    (cond,) = conditions.apply([], [Condition.true(Type.INTENT_RESOLVED, Reason.PARSED, "ok")], generation=3, now=T0)
    assert cond == {
        "type": "IntentResolved",
        "status": "True",
        "reason": "Parsed",
        "message": "ok",
        "observedGeneration": 3,
        "lastTransitionTime": "2026-11-02T10:00:00Z",
    }


def test_setting_an_unchanged_status_keeps_the_transition_time_but_refreshes_the_message() -> None:
    first = conditions.apply([], [Condition.unknown(Type.READY, Reason.IN_PROGRESS, "planning")], generation=1, now=T0)
    second = conditions.apply(
        first, [Condition.unknown(Type.READY, Reason.AWAITING_DECISION, "waiting")], generation=1, now=T1
    )
    assert second[0]["lastTransitionTime"] == "2026-11-02T10:00:00Z"
    assert (second[0]["reason"], second[0]["message"]) == ("AwaitingDecision", "waiting")


def test_a_status_change_moves_the_transition_time() -> None:
    first = conditions.apply([], [Condition.unknown(Type.READY, Reason.IN_PROGRESS, "planning")], generation=1, now=T0)
    second = conditions.apply(first, [Condition.true(Type.READY, Reason.SUCCEEDED, "done")], generation=1, now=T1)
    assert second[0]["lastTransitionTime"] == "2026-11-02T10:05:00Z"


def test_conditions_keep_the_pipeline_order_and_untouched_ones_survive() -> None:
    existing = conditions.apply([], [Condition.true(Type.READY, Reason.SUCCEEDED, "x")], generation=1, now=T0)
    merged = conditions.apply(
        existing,
        [
            Condition.true(Type.POLICY_EVALUATED, Reason.ALLOWED, "y"),
            Condition.true(Type.INTENT_RESOLVED, Reason.PARSED, "z"),
        ],
        generation=1,
        now=T1,
    )
    assert [c["type"] for c in merged] == ["IntentResolved", "PolicyEvaluated", "Ready"]


def test_an_overlong_message_is_cut_to_the_api_bound() -> None:
    (cond,) = conditions.apply([], [Condition.false(Type.READY, Reason.FAILED, "x" * 10_000)], generation=1, now=T0)
    assert len(cond["message"]) == conditions.MAX_MESSAGE
