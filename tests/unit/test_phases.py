"""The phase order: requests only move forward, through the steps DESIGN.md names."""

from __future__ import annotations

import pytest

from opsgate.controller import phases
from opsgate.resources import Phase


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (Phase.PENDING, Phase.PLANNING),
        (Phase.PLANNING, Phase.DENIED),
        (Phase.PLANNING, Phase.AWAITING_APPROVAL),
        (Phase.AWAITING_APPROVAL, Phase.APPROVED),
        (Phase.AWAITING_APPROVAL, Phase.EXPIRED),
        (Phase.APPROVED, Phase.RUNNING),
        (Phase.RUNNING, Phase.FAILED),
        (Phase.PENDING, Phase.SUCCEEDED),  # through every step in between
    ],
    ids=lambda p: str(p),
)
def test_forward_moves_are_allowed(source: Phase, target: Phase) -> None:
    assert phases.can_move(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (Phase.SUCCEEDED, Phase.RUNNING),
        (Phase.DENIED, Phase.APPROVED),
        (Phase.REJECTED, Phase.APPROVED),
        (Phase.EXPIRED, Phase.APPROVED),
        (Phase.RUNNING, Phase.AWAITING_APPROVAL),
        (Phase.ANSWERED, Phase.RUNNING),
        (Phase.RUNNING, Phase.RUNNING),
    ],
    ids=lambda p: str(p),
)
def test_backward_or_sideways_moves_are_refused(source: Phase, target: Phase) -> None:
    assert not phases.can_move(source, target)
    with pytest.raises(phases.PhaseError, match=f"in phase {source} can't move to {target}"):
        phases.check(source, target)


def test_every_phase_has_a_ready_summary() -> None:
    for phase in Phase:
        assert phases.ready(phase, "m").message == "m"


def test_terminal_phases_are_settled_and_go_nowhere() -> None:
    for phase in phases.TERMINAL:
        assert not any(phases.can_move(phase, other) for other in Phase)
        assert phases.ready(phase, "").status != "Unknown"


def test_an_unknown_recorded_phase_reads_as_pending() -> None:
    assert phases.current(None) is Phase.PENDING
    assert phases.current("Running") is Phase.RUNNING
