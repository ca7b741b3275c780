"""Refuse to act on a plan that is not exactly the plan that was approved.

The plan file comes from the Job (an annotation of its pod, see ``controller/jobs.py``), and the
Job's environment names the digest that was approved: a plan that does not carry exactly that
digest is refused first. The digest an approval is bound to covers the action, the
parameters, the catalog entry, the playbook/module bytes and the executor image - and every other
file a run may execute: capture and validation playbooks, and the inverse entry (with its
playbook) a failed validation would run to undo the change. Here the digest
is recomputed from what this image actually holds - its own catalog and files under
``paths.home()`` and the image the Job says it runs - with the same function the planner used
(:func:`opsgate.plan.compute_digest`), and the parameters are validated again against the entry's
schema. Any difference is a refusal naming both digests; nothing runs.

Pure apart from reading the executor's files under ``home``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from opsgate import catalog, plan
from opsgate.execute.result import Reason

MESSAGE_NOT_A_PLAN = "the plan file is not a plan as `opsgate plan --json` prints it: {problem}"
MESSAGE_UNKNOWN_ACTION = "action {action!r} is not in this executor's catalog ({source})"
MESSAGE_MISSING_EXECUTOR = "the executor files of {action!r} cannot be read: {problem}"
MESSAGE_DIGEST_MISMATCH = (
    "refusing to run: the plan's digest {planned} does not match {recomputed}, recomputed from its action, "
    "parameters, this image's catalog entry and files and the executor image {image}{differences}; nothing was run"
)
MESSAGE_NOT_APPROVED = (
    "refusing to run: the plan's digest {planned} is not the approved digest {approved} this Job was created "
    "for; nothing was run"
)
MESSAGE_INVALID_PARAMETERS = "refusing to run: the parameters do not satisfy the catalog schema of {action}: {problems}"


class RefusalError(Exception):
    """The plan must not be acted on; ``reason`` says why, the message what to look at."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Verified:
    plan: plan.Plan
    entry: catalog.ActionEntry


def load(document: Any) -> plan.Plan:
    """The ``plan`` object of ``opsgate plan --json`` as a :class:`opsgate.plan.Plan`."""
    if not isinstance(document, Mapping):
        raise RefusalError(Reason.INVALID_PLAN, MESSAGE_NOT_A_PLAN.format(problem="expected a JSON object"))
    try:
        return plan.Plan.model_validate(dict(document))
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "plan"
        problem = f"{where}: {error['msg']}"
        raise RefusalError(Reason.INVALID_PLAN, MESSAGE_NOT_A_PLAN.format(problem=problem)) from exc


def verify(
    document: Any, *, actions: catalog.Catalog, home: Path, executor_image: str, approved_digest: str | None = None
) -> Verified:
    """The plan and its entry when ``document`` is exactly what this image would run, else :class:`RefusalError`.

    ``approved_digest``: the digest the plan must carry (the Job's; None for a plain process).
    """
    planned = load(document)
    if approved_digest is not None and planned.digest != approved_digest:
        message = MESSAGE_NOT_APPROVED.format(planned=planned.digest, approved=approved_digest)
        raise RefusalError(Reason.DIGEST_MISMATCH, message)
    entry = actions.get(planned.action)
    if entry is None:
        message = MESSAGE_UNKNOWN_ACTION.format(action=planned.action, source=actions.source)
        raise RefusalError(Reason.DIGEST_MISMATCH, message)
    inverse = plan.inverse_entry(entry, actions)
    try:
        content = plan.entry_content_hash(home, entry, inverse=inverse)
    except plan.PlanError as exc:
        message = MESSAGE_MISSING_EXECUTOR.format(action=planned.action, problem=exc)
        raise RefusalError(Reason.DIGEST_MISMATCH, message) from exc
    recomputed = plan.compute_digest(
        action=planned.action,
        parameters=planned.parameters,
        entry=entry,
        content_hash=content,
        executor_image=executor_image,
        inverse=inverse,
    )
    if recomputed != planned.digest:
        found = differences(planned, entry=entry, content_hash=content, executor_image=executor_image, inverse=inverse)
        message = MESSAGE_DIGEST_MISMATCH.format(
            planned=planned.digest,
            recomputed=recomputed,
            image=executor_image,
            differences=f" (differs: {'; '.join(found)})" if found else "",
        )
        raise RefusalError(Reason.DIGEST_MISMATCH, message)
    problems = [plan.describe_error(error)[1] for error in entry.validator.iter_errors(planned.parameters)]
    if problems:
        message = MESSAGE_INVALID_PARAMETERS.format(action=planned.action, problems="; ".join(problems))
        raise RefusalError(Reason.INVALID_PLAN, message)
    return Verified(plan=planned, entry=entry)


def differences(
    planned: plan.Plan,
    *,
    entry: catalog.ActionEntry,
    content_hash: str,
    executor_image: str,
    inverse: catalog.ActionEntry | None = None,
) -> list[str]:
    """What visibly differs between the plan's own record and this image (a hint; the digest decides).

    The plan records its executor's content hash and image, so a changed playbook or another
    image can be named; changed parameters or a changed entry show only as the digest.
    """
    found = []
    if planned.executor.content_hash != content_hash:
        files = ", ".join((str(entry.executor.path), *plan.step_files(entry, inverse=inverse)))
        found.append(f"the content of {files} changed since planning")
    if planned.executor.image != executor_image:
        found.append(f"planned for image {planned.executor.image}")
    if planned.executor.kind is not entry.executor.kind or (planned.executor.playbook, planned.executor.module) != (
        entry.executor.playbook,
        entry.executor.module,
    ):
        found.append("the catalog entry names another executor")
    return found
