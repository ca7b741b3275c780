"""ansible-runner's events, read into what the executor prints and reports.

One compact JSON line per task result (task, host, status) is streamed while the playbook runs;
the result's summary is the message of the last ``Summarize`` task (playbooks/README.md), the
failed task is the first one that failed without ``ignore_errors``, and the counts are the
runner's PLAY RECAP figures. A result's ``res`` is never printed: ansible-runner censors the
results of ``no_log`` tasks, and even the others' outputs may hold data that is not ours to log.

Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsgate.execute.result import Counts

SUMMARY_TASK = "Summarize"  # the playbooks' last task (playbooks/README.md)
MAX_FAILURE_CHARS = 500


class TaskStatus(enum.StrEnum):
    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"


# runner event -> status of the task result it reports (item events are summed up by their task's)
_TASK_EVENTS: dict[str, TaskStatus] = {
    "runner_on_ok": TaskStatus.OK,
    "runner_on_failed": TaskStatus.FAILED,
    "runner_on_skipped": TaskStatus.SKIPPED,
    "runner_on_unreachable": TaskStatus.UNREACHABLE,
    "runner_on_async_failed": TaskStatus.FAILED,
}


@dataclass
class Tracker:
    """What a run's events told so far: the summary, the first failure."""

    summary: str | None = None
    failed_task: str | None = None
    failure: str | None = None
    unreachable: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # what the playbook published with set_stats

    def observe(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """The line to print for ``event`` (None for events that report no task result)."""
        if event.get("event") == "playbook_on_stats":
            published = (event.get("event_data") or {}).get("artifact_data")
            if isinstance(published, Mapping):
                self.data = dict(published)
        status = _TASK_EVENTS.get(str(event.get("event", "")))
        if status is None:
            return None
        data = event.get("event_data") or {}
        task = str(data.get("task") or "")
        raw = data.get("res")
        res: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        ignored = bool(data.get("ignore_errors"))
        if status is TaskStatus.OK and res.get("changed"):
            status = TaskStatus.CHANGED
        if status is TaskStatus.OK and task == SUMMARY_TASK and "msg" in res:
            self.summary = _text(res["msg"])
        if status in (TaskStatus.FAILED, TaskStatus.UNREACHABLE) and not ignored and self.failed_task is None:
            self.failed_task = task
            self.failure = failure_message(res)
            self.unreachable = status is TaskStatus.UNREACHABLE
        line: dict[str, Any] = {"event": "task", "task": task, "host": str(data.get("host") or ""), "status": status}
        if ignored and status is TaskStatus.FAILED:
            line["ignored"] = True
        return line


def failure_message(res: Mapping[str, Any]) -> str:
    """What a failed result says, in one line: ``msg``, else stderr, else ansible's no_log notice, else the rc.

    A command's ``msg`` is only "non-zero return code"; its stderr says why, so both are kept.
    (A no_log result has neither: ansible replaced it with ``censored``.)
    """
    message, stderr = _text(res.get("msg") or ""), str(res.get("stderr") or "").strip()
    if message and stderr:
        return f"{message}: {_text(stderr.splitlines()[-1])}"[:MAX_FAILURE_CHARS]
    for key in ("msg", "stderr", "reason", "censored"):  # `censored`: a no_log result
        value = res.get(key)
        if value:
            return _text(value)[:MAX_FAILURE_CHARS]
    if "rc" in res:
        return f"exit code {res['rc']}"
    return "the task failed"


def counts(stats: Mapping[str, Any] | None) -> Counts:
    """The PLAY RECAP figures summed over hosts (``dark`` is ansible's name for unreachable)."""
    stats = stats or {}

    def total(key: str) -> int:
        per_host = stats.get(key) or {}
        return sum(int(n) for n in per_host.values()) if isinstance(per_host, Mapping) else 0

    return Counts(
        ok=total("ok"),
        changed=total("changed"),
        failed=total("failures"),
        skipped=total("skipped"),
        unreachable=total("dark"),
    )


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return " ".join(str(value).split())
