"""The one JSON object an execution reports: the termination message and the last stdout line.

The controller reads it back with :func:`opsgate.controller.jobs.outcome` (``summary`` lands in
``status.result``), so it is small - the kubelet keeps at most 4096 bytes of a termination
message - and carries no secret. Shape::

    {"status": "succeeded"|"failed", "action", "digest", "dryRun",
     "counts": {"ok", "changed", "failed", "skipped", "unreachable"},
     "summary", "failedTask"?, "reason"?, "message"?, "durationSeconds",
     "validation"?: {"state": "Passed"|"Failed", "message"},
     "rollback"?: {"action", "parameters", "state": "Available"|"RolledBack"|"Failed", "summary"?}}

``rollback.parameters`` were captured before the change (the catalog entry's ``rollback``): what
``opsgate rollback NAME`` asks for later, or what a failed validation already applied.

Pure.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 4096  # the kubelet's limit for a termination message
ELLIPSIS = "…"


class Status(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Reason(enum.StrEnum):
    """Why a run did not succeed; refusals (nothing ran, exit 2) are marked as such."""

    INVALID_PLAN = "InvalidPlan"  # refusal
    DIGEST_MISMATCH = "DigestMismatch"  # refusal
    UNAUTHORIZED = "Unauthorized"  # refusal
    SECRETS_UNAVAILABLE = "SecretsUnavailable"
    TOOL_MISSING = "ToolMissing"
    PROVIDER_MISSING = "ProviderMissing"
    TASK_FAILED = "TaskFailed"
    VALIDATION_FAILED = "ValidationFailed"  # the change ran but did not hold; see rollback
    HOST_UNREACHABLE = "HostUnreachable"
    EXECUTOR_ERROR = "ExecutorError"

    @property
    def refusal(self) -> bool:
        return self in _REFUSALS


_REFUSALS = frozenset({Reason.INVALID_PLAN, Reason.DIGEST_MISMATCH, Reason.UNAUTHORIZED})


class ExitCode(enum.IntEnum):
    SUCCEEDED = 0
    FAILED = 1
    REFUSED = 2  # the plan was not acted on: bad plan, digest mismatch, not authorized


@dataclass(frozen=True)
class Counts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0


@dataclass(frozen=True)
class Result:
    status: Status
    action: str
    digest: str
    dry_run: bool
    summary: str
    counts: Counts = field(default_factory=Counts)
    failed_task: str | None = None
    reason: Reason | None = None
    message: str | None = None
    duration_seconds: float = 0.0
    validation: dict[str, Any] | None = None
    rollback: dict[str, Any] | None = None

    @property
    def exit_code(self) -> ExitCode:
        if self.status is Status.SUCCEEDED:
            return ExitCode.SUCCEEDED
        return ExitCode.REFUSED if self.reason is not None and self.reason.refusal else ExitCode.FAILED

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "status": self.status.value,
            "action": self.action,
            "digest": self.digest,
            "dryRun": self.dry_run,
            "counts": {
                "ok": self.counts.ok,
                "changed": self.counts.changed,
                "failed": self.counts.failed,
                "skipped": self.counts.skipped,
                "unreachable": self.counts.unreachable,
            },
            "summary": self.summary,
        }
        if self.failed_task is not None:
            document["failedTask"] = self.failed_task
        if self.reason is not None:
            document["reason"] = self.reason.value
        if self.message is not None:
            document["message"] = self.message
        document["durationSeconds"] = round(self.duration_seconds, 3)
        if self.validation is not None:
            document["validation"] = self.validation
        if self.rollback is not None:
            document["rollback"] = self.rollback
        return document


def render(result: Result, *, limit: int = MAX_BYTES) -> str:
    """Compact JSON of ``result`` in at most ``limit`` UTF-8 bytes; long texts are cut, in order
    message, summary, failedTask (the summary is what the request's status shows, so it keeps
    as much as fits)."""
    document = result.to_document()
    text = _dump(document)
    for key in ("message", "summary", "failedTask"):
        excess = len(text.encode("utf-8")) - limit
        if excess <= 0:
            break
        value = document.get(key)
        if not isinstance(value, str) or not value:
            continue
        document[key] = _shorten(value, by_bytes=excess)
        text = _dump(document)
    if len(text.encode("utf-8")) > limit:  # only fixed-size keys left: the action and digest are short
        raise ValueError(f"the result does not fit in {limit} bytes")
    return text


def _shorten(value: str, *, by_bytes: int) -> str:
    """The longest prefix of ``value`` (plus an ellipsis) whose JSON is ``by_bytes`` shorter."""
    target = _size(value) - by_bytes
    low, high = 0, len(value)
    while low < high:
        middle = (low + high + 1) // 2
        if _size(value[:middle] + ELLIPSIS) <= target:
            low = middle
        else:
            high = middle - 1
    return value[:low] + ELLIPSIS if low else ""


def _size(value: str) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
