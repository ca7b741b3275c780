"""The OpsRequest state machine: every move decided by one pure function over what was observed.

    advance(Observed) -> Transition | None

``Observed`` is everything the controller read: the request, the outcome of planning it (for a
new request), the Approval and Job at the names this request would use, the
pods that Job owns, and ``now``. ``Transition`` is everything to do about it: the objects to
create first (deterministic names, so a replay finds them instead of making twins), the status
to write, the Approval's status, the Events to post. ``None`` means nothing is to be done - a
replayed or out-of-order event, or a request waiting for something else.

The kopf layer (:mod:`opsgate.handlers`) reads, calls ``advance``, creates, writes (with
optimistic locking), and calls ``advance`` again with what it now observes, until ``None``: so
"allowed" → Job created → Running happens in one pass, and a crash anywhere in between is
resumed by the next observation. Every phase change is checked against :mod:`.phases`.
Pure functions; no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from opsgate.controller import approvals, claims, conditions, jobs, phases, planning
from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.controller.planning import MESSAGE_LAUNCHING, Note, Planned
from opsgate.resources import ApprovalState, Phase

MESSAGE_APPROVAL_MISSING = "Approval {name} was deleted before it was decided; nothing was run"
MESSAGE_JOB_MISSING = "Job {name} was deleted before its outcome was read; whether it acted is unknown"
MESSAGE_JOB_REPLACED = "Job {name} was replaced by another object of that name; its outcome is not trusted"
MESSAGE_JOB_RUNNING = "Job {name} is running the plan"
MESSAGE_PLAN_TOO_LARGE = (
    "the plan is {size} bytes, more than a Job can carry ({limit} bytes: a pod's annotations hold 256 KiB); "
    "nothing was run - give the catalog entry's parameters a maxLength"
)
MESSAGE_ROUTE_DEMOTED = (
    "route {route} is demoted: this run failed, so its next requests need a person's approval again "
    "until it has {after} approved success(es)"
)
MESSAGE_DIGEST_MISMATCH = (
    "the approved digest {approved} is not the digest of the plan in status ({planned}); nothing was run"
)


@dataclasses.dataclass(frozen=True)
class Observed:
    """What the controller read about one OpsRequest, at one moment."""

    request: Mapping[str, Any]
    now: datetime.datetime
    planned: Planned | None = None  # the planning step's outcome, for a request still Pending
    approval: Mapping[str, Any] | None = None  # the Approval at the name this request uses
    job: Mapping[str, Any] | None = None  # the Job at its deterministic name
    pods: Sequence[Mapping[str, Any]] = ()  # pods in the Job's namespace labelled with its name
    context: tuple[list[dict[str, Any]], Condition] | None = None  # retrieved after the decision

    @property
    def status(self) -> Mapping[str, Any]:
        return self.request.get("status") or {}

    @property
    def phase(self) -> Phase:
        return phases.current(self.status.get("phase"))


@dataclasses.dataclass(frozen=True)
class Transition:
    """What to do: create ``create`` (in order), then write ``status``, then the Approval's status."""

    status: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # fields, without conditions
    conditions: tuple[Condition, ...] = ()
    notes: tuple[Note, ...] = ()
    create: tuple[Mapping[str, Any], ...] = ()
    approval_status: Mapping[str, Any] | None = None

    @property
    def phase(self) -> Phase | None:
        raw = self.status.get("phase")
        return Phase(raw) if raw else None


def advance(observed: Observed, *, job_settings: jobs.JobSettings) -> Transition | None:
    """The next step for the observed request (see the module docstring)."""
    if observed.request["metadata"].get("deletionTimestamp"):
        return None  # being deleted: nothing more is started (the clean-up runs instead)
    step = _STEPS.get(observed.phase)
    transition = step(observed, job_settings) if step is not None else None
    if transition is None:
        return _record_context(observed) or _settle_approval_only(observed)
    if transition.phase is not None and transition.phase is not observed.phase:
        phases.check(observed.phase, transition.phase)
    return _with_context(observed, transition)


def expected_names(request: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(Approval name, Job name) a request already planned uses, where they are known yet.

    (A request still Pending reads nothing: its objects are created, and a 409 shows what is there.)
    """
    status = request.get("status") or {}
    approval = (status.get("approval") or {}).get("name")
    plan = status.get("plan") or {}
    meta = request["metadata"]
    job = (status.get("job") or {}).get("name")
    if job is None and plan.get("digest"):
        job = jobs.job_name(meta["name"], meta["uid"], plan["digest"])
    return approval, job


def _record_context(observed: Observed) -> Transition | None:
    """The context step of a request decided without it (the rule parser needs none)."""
    if observed.context is None or not planning.context_pending(observed.status):
        return None
    sources, condition = observed.context
    return Transition({"context": sources}, (condition,))


def _with_context(observed: Observed, transition: Transition) -> Transition:
    """A status write due anyway carries the retrieved context too: one write instead of two.

    (An allowed request's context is retrieved while its Job is created, and written with Running.)
    """
    context = _record_context(observed)
    if context is None or transition.create or not (transition.status or transition.conditions):
        return transition
    return dataclasses.replace(
        transition,
        status={**transition.status, **context.status},
        conditions=(*transition.conditions, *context.conditions),
    )


# --- Pending: the planning outcome becomes the first decision ------------------------------------


def _pending(observed: Observed, _settings: jobs.JobSettings) -> Transition | None:
    planned = observed.planned
    if planned is None:
        return None  # planning has to run first
    status = dict(planned.status)
    updates = list(planned.conditions)
    if planned.approval is None:
        if planned.run:
            updates.append(Condition.unknown(Type.EXECUTED, Reason.JOB_PENDING, MESSAGE_LAUNCHING))
        return Transition(status, tuple(updates), planned.notes)
    name = planned.approval["metadata"]["name"]
    if observed.approval is None:
        return Transition(create=(planned.approval,))
    why = claims.approval_matches_manifest(observed.approval, planned.approval)
    if why:
        return _failed(
            claims.MESSAGE_NOT_OWNED.format(kind="Approval", name=name, why=why),
            reason="ApprovalNotOwned",
            extra=status,
        )
    status["approval"] = {**status["approval"], "uid": observed.approval["metadata"]["uid"]}
    return Transition(status, tuple(updates), planned.notes)


# --- AwaitingApproval: tally the decisions on our own Approval -----------------------------------


def _awaiting(observed: Observed, _settings: jobs.JobSettings) -> Transition | None:
    recorded = observed.status.get("approval") or {}
    name = str(recorded.get("name", ""))
    approval = observed.approval
    if approval is None:
        return _failed(MESSAGE_APPROVAL_MISSING.format(name=name), reason="ApprovalMissing")
    why = claims.approval_mismatch(approval, request=observed.request)
    if why:
        message = claims.MESSAGE_NOT_OWNED.format(kind="Approval", name=name, why=why)
        return _failed(message, reason="ApprovalNotOwned")
    tally = approvals.tally(approval["spec"], now=observed.now)
    approval_status = _approval_status(approval, tally, now=observed.now)
    summary = {**recorded, "state": tally.state.value, "approvalsReceived": len(tally.approvers)}
    if tally.state is ApprovalState.PENDING:
        if summary == recorded and not _approval_status_changed(approval, tally):
            return None
        condition = Condition.unknown(Type.APPROVED, Reason.AWAITING_DECISION, tally.message)
        return Transition({"approval": summary}, (condition,), approval_status=approval_status)
    if tally.state is ApprovalState.APPROVED:
        plan_digest = (observed.status.get("plan") or {}).get("digest")
        if approval["spec"]["planDigest"] != plan_digest:  # claims checked it; kept as a last guard
            message = MESSAGE_DIGEST_MISMATCH.format(approved=approval["spec"]["planDigest"], planned=plan_digest)
            return _failed(message, reason="DigestMismatch", extra={"approval": summary})
        return Transition(
            {"phase": Phase.APPROVED.value, "approval": summary},
            (
                Condition.true(Type.APPROVED, Reason.APPROVED, tally.message),
                Condition.unknown(Type.EXECUTED, Reason.JOB_PENDING, MESSAGE_LAUNCHING),
                phases.ready(Phase.APPROVED, f"{tally.message}; {MESSAGE_LAUNCHING}"),
            ),
            (Note("Normal", "Approved", tally.message),),
            approval_status=approval_status,
        )
    target = Phase.REJECTED if tally.state is ApprovalState.REJECTED else Phase.EXPIRED
    reason = Reason.REJECTED if target is Phase.REJECTED else Reason.EXPIRED
    return Transition(
        {"phase": target.value, "approval": summary},
        (Condition.false(Type.APPROVED, reason, tally.message), phases.ready(target, tally.message)),
        (Note("Warning", target.value, tally.message),),
        approval_status=approval_status,
    )


def _approval_status(approval: Mapping[str, Any], tally: approvals.Tally, *, now: datetime.datetime) -> dict[str, Any]:
    """The Approval's own status: its state, who approved, and a Ready condition saying so."""
    generation = int((approval.get("metadata") or {}).get("generation", 1))
    if tally.state is ApprovalState.APPROVED:
        ready = Condition.true(Type.READY, Reason.APPROVED, tally.message)
    elif tally.state is ApprovalState.PENDING:
        ready = Condition.unknown(Type.READY, Reason.AWAITING_DECISION, tally.message)
    else:
        reason = Reason.REJECTED if tally.state is ApprovalState.REJECTED else Reason.EXPIRED
        ready = Condition.false(Type.READY, reason, tally.message)
    existing = (approval.get("status") or {}).get("conditions")
    return {
        "state": tally.state.value,
        "approvalsReceived": len(tally.approvers),
        "approvers": list(tally.approvers),
        "observedGeneration": generation,
        "conditions": conditions.apply(existing, [ready], generation=generation, now=now),
    }


def _approval_status_changed(approval: Mapping[str, Any], tally: approvals.Tally) -> bool:
    current = approval.get("status") or {}
    return bool(
        current.get("state", ApprovalState.PENDING.value) != tally.state.value
        or current.get("approvalsReceived", 0) != len(tally.approvers)
    )


def _settle_approval_only(observed: Observed) -> Transition | None:
    """A request that moved on while its Approval's own status was not yet written (a crash)."""
    approval, recorded = observed.approval, observed.status.get("approval") or {}
    if approval is None or not recorded.get("state") or recorded["state"] == ApprovalState.PENDING.value:
        return None
    if claims.approval_mismatch(approval, request=observed.request):
        return None
    if (approval.get("status") or {}).get("state", ApprovalState.PENDING.value) != ApprovalState.PENDING.value:
        return None
    tally = approvals.tally(approval["spec"], now=observed.now)
    if tally.state.value != recorded["state"]:
        # The Approval says something else now (e.g. expired since): record what the request saw.
        tally = approvals.Tally(ApprovalState(recorded["state"]), tally.approvers, f"settled as {recorded['state']}")
    return Transition(approval_status=_approval_status(approval, tally, now=observed.now))


# --- Approved: create the Job (never adopt one), then Running ------------------------------------


def _approved(observed: Observed, settings: jobs.JobSettings) -> Transition | None:
    spec, status = observed.request.get("spec") or {}, observed.status
    plan = status.get("plan") or {}
    if spec.get("dryRun") or not plan.get("digest"):
        return None  # a dry run stops at the decision
    job = jobs.build(request=observed.request, plan=plan, settings=settings)
    name = job["metadata"]["name"]
    if observed.job is None:
        size = len(job["spec"]["template"]["metadata"]["annotations"][jobs.ANNOTATION_PLAN].encode())
        if size > jobs.MAX_PLAN_BYTES:  # the API server would refuse the Job, on every retry
            return _failed(MESSAGE_PLAN_TOO_LARGE.format(size=size, limit=jobs.MAX_PLAN_BYTES), reason="PlanTooLarge")
        return Transition(create=(job,))
    why = claims.job_mismatch(observed.job, job)
    if why:
        return _failed(claims.MESSAGE_NOT_OWNED.format(kind="Job", name=name, why=why), reason="NotOwned")
    message = MESSAGE_JOB_RUNNING.format(name=name)
    return Transition(
        {"phase": Phase.RUNNING.value, "job": {"name": name, "uid": observed.job["metadata"]["uid"]}},
        (Condition.true(Type.EXECUTED, Reason.JOB_CREATED, message), phases.ready(Phase.RUNNING, message)),
        (Note("Normal", "JobCreated", f"Job {name} runs {plan.get('action')}"),),
    )


# --- Running: read the outcome from the Job and the pods it owns ---------------------------------


def _running(observed: Observed, _settings: jobs.JobSettings) -> Transition | None:
    recorded = observed.status.get("job") or {}
    name = str(recorded.get("name", ""))
    job = observed.job
    if job is None:
        return _failed(MESSAGE_JOB_MISSING.format(name=name), reason="JobMissing")
    if recorded.get("uid") and job["metadata"].get("uid") != recorded["uid"]:
        return _failed(MESSAGE_JOB_REPLACED.format(name=name), reason="JobReplaced")
    outcome = jobs.outcome(job, claims.pods_of(job, list(observed.pods)))
    if outcome.state is jobs.JobState.RUNNING:
        return None
    succeeded = outcome.state is jobs.JobState.SUCCEEDED
    target = Phase.SUCCEEDED if succeeded else Phase.FAILED
    executed = (
        Condition.true(Type.EXECUTED, Reason.JOB_SUCCEEDED, outcome.message)
        if succeeded
        else Condition.false(Type.EXECUTED, Reason.JOB_FAILED, outcome.message)
    )
    notes = [Note("Normal" if succeeded else "Warning", target.value, outcome.message)]
    route = observed.status.get("autonomy") or {}
    if not succeeded and route.get("route"):
        after = route.get("promoteAfter", 0)
        notes.append(Note("Warning", "RouteDemoted", MESSAGE_ROUTE_DEMOTED.format(route=route["route"], after=after)))
    return Transition(
        {"phase": target.value, "result": outcome.result},
        (executed, phases.ready(target, outcome.message)),
        tuple(notes),
    )


def _failed(message: str, *, reason: str, extra: Mapping[str, Any] | None = None) -> Transition:
    return Transition(
        {**(extra or {}), "phase": Phase.FAILED.value},
        (Condition.false(Type.EXECUTED, Reason.JOB_FAILED, message), phases.ready(Phase.FAILED, message)),
        (Note("Warning", reason, message),),
    )


_STEPS = {
    Phase.PENDING: _pending,
    Phase.PLANNING: _pending,
    Phase.AWAITING_APPROVAL: _awaiting,
    Phase.APPROVED: _approved,
    Phase.RUNNING: _running,
}
