"""The OpsRequest state machine, phase by observation: what it does, and what it refuses to adopt.

Plain dicts in, a Transition (or None) out; no cluster. Replayed and out-of-order observations
are rows of the same tables: a step that already happened does nothing the second time.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from opsgate.controller import approvals, jobs, machine, phases, planning
from opsgate.controller.conditions import Condition, Reason, Status, Type
from opsgate.resources import Phase

NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)
DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64
SETTINGS = jobs.JobSettings(image="registry.local/opsgate:test")
PLAN = {"action": "provision.create.email", "parameters": {"email": "j@acme.org"}, "digest": DIGEST}


def request(phase: Phase | None = None, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {"name": "email", "namespace": "team", "uid": "uid-1", "generation": 1, "resourceVersion": "7"},
        "spec": {"request": "create an email for j@acme.org", "requester": "alice"},
        "status": {**({"phase": phase.value} if phase else {}), **status},
    }
    return body


def approval_manifest(req: dict[str, Any], *, required: int = 1, ttl_hours: int = 24) -> dict[str, Any]:
    return approvals.build(
        request=req,
        plan=PLAN,
        policy_lines=[],
        required_approvals=required,
        approver_groups=["opsgate-approvers"],
        description="Create a mailbox",
        now=NOW - datetime.timedelta(hours=1),
        ttl=datetime.timedelta(hours=ttl_hours),
    )


def created(manifest: dict[str, Any], uid: str = "obj-uid") -> dict[str, Any]:
    obj = copy.deepcopy(manifest)
    obj["metadata"]["uid"] = uid
    return obj


def awaiting(**extra: Any) -> dict[str, Any]:
    base = request(Phase.AWAITING_APPROVAL, plan=PLAN)
    name = approval_manifest(base)["metadata"]["name"]
    recorded = {
        "name": name,
        "uid": "appr-uid",
        "state": "Pending",
        "approvalsReceived": 0,
        "requiredApprovals": 1,
        "approverGroups": ["opsgate-approvers"],
        **extra,
    }
    return request(Phase.AWAITING_APPROVAL, plan=PLAN, approval=recorded)


def our_approval(req: dict[str, Any], *decisions: tuple[str, str, str], **spec: Any) -> dict[str, Any]:
    obj = created(approval_manifest(req), uid="appr-uid")
    obj["spec"].update(spec)
    obj["spec"]["decisions"] = [{"approver": a, "decision": d, "digest": g} for a, d, g in decisions]
    return obj


def planned(phase: Phase, *, approval: bool = False, run: bool = False) -> planning.Planned:
    req = request()
    manifest = approval_manifest(req) if approval else None
    status: dict[str, Any] = {"phase": phase.value, "plan": PLAN}
    if manifest is not None:
        status["approval"] = {"name": manifest["metadata"]["name"], "state": "Pending", "requiredApprovals": 1}
    return planning.Planned(
        phase=phase,
        status=status,
        conditions=(phases.ready(phase, "decided"),),
        approval=manifest,
        run=run,
        plan=PLAN,
        notes=(planning.Note("Normal", phase.value, "decided"),),
    )


def advance(observed: machine.Observed) -> machine.Transition | None:
    return machine.advance(observed, job_settings=SETTINGS)


def condition(transition: machine.Transition, type_: Type) -> Condition:
    return next(c for c in transition.conditions if c.type is type_)


# --- Pending ---------------------------------------------------------------------------------------


def test_a_pending_request_waits_for_its_planning() -> None:
    assert advance(machine.Observed(request(), NOW)) is None


@pytest.mark.parametrize(
    "phase", [Phase.DENIED, Phase.NEEDS_INFO, Phase.ANSWERED, Phase.APPROVED], ids=lambda p: p.value
)
def test_a_decision_without_an_approval_is_written_as_planned(phase: Phase) -> None:
    transition = advance(machine.Observed(request(), NOW, planned=planned(phase, run=phase is Phase.APPROVED)))
    assert transition is not None
    assert transition.phase is phase
    assert not transition.create
    if phase is Phase.APPROVED:
        assert condition(transition, Type.EXECUTED).reason is Reason.JOB_PENDING


def test_an_approval_is_created_before_the_decision_is_written() -> None:
    plan = planned(Phase.AWAITING_APPROVAL, approval=True)
    transition = advance(machine.Observed(request(), NOW, planned=plan))
    assert transition is not None
    assert transition.create == (plan.approval,)
    assert not transition.status


def test_the_decision_records_the_uid_of_the_approval_the_controller_created() -> None:
    plan = planned(Phase.AWAITING_APPROVAL, approval=True)
    assert plan.approval is not None
    transition = advance(machine.Observed(request(), NOW, planned=plan, approval=created(plan.approval, "a-1")))
    assert transition is not None
    assert transition.phase is Phase.AWAITING_APPROVAL
    assert transition.status["approval"]["uid"] == "a-1"


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        (lambda a: a["metadata"].update(ownerReferences=[]), "owner"),
        (lambda a: a["spec"].update(requiredApprovals=0), "requiredApprovals"),
        (lambda a: a["spec"].update(approverGroups=["mallory-friends"]), "approverGroups"),
        (lambda a: a["spec"].update(planDigest=OTHER_DIGEST), "planDigest"),
        (lambda a: a["spec"].update(requester="bob"), "requester"),
    ],
    ids=["no-owner", "count", "groups", "digest", "requester"],
)
def test_a_pre_created_approval_at_our_name_is_never_adopted(tamper: Any, why: str) -> None:
    plan = planned(Phase.AWAITING_APPROVAL, approval=True)
    assert plan.approval is not None
    squatter = created(plan.approval, "evil")
    tamper(squatter)
    transition = advance(machine.Observed(request(), NOW, planned=plan, approval=squatter))
    assert transition is not None
    assert transition.phase is Phase.FAILED
    message = condition(transition, Type.READY).message
    assert "was not created by OpsGate" in message
    assert why in message


# --- AwaitingApproval ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decisions", "phase"),
    [
        ((("bob", "Approve", DIGEST),), Phase.APPROVED),
        ((("bob", "Reject", DIGEST),), Phase.REJECTED),
        ((("alice", "Approve", DIGEST),), None),
        ((("bob", "Approve", OTHER_DIGEST),), None),
    ],
    ids=["approved", "rejected", "self-approval-ignored", "other-digest-ignored"],
)
def test_decisions_on_our_approval_move_the_request(decisions: tuple[tuple[str, str, str], ...], phase: Phase) -> None:
    req = awaiting()
    transition = advance(machine.Observed(req, NOW, approval=our_approval(req, *decisions)))
    if phase is None:
        assert transition is None or transition.phase is None
        return
    assert transition is not None
    assert transition.phase is phase
    assert transition.approval_status is not None
    assert transition.approval_status["state"] == phase.value


def test_a_decision_found_after_expiry_never_approves() -> None:
    req = awaiting()
    late = our_approval(req, ("bob", "Approve", DIGEST), expiresAt="2026-11-23T09:00:00Z")
    transition = advance(machine.Observed(req, NOW, approval=late))
    assert transition is not None
    assert transition.phase is Phase.EXPIRED
    assert "never approves" in condition(transition, Type.APPROVED).message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requiredApprovals", 1),  # recorded 2, the look-alike asks 1
        ("approverGroups", ["mallory-friends"]),
        ("requester", "mallory"),
    ],
    ids=["fewer-approvals", "other-groups", "other-requester"],
)
def test_a_look_alike_approval_is_not_honoured(field: str, value: Any) -> None:
    req = awaiting(requiredApprovals=2)
    look_alike = our_approval(req, ("bob", "Approve", DIGEST))
    look_alike["spec"][field] = value
    if field != "requiredApprovals":
        look_alike["spec"]["requiredApprovals"] = 2
    transition = advance(machine.Observed(req, NOW, approval=look_alike))
    assert transition is not None
    assert transition.phase is Phase.FAILED


def test_an_approval_replaced_under_the_same_name_is_not_honoured() -> None:
    req = awaiting()
    replaced = our_approval(req, ("bob", "Approve", DIGEST))
    replaced["metadata"]["uid"] = "someone-elses"
    transition = advance(machine.Observed(req, NOW, approval=replaced))
    assert transition is not None
    assert transition.phase is Phase.FAILED
    assert "uid differs" in condition(transition, Type.READY).message


def test_a_deleted_approval_fails_the_request() -> None:
    transition = advance(machine.Observed(awaiting(), NOW, approval=None))
    assert transition is not None
    assert transition.phase is Phase.FAILED


def test_a_replayed_approval_event_with_nothing_new_does_nothing() -> None:
    req = awaiting()
    approval = our_approval(req)
    approval["status"] = {"state": "Pending", "approvalsReceived": 0}
    assert advance(machine.Observed(req, NOW, approval=approval)) is None


# --- Approved: the Job ---------------------------------------------------------------------------


def approved(**status: Any) -> dict[str, Any]:
    return request(Phase.APPROVED, plan=PLAN, **status)


def built(req: dict[str, Any]) -> dict[str, Any]:
    return jobs.build(request=req, plan=PLAN, settings=SETTINGS)


def test_an_approved_request_creates_its_job_and_nothing_else() -> None:
    req = approved()
    transition = advance(machine.Observed(req, NOW))
    assert transition is not None
    assert [m["kind"] for m in transition.create] == ["Job"]
    assert not transition.status  # the Job first: Running is written once it exists


def test_once_the_job_exists_and_is_ours_the_request_is_running() -> None:
    req = approved()
    job = built(req)
    transition = advance(machine.Observed(req, NOW, job=created(job, "job-uid")))
    assert transition is not None
    assert transition.phase is Phase.RUNNING
    assert transition.status["job"] == {"name": job["metadata"]["name"], "uid": "job-uid"}


def test_a_plan_too_large_for_a_job_fails_clearly_instead_of_retrying_forever() -> None:
    # e.g. a structured intent with a huge value for a parameter whose schema sets no maxLength
    huge = {**PLAN, "parameters": {"email": "j@acme.org", "note": "x" * 300_000}}
    req = request(Phase.APPROVED, plan=huge)
    transition = advance(machine.Observed(req, NOW))
    assert transition is not None
    assert transition.phase is Phase.FAILED
    assert not transition.create
    message = transition.conditions[-1].message
    assert "more than a Job can carry" in message
    assert "nothing was run" in message


def test_a_dry_run_never_launches() -> None:
    req = approved()
    req["spec"]["dryRun"] = True
    assert advance(machine.Observed(req, NOW)) is None


def _set_plan(job: dict[str, Any], text: str) -> None:
    job["spec"]["template"]["metadata"]["annotations"][jobs.ANNOTATION_PLAN] = text


def _set_volume(job: dict[str, Any], volume: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["volumes"][0] = volume


@pytest.mark.parametrize(
    "tamper",
    [
        lambda o: _set_plan(o, '{"action": "provision.delete.cluster"}'),
        lambda o: _set_volume(o, {"name": "plan", "configMap": {"name": o["metadata"]["name"]}}),
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(image="evil:latest"),
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(command=["sh", "-c", "id"]),
        lambda o: o["spec"]["template"]["spec"].update(serviceAccountName="default"),
        lambda o: o["metadata"]["labels"].update({"opsgate.dev/request-uid": "other"}),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "X", "value": "1"}),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].remove(
            {"name": jobs.ENV_APPROVED_DIGEST, "value": PLAN["digest"]}
        ),
    ],
    ids=[
        "tampered-plan",
        "plan-from-a-configmap",
        "other-image",
        "other-command",
        "other-account",
        "job-of-another-request",
        "other-env",
        "no-digest-pinned",
    ],
)
def test_a_pre_created_job_is_never_adopted(tamper: Any) -> None:
    req = approved()
    job = created(built(req))
    tamper(job)
    transition = advance(machine.Observed(req, NOW, job=job))
    assert transition is not None
    assert transition.phase is Phase.FAILED
    message = transition.conditions[-1].message
    assert f"Job {job['metadata']['name']} exists but was not created by OpsGate" in message


# --- Running: the outcome --------------------------------------------------------------------------


def running(job: dict[str, Any]) -> dict[str, Any]:
    return request(Phase.RUNNING, plan=PLAN, job={"name": job["metadata"]["name"], "uid": job["metadata"]["uid"]})


def finished(job: dict[str, Any], condition_type: str) -> dict[str, Any]:
    done = copy.deepcopy(job)
    done["status"] = {"conditions": [{"type": condition_type, "status": "True", "reason": "X", "message": "m"}]}
    return done


def pod(job: dict[str, Any], message: str, *, owner: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p",
            "creationTimestamp": "2026-11-23T10:00:00Z",
            "ownerReferences": [{"controller": True, "uid": owner or job["metadata"]["uid"]}],
        },
        "status": {"containerStatuses": [{"state": {"terminated": {"message": message}}}]},
    }


def test_a_running_job_keeps_the_request_running() -> None:
    job = created(built(approved()), "job-uid")
    assert advance(machine.Observed(running(job), NOW, job=job)) is None


@pytest.mark.parametrize(
    ("condition_type", "phase"), [("Complete", Phase.SUCCEEDED), ("Failed", Phase.FAILED)], ids=["complete", "failed"]
)
def test_a_finished_job_ends_the_request_with_the_executors_result(condition_type: str, phase: Phase) -> None:
    job = created(built(approved()), "job-uid")
    done = finished(job, condition_type)
    result = '{"status": "ok", "summary": "mailbox created"}'
    transition = advance(machine.Observed(running(job), NOW, job=done, pods=[pod(job, result)]))
    assert transition is not None
    assert transition.phase is phase
    assert transition.status["result"]["summary"] == "mailbox created"


def test_the_outcome_is_read_only_from_a_pod_the_job_owns() -> None:
    job = created(built(approved()), "job-uid")
    forged = pod(job, '{"summary": "all good, trust me"}', owner="someone-else")
    transition = advance(machine.Observed(running(job), NOW, job=finished(job, "Complete"), pods=[forged]))
    assert transition is not None
    assert "trust me" not in str(transition.status["result"])


def test_a_job_deleted_before_its_outcome_was_read_fails_the_request() -> None:
    job = created(built(approved()), "job-uid")
    transition = advance(machine.Observed(running(job), NOW, job=None))
    assert transition is not None
    assert transition.phase is Phase.FAILED
    assert "deleted before its outcome was read" in condition(transition, Type.READY).message


def test_a_job_replaced_under_the_same_name_is_not_trusted() -> None:
    job = created(built(approved()), "job-uid")
    impostor = finished(job, "Complete")
    impostor["metadata"]["uid"] = "impostor"
    transition = advance(machine.Observed(running(job), NOW, job=impostor))
    assert transition is not None
    assert transition.phase is Phase.FAILED


# --- terminal phases and replays -------------------------------------------------------------------


@pytest.mark.parametrize("phase", sorted(phases.TERMINAL), ids=lambda p: p.value)
def test_a_terminal_request_ignores_every_observation(phase: Phase) -> None:
    req = request(phase, plan=PLAN)
    job = created(built(approved()), "job-uid")
    for observed in (
        machine.Observed(req, NOW),
        machine.Observed(req, NOW, planned=planned(Phase.APPROVED, run=True)),
        machine.Observed(req, NOW, job=finished(job, "Complete")),
    ):
        assert advance(observed) is None


@pytest.mark.parametrize(
    "phase", [Phase.APPROVED, Phase.RUNNING, Phase.SUCCEEDED, Phase.REJECTED], ids=lambda p: p.value
)
def test_a_late_planning_outcome_never_moves_a_decided_request_back(phase: Phase) -> None:
    transition = advance(machine.Observed(request(phase, plan=PLAN), NOW, planned=planned(Phase.DENIED)))
    assert transition is None or transition.phase is not Phase.DENIED


def test_context_retrieved_after_the_decision_is_written_in_its_own_step() -> None:
    pending = Condition.unknown(Type.CONTEXT_RETRIEVED, Reason.RETRIEVING, "…")
    req = request(Phase.DENIED, conditions=[{"type": pending.type, "status": "Unknown", "reason": pending.reason}])
    found = ([{"source": "docs/a.md", "score": 0.9}], Condition.true(Type.CONTEXT_RETRIEVED, Reason.RETRIEVED, "1"))
    transition = advance(machine.Observed(req, NOW, context=found))
    assert transition is not None
    assert transition.phase is None
    assert transition.status == {"context": found[0]}
    assert transition.conditions[0].status is Status.TRUE


def test_a_context_ready_by_the_running_write_is_written_with_it_and_not_before_the_job() -> None:
    pending = {"type": Type.CONTEXT_RETRIEVED.value, "status": "Unknown", "reason": Reason.RETRIEVING.value}
    req = approved(conditions=[pending])
    found = ([{"source": "docs/a.md", "score": 0.9}], Condition.true(Type.CONTEXT_RETRIEVED, Reason.RETRIEVED, "1"))
    first = advance(machine.Observed(req, NOW, context=found))
    assert first is not None
    assert [m["kind"] for m in first.create] == ["Job"]
    assert not first.status  # the Job first: nothing is written with it
    job = built(req)
    observed = machine.Observed(req, NOW, job=created(job, "job-uid"), context=found)
    running = advance(observed)
    assert running is not None
    assert running.phase is Phase.RUNNING
    assert running.status["context"] == found[0]
    assert condition(running, Type.CONTEXT_RETRIEVED).status is Status.TRUE
    assert condition(running, Type.EXECUTED).reason == Reason.JOB_CREATED
    written = request(Phase.RUNNING, plan=PLAN, job=running.status["job"])  # its context is no longer pending
    assert advance(machine.Observed(written, NOW, job=created(job, "job-uid"), context=found)) is None


def test_every_move_the_machine_makes_is_one_the_phase_order_allows() -> None:
    # advance() checks each move against phases; a move outside the order would raise here.
    for phase in Phase:
        for observed in (
            machine.Observed(request(phase, plan=PLAN), NOW),
            machine.Observed(request(phase, plan=PLAN), NOW, planned=planned(Phase.APPROVED, run=True)),
        ):
            advance(observed)


@pytest.mark.parametrize(
    ("condition_type", "reasons"),
    [("Failed", ["Failed", "RouteDemoted"]), ("Complete", ["Succeeded"])],
    ids=["a-failure-demotes", "a-success-does-not"],
)
def test_a_failed_run_of_an_alert_route_says_the_route_is_demoted(condition_type: str, reasons: list[str]) -> None:
    job = created(built(approved()), "job-uid")
    req = running(job)
    req["status"]["autonomy"] = {"route": "restart-crashlooping", "approvedSuccesses": 3, "promoteAfter": 3}
    transition = advance(machine.Observed(req, NOW, job=finished(job, condition_type), pods=[pod(job, "{}")]))
    assert transition is not None
    assert [note.reason for note in transition.notes] == reasons
