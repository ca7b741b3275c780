"""``status.conditions`` of OpsRequests and Approvals, written through one helper.

Types and reasons are constants; setting a condition that did not change is a no-op and keeps
its ``lastTransitionTime``; ``observedGeneration`` is always set. ``Ready`` summarises the others.
Pure functions over plain dicts (the shape of metav1.Condition).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Type(enum.StrEnum):
    INTENT_RESOLVED = "IntentResolved"
    CONTEXT_RETRIEVED = "ContextRetrieved"
    POLICY_EVALUATED = "PolicyEvaluated"
    APPROVED = "Approved"
    EXECUTED = "Executed"
    READY = "Ready"
    AUDITED = "Audited"  # written only with an audit store (opsgate.adapters.auditdb)
    FEEDBACK = "Feedback"  # the feedback annotations, recorded or refused


class Status(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason(enum.StrEnum):
    # IntentResolved
    PARSED = "Parsed"
    FROM_SPEC = "FromSpec"
    UNRECOGNISED = "Unrecognised"
    DECLINED = "Declined"  # understood, and refused as stated (several changes, personal IT)
    INVALID_PARAMETERS = "InvalidParameters"
    # ContextRetrieved
    RETRIEVING = "Retrieving"
    RETRIEVED = "Retrieved"
    NO_CONTEXT = "NoContext"
    RETRIEVAL_FAILED = "RetrievalFailed"
    # PolicyEvaluated
    ALLOWED = "Allowed"
    DENIED = "Denied"
    APPROVAL_REQUIRED = "ApprovalRequired"
    NO_PLAN = "NoPlan"  # nothing to judge: the request is unrecognised, declined or incomplete
    # Approved
    NOT_REQUIRED = "NotRequired"
    AWAITING_DECISION = "AwaitingDecision"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    # Executed
    JOB_PENDING = "JobPending"
    JOB_CREATED = "JobCreated"
    JOB_SUCCEEDED = "JobSucceeded"
    JOB_FAILED = "JobFailed"
    DRY_RUN = "DryRun"
    NOTHING_TO_RUN = "NothingToRun"
    # Audited
    RECORDED = "Recorded"
    QUEUED = "Queued"  # the audit store is away: records wait on disk and are retried
    QUEUE_FULL = "QueueFull"
    # Feedback
    FEEDBACK_RECORDED = "FeedbackRecorded"
    INVALID_FEEDBACK = "InvalidFeedback"
    # Ready
    SUCCEEDED = "Succeeded"
    ANSWERED = "Answered"
    IN_PROGRESS = "InProgress"
    NEEDS_INFO = "NeedsInfo"
    FAILED = "Failed"


@dataclass(frozen=True)
class Condition:
    type: Type
    status: Status
    reason: Reason
    message: str

    @classmethod
    def true(cls, type_: Type, reason: Reason, message: str) -> Condition:
        return cls(type_, Status.TRUE, reason, message)

    @classmethod
    def false(cls, type_: Type, reason: Reason, message: str) -> Condition:
        return cls(type_, Status.FALSE, reason, message)

    @classmethod
    def unknown(cls, type_: Type, reason: Reason, message: str) -> Condition:
        return cls(type_, Status.UNKNOWN, reason, message)


MAX_MESSAGE = 4096


def timestamp(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with seconds, as the API server writes times."""
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(
    existing: Sequence[dict[str, Any]] | None,
    updates: Sequence[Condition],
    *,
    generation: int,
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    """Merge ``updates`` into the existing conditions, in a stable order.

    A condition whose status did not change keeps its ``lastTransitionTime``; reason, message and
    observedGeneration are refreshed. Conditions not mentioned in ``updates`` are kept as they are.
    """
    by_type: dict[str, dict[str, Any]] = {c["type"]: dict(c) for c in existing or ()}
    for update in updates:
        previous = by_type.get(update.type)
        changed = previous is None or previous.get("status") != update.status
        by_type[update.type] = {
            "type": str(update.type),
            "status": str(update.status),
            "reason": str(update.reason),
            "message": update.message[:MAX_MESSAGE],
            "observedGeneration": generation,
            "lastTransitionTime": (timestamp(now) if changed or previous is None else previous["lastTransitionTime"]),
        }
    order = {t.value: i for i, t in enumerate(Type)}
    return sorted(by_type.values(), key=lambda c: (order.get(c["type"], len(order)), c["type"]))


def find(conditions: Sequence[dict[str, Any]] | None, type_: Type) -> dict[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)
