"""The phase order of an OpsRequest - the one place that knows it.

    Pending → Planning → Denied | NeedsInfo | Answered | AwaitingApproval | Approved
    AwaitingApproval → Approved | Rejected | Expired
    Approved → Running → Succeeded | Failed
    Planning | AwaitingApproval | Approved → Failed   (an object not ours, deleted, or a digest mismatch)

A transition not listed here is refused (``PhaseError``), so a replayed or out-of-order event can
never move a request backwards (e.g. a late Approval event after the Job already finished).
Pure data and functions.
"""

from __future__ import annotations

from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.resources import Phase


class PhaseError(ValueError):
    """A transition the phase order does not allow."""


# Failed is reachable from every step that acts on objects: an object at one of the request's
# names that OpsGate did not create, an Approval or Job deleted under it, a digest mismatch.
_NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.PLANNING}),
    Phase.PLANNING: frozenset(
        {Phase.DENIED, Phase.NEEDS_INFO, Phase.ANSWERED, Phase.AWAITING_APPROVAL, Phase.APPROVED, Phase.FAILED}
    ),
    Phase.AWAITING_APPROVAL: frozenset({Phase.APPROVED, Phase.REJECTED, Phase.EXPIRED, Phase.FAILED}),
    Phase.APPROVED: frozenset({Phase.RUNNING, Phase.FAILED}),
    Phase.RUNNING: frozenset({Phase.SUCCEEDED, Phase.FAILED}),
}

TERMINAL = frozenset(
    {
        Phase.DENIED,
        Phase.NEEDS_INFO,
        Phase.ANSWERED,
        Phase.REJECTED,
        Phase.EXPIRED,
        Phase.SUCCEEDED,
        Phase.FAILED,
    }
)


def current(raw: object) -> Phase:
    """The phase recorded in status (a missing or unknown value counts as Pending)."""
    try:
        return Phase(str(raw))
    except ValueError:
        return Phase.PENDING


def can_move(source: Phase, target: Phase) -> bool:
    """True if the phase order allows ``source → target`` (directly or through earlier steps)."""
    if source == target:
        return False
    frontier, seen = {source}, set()
    while frontier:
        phase = frontier.pop()
        seen.add(phase)
        nxt = _NEXT.get(phase, frozenset())
        if target in nxt:
            return True
        frontier |= nxt - seen
    return False


def check(source: Phase, target: Phase) -> None:
    if not can_move(source, target):
        raise PhaseError(f"an OpsRequest in phase {source} can't move to {target}")


# The Ready summary of each phase: (status, reason). Terminal failures are False; progress Unknown.
_READY: dict[Phase, tuple[str, Reason]] = {
    Phase.PENDING: ("Unknown", Reason.IN_PROGRESS),
    Phase.PLANNING: ("Unknown", Reason.IN_PROGRESS),
    Phase.AWAITING_APPROVAL: ("Unknown", Reason.AWAITING_DECISION),
    Phase.APPROVED: ("Unknown", Reason.IN_PROGRESS),
    Phase.RUNNING: ("Unknown", Reason.IN_PROGRESS),
    Phase.SUCCEEDED: ("True", Reason.SUCCEEDED),
    Phase.ANSWERED: ("True", Reason.ANSWERED),
    Phase.DENIED: ("False", Reason.DENIED),
    Phase.NEEDS_INFO: ("False", Reason.NEEDS_INFO),
    Phase.REJECTED: ("False", Reason.REJECTED),
    Phase.EXPIRED: ("False", Reason.EXPIRED),
    Phase.FAILED: ("False", Reason.FAILED),
}


def ready(phase: Phase, message: str) -> Condition:
    """The ``Ready`` condition summarising a phase, with a message a person can act on."""
    status, reason = _READY[phase]
    if status == "True":
        return Condition.true(Type.READY, reason, message)
    if status == "False":
        return Condition.false(Type.READY, reason, message)
    return Condition.unknown(Type.READY, reason, message)
