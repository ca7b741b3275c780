"""The kopf layer: watch OpsRequests, Approvals and Jobs; call the pure core; write status.

Run with ``opsgate operator`` (or ``kopf run -m opsgate.handlers``). Each handler reads the
body, gathers what the core needs, calls it, and writes the result through :mod:`opsgate.kube`
- status before kopf records a step as handled, so a crash replays the step instead of losing
it. Each handler owns one step of the phase order (:mod:`opsgate.controller.phases`):

* ``plan_request``: Pending → Denied | NeedsInfo | Answered | AwaitingApproval | Approved;
* ``tally_decisions`` / ``expire_when_due``: AwaitingApproval → Approved | Rejected | Expired;
* ``launch_job`` (+ ``resync_launch``): Approved → Running, one Job per plan;
* ``follow_job`` (+ ``resync_job``): Running → Succeeded | Failed.

Objects are created with deterministic names (``kube.ensure``), so a replayed event or a
restarted operator never makes a second Approval or Job. Retries go only through
``kopf.TemporaryError`` / ``kopf.PermanentError``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import socket
import time
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import kopf

from opsgate import catalog as catalog_module
from opsgate import kube, metrics, paths, resources
from opsgate.controller import approvals, conditions, jobs, phases, planning
from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.parsing import LlmParser
from opsgate.policy import PolicySet
from opsgate.resources import ApprovalState, Phase
from opsgate.settings import Settings

GROUP, VERSION = resources.GROUP, resources.VERSION
MESSAGE_LAUNCHING = "the plan is allowed; its Job is being created"
MESSAGE_DIGEST_MISMATCH = (
    "the approved digest {approved} is not the digest of the plan in status ({planned}); nothing was run"
)

log = logging.getLogger("opsgate")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --- start-up ---------------------------------------------------------------------------------


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Load the catalog, policies, parser and retriever once; keep kopf's bookkeeping ours."""
    own: Settings = memo.get("settings") or Settings.from_env()
    memo["settings"] = own
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our transitions are posted explicitly
    # With replicas, Events say which one acted (`kubectl get events -o wide`: SOURCE), not "kopf/dev".
    settings.posting.reporting_component = "opsgate"
    settings.posting.reporting_instance = own.instance or socket.gethostname()
    settings.peering.lifetime = 15  # a killed leader is replaced within ~15 s, not 60
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60

    kube.configure(own.kubeconfig)
    home = paths.home()
    catalog = catalog_module.load_catalog(home / "policies" / "actions.yaml")
    policies = PolicySet.load(home / "policies")
    memo["engine"] = planning.Engine(
        catalog=catalog,
        policies=policies,
        home=home,
        executor_image=own.executor_image,
        llm=_llm(own, catalog),
        context=_context(own),
        approval_ttl=own.approval_ttl,
    )
    memo["jobs"] = jobs.JobSettings(image=own.executor_image, service_account=own.executor_service_account)
    if own.metrics_port:
        metrics.serve(own.metrics_port)
    log.info(
        "OpsGate ready: %d catalog actions, %d policies (loaded in %.2fs), parser %s",
        len(catalog.entries),
        len(policies.rules),
        policies.load_seconds,
        "llm+rules" if own.ollama_host else "rules",
    )


def _llm(own: Settings, catalog: catalog_module.Catalog) -> LlmParser | None:
    if not own.ollama_host:
        return None  # the rule parser alone: the offline default
    from opsgate.adapters.ollama_parser import OllamaParser  # the network client, only when configured

    return OllamaParser(host=own.ollama_host, model=own.chat_model, catalog=catalog, timeout=own.llm_timeout_seconds)


def _context(own: Settings) -> planning.ContextSource:
    from opsgate.controller import context  # imports the embedder only when the operator starts

    return context.open_source(own)


@kopf.on.probe(id="catalog")
def catalog_probe(memo: kopf.Memo, **_: Any) -> int:
    engine: planning.Engine = memo["engine"]
    return len(engine.catalog.entries)


# --- the requester's recent history (rate limits) ---------------------------------------------


@kopf.index(GROUP, VERSION, resources.OPSREQUEST_PLURAL)
def requests_by_requester(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> Any:
    """requester -> (created, action) of each request that got a plan."""
    action = (status.get("plan") or {}).get("action")
    if not action or not spec.get("requester"):
        return None
    return {spec["requester"]: (meta.get("creationTimestamp"), action)}


@kopf.index("namespaces")
def labels_by_namespace(name: str, labels: kopf.Labels, **_: Any) -> Any:
    """namespace -> its labels (the tags policy reads opsgate.dev/project and cost-center there)."""
    return {name: dict(labels)}


async def _namespace_labels(index: kopf.Index[str, Any], namespace: str) -> dict[str, str]:
    for labels in index.get(namespace, []):
        return dict(labels)
    found = await kube.acall(kube.get_or_none, "v1", "Namespace", None, namespace)  # not indexed yet
    return dict(((found or {}).get("metadata") or {}).get("labels") or {})


# --- OpsRequest: plan, decide, and start what the decision allows -----------------------------


@kopf.on.create(GROUP, VERSION, resources.OPSREQUEST_PLURAL, id="plan")
async def plan_request(
    body: kopf.Body,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    index: kopf.Index[str, Any] = kwargs["requests_by_requester"]  # the kopf index above, by name
    engine: planning.Engine = memo["engine"]
    if phases.current(status.get("phase")) is not Phase.PENDING:
        if planning.context_pending(status):  # decided, but a restart came before its context
            await _record_context(body, engine)
        return  # already decided (an event replayed after a restart)
    started = time.monotonic()
    now = _now()
    planned = await planning.plan_request(
        body,
        engine=engine,
        now=now,
        history=planning.history(
            index.get(str(body["spec"].get("requester", "")), []), catalog=engine.catalog, now=now
        ),
        namespace_labels=await _namespace_labels(kwargs["labels_by_namespace"], meta["namespace"]),
    )
    metrics.RECONCILE_SECONDS.labels("plan").observe(time.monotonic() - started)
    status_update = dict(planned.status)
    extra: list[Condition] = []
    notes = list(planned.notes)
    if planned.approval is not None:
        await _ensure(planned.approval)
    if planned.run:
        extra.append(Condition.unknown(Type.EXECUTED, Reason.JOB_PENDING, MESSAGE_LAUNCHING))
    # Written by us, before kopf records the create as handled: a crash in between replays the
    # handler (which then finds the phase set) instead of losing the decision.
    writing = time.monotonic()
    await kube.acall(
        kube.patch_status,
        resources.API_VERSION,
        "OpsRequest",
        meta["namespace"],
        meta["name"],
        _status(status, meta, status_update, [*planned.conditions, *extra], now=now),
    )
    metrics.RECONCILE_SECONDS.labels("write").observe(time.monotonic() - writing)
    _event(body, notes)
    metrics.REQUESTS.labels(status_update["phase"], planned.decision or "none").inc()
    metrics.RECONCILE_SECONDS.labels("decision").observe(time.monotonic() - started)
    metrics.POLICY_SECONDS.observe(planned.timings.get("decide", 0.0))
    if engine.llm is not None and "parse" in planned.timings:
        fell_back = planned.status.get("intent", {}).get("parser") == "rules"
        metrics.LLM_SECONDS.labels("fallback" if fell_back else "ok").observe(planned.timings["parse"])
    if planned.context_pending:
        retrieving = time.monotonic()
        await _record_context(body, engine)
        metrics.RECONCILE_SECONDS.labels("context").observe(time.monotonic() - retrieving)


async def _record_context(body: Mapping[str, Any], engine: planning.Engine) -> None:
    """The context step: retrieve, then write ``status.context`` and ``ContextRetrieved``."""
    sources, condition = await planning.retrieve_context(body, engine=engine)

    async def step(request: dict[str, Any]) -> Transition | None:
        if not planning.context_pending(request.get("status") or {}):
            return None
        return Transition({"context": sources}, [condition])

    meta = body["metadata"]
    await _transition(meta["namespace"], meta["name"], meta["uid"], step)


def _event(obj: Mapping[str, Any], notes: Sequence[planning.Note]) -> None:
    """Post one Kubernetes Event about ``obj`` for a transition (kopf queues and sends it).

    A transition with several notes (allowed, then a Job created) is one Event, named after the
    last step: Events cost the API server as much as the writes they describe.
    """
    if not notes:
        return
    body = obj if isinstance(obj, kopf.Body) else kopf.Body(typing.cast(kopf.RawBody, dict(obj)))
    kind = "Warning" if any(n.type == "Warning" for n in notes) else "Normal"
    message = "; ".join(n.message for n in notes)
    kopf.event(body, type=kind, reason=notes[-1].reason, message=message)


def _status(
    status: Mapping[str, Any],
    meta: Mapping[str, Any],
    fields: Mapping[str, Any],
    updates: list[Condition],
    *,
    now: datetime.datetime,
) -> dict[str, Any]:
    generation = int(meta.get("generation", 1))
    return {
        **fields,
        "observedGeneration": generation,
        "conditions": conditions.apply(status.get("conditions"), updates, generation=generation, now=now),
    }


async def _ensure(manifest: Mapping[str, Any]) -> dict[str, Any]:
    try:
        obj, _created = await kube.acall(kube.ensure, manifest)
    except kube.ApiError as exc:
        if exc.status in (400, 403, 422):
            raise kopf.PermanentError(f"can't create {manifest['kind']}: {exc.message}") from exc
        raise kopf.TemporaryError(f"can't create {manifest['kind']} yet: {exc}", delay=5) from exc
    result: dict[str, Any] = obj
    return result


async def _launch(request: Mapping[str, Any], plan: Mapping[str, Any], memo: kopf.Memo) -> str:
    settings: jobs.JobSettings = memo["jobs"]
    namespace = request["metadata"]["namespace"]
    ready: set[str] = memo.setdefault("executor_namespaces", set())
    if namespace not in ready:
        await _ensure(jobs.service_account(namespace, settings))
        ready.add(namespace)
    configmap, job = jobs.build(request=request, plan=plan, settings=settings)
    await asyncio.gather(_ensure(configmap), _ensure(job))  # the pod waits for its volume if need be
    metrics.JOBS.labels("created").inc()
    return str(job["metadata"]["name"])


# --- Approved → Running: one Job per approved plan ----------------------------------------------


def _launchable(spec: Mapping[str, Any], status: Mapping[str, Any], **_: Any) -> bool:
    """Approved (by policy or by approvers), not a dry run, and no Job yet."""
    return bool(status.get("phase") == Phase.APPROVED.value and not spec.get("dryRun") and not status.get("job"))


@kopf.on.event(GROUP, VERSION, resources.OPSREQUEST_PLURAL, id="launch", when=_launchable)
async def launch_job(body: kopf.Body, memo: kopf.Memo, type: str | None, **_: Any) -> None:
    if type != "DELETED":
        await _launch_approved(body, memo)


@kopf.timer(
    GROUP, VERSION, resources.OPSREQUEST_PLURAL, id="resync-launch", interval=10, initial_delay=10, when=_launchable
)
async def resync_launch(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A safety net: an operator killed between writing Approved and creating the Job."""
    await _launch_approved(body, memo)


async def _launch_approved(body: Mapping[str, Any], memo: kopf.Memo) -> None:
    started = time.monotonic()

    async def step(request: dict[str, Any]) -> Transition | None:
        status = request.get("status") or {}
        plan = status.get("plan") or {}
        if not _launchable(request.get("spec") or {}, status) or not plan.get("digest"):
            return None  # launched already, or nothing to launch
        job_name = await _launch(request, plan, memo)
        message = f"Job {job_name} is running the plan"
        return Transition(
            {"phase": Phase.RUNNING.value, "job": {"name": job_name}},
            [Condition.true(Type.EXECUTED, Reason.JOB_CREATED, message), phases.ready(Phase.RUNNING, message)],
            [planning.Note("Normal", "JobCreated", f"Job {job_name} runs {plan.get('action')}")],
        )

    meta = body["metadata"]
    await _transition(meta["namespace"], meta["name"], meta["uid"], step)
    metrics.RECONCILE_SECONDS.labels("launch").observe(time.monotonic() - started)


# --- Approvals: tally decisions, expire, and move the request on ------------------------------


def _pending(status: kopf.Status, **_: Any) -> bool:
    return bool(status.get("state", ApprovalState.PENDING.value) == ApprovalState.PENDING.value)


@kopf.on.create(GROUP, VERSION, resources.APPROVAL_PLURAL, id="tally")
@kopf.on.update(GROUP, VERSION, resources.APPROVAL_PLURAL, id="tally-decisions", field="spec.decisions")
async def tally_decisions(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _settle(body, memo)


@kopf.daemon(GROUP, VERSION, resources.APPROVAL_PLURAL, id="expiry", when=_pending, cancellation_timeout=1)
async def expire_when_due(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """Sleep until ``expiresAt`` (across restarts too: daemons resume), then settle."""
    due = approvals.parse_time(body["spec"]["expiresAt"])
    while not stopped:
        remaining = (due - _now()).total_seconds()
        if remaining <= 0:
            await asyncio.shield(_settle(body, memo))  # finish even if the daemon is being stopped
            return
        await stopped.wait(min(remaining, 3600))


async def _settle(approval: Mapping[str, Any], memo: kopf.Memo) -> None:
    now = _now()
    meta = approval["metadata"]
    current = await kube.acall(kube.get_or_none, resources.API_VERSION, "Approval", meta["namespace"], meta["name"])
    if current is None:
        return
    tally = approvals.tally(current["spec"], now=now)
    old = current.get("status") or {}
    if old.get("state") not in (None, ApprovalState.PENDING.value):
        return  # settled before; decisions can't reopen it
    approval_status = {
        "state": tally.state.value,
        "approvalsReceived": len(tally.approvers),
        "approvers": list(tally.approvers),
        "observedGeneration": meta.get("generation", 1),
        "conditions": conditions.apply(
            old.get("conditions"),
            [_approval_condition(tally)],
            generation=int(current["metadata"].get("generation", 1)),
            now=now,
        ),
    }
    # The request first: writing the Approval's state ends the expiry daemon that may be running us.
    await _advance_request(current, tally, memo)
    await kube.acall(
        kube.patch_status, resources.API_VERSION, "Approval", meta["namespace"], meta["name"], approval_status
    )


def _approval_condition(tally: approvals.Tally) -> Condition:
    if tally.state is ApprovalState.APPROVED:
        return Condition.true(Type.READY, Reason.APPROVED, tally.message)
    if tally.state is ApprovalState.PENDING:
        return Condition.unknown(Type.READY, Reason.AWAITING_DECISION, tally.message)
    reason = Reason.REJECTED if tally.state is ApprovalState.REJECTED else Reason.EXPIRED
    return Condition.false(Type.READY, reason, tally.message)


@dataclasses.dataclass
class Transition:
    """What to write to an OpsRequest's status, and the events to post once it is written."""

    fields: dict[str, Any]
    updates: list[Condition]
    notes: list[planning.Note] = dataclasses.field(default_factory=list)


Step = Callable[[dict[str, Any]], Awaitable[Transition | None]]
MAX_CONFLICTS = 5


async def _transition(namespace: str, name: str, uid: str, step: Step) -> None:
    """Read the OpsRequest, let ``step`` decide (None: nothing to do), write with optimistic locking.

    On a conflict (another write came first) the request is read again and ``step`` decides
    again, so a decision is always taken on the current phase. Steps must be idempotent (they
    create objects with deterministic names).
    """
    for _attempt in range(MAX_CONFLICTS):
        request = await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
        if request is None or request["metadata"]["uid"] != uid:
            return  # the request is gone (what it owned is garbage-collected)
        change = await step(request)
        if change is None:
            return
        meta = request["metadata"]
        status = _status(request.get("status") or {}, meta, change.fields, change.updates, now=_now())
        try:
            await kube.acall(
                kube.request,
                "PATCH",
                kube.path(resources.API_VERSION, "OpsRequest", namespace, name) + "/status",
                body={"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": status},
                content_type="application/merge-patch+json",
            )
        except kube.ApiError as exc:
            if exc.conflict:
                continue
            raise
        _event(request, change.notes)
        if "phase" in change.fields:
            decision = ((request.get("status") or {}).get("policy") or {}).get("decision", "none")
            metrics.REQUESTS.labels(change.fields["phase"], decision).inc()
        return
    raise kopf.TemporaryError(f"OpsRequest {namespace}/{name} kept changing while it was updated", delay=1)


async def _advance_request(approval: Mapping[str, Any], tally: approvals.Tally, memo: kopf.Memo) -> None:
    spec = approval["spec"]
    ref = spec["opsRequestRef"]

    async def step(request: dict[str, Any]) -> Transition | None:
        status = request.get("status") or {}
        if phases.current(status.get("phase")) is not Phase.AWAITING_APPROVAL:
            return None  # the request moved on already (a replayed event); nothing to do
        approval_status = {
            **(status.get("approval") or {}),
            "name": approval["metadata"]["name"],
            "state": tally.state.value,
            "approvalsReceived": len(tally.approvers),
        }
        change = Transition({"approval": approval_status}, [])
        if tally.state is ApprovalState.APPROVED:
            plan = status.get("plan") or {}
            if plan.get("digest") != spec["planDigest"]:
                message = MESSAGE_DIGEST_MISMATCH.format(approved=spec["planDigest"], planned=plan.get("digest"))
                change.fields["phase"] = Phase.FAILED.value
                change.updates += [
                    Condition.false(Type.EXECUTED, Reason.JOB_FAILED, message),
                    phases.ready(Phase.FAILED, message),
                ]
                change.notes.append(planning.Note("Warning", "DigestMismatch", message))
                return change
            change.fields["phase"] = Phase.APPROVED.value  # the launcher takes it from here
            change.updates += [
                Condition.true(Type.APPROVED, Reason.APPROVED, tally.message),
                Condition.unknown(Type.EXECUTED, Reason.JOB_PENDING, MESSAGE_LAUNCHING),
                phases.ready(Phase.APPROVED, f"{tally.message}; {MESSAGE_LAUNCHING}"),
            ]
            change.notes.append(planning.Note("Normal", "Approved", tally.message))
        elif tally.state in (ApprovalState.REJECTED, ApprovalState.EXPIRED):
            target = Phase.REJECTED if tally.state is ApprovalState.REJECTED else Phase.EXPIRED
            reason = Reason.REJECTED if target is Phase.REJECTED else Reason.EXPIRED
            change.fields["phase"] = target.value
            change.updates += [
                Condition.false(Type.APPROVED, reason, tally.message),
                phases.ready(target, tally.message),
            ]
            change.notes.append(planning.Note("Warning", target.value, tally.message))
        else:
            change.updates.append(Condition.unknown(Type.APPROVED, Reason.AWAITING_DECISION, tally.message))
        return change

    await _transition(approval["metadata"]["namespace"], ref["name"], ref["uid"], step)


# --- Jobs: follow the execution to its end ----------------------------------------------------


@kopf.on.event("batch", "v1", "jobs", labels={jobs.LABEL_COMPONENT: "executor", approvals.LABEL_REQUEST: kopf.PRESENT})
async def follow_job(body: kopf.Body, type: str | None, **_: Any) -> None:
    if type == "DELETED" or not _finished(body):
        return
    owner = next((o for o in body["metadata"].get("ownerReferences", []) if o.get("kind") == "OpsRequest"), None)
    if owner is not None:
        await _record_outcome(body["metadata"]["namespace"], owner["name"], owner["uid"], body)


def _running(status: kopf.Status, **_: Any) -> bool:
    return bool(status.get("phase") == Phase.RUNNING.value)


@kopf.timer(GROUP, VERSION, resources.OPSREQUEST_PLURAL, id="resync-job", interval=10, initial_delay=10, when=_running)
async def resync_job(body: kopf.Body, status: kopf.Status, **_: Any) -> None:
    """A safety net for Job events the watch never delivered (e.g. a Job that finished while a
    restarted operator was replaying the request that created it)."""
    name = (status.get("job") or {}).get("name")
    meta = body["metadata"]
    job = await kube.acall(kube.get_or_none, "batch/v1", "Job", meta["namespace"], name) if name else None
    if job is not None and _finished(job):
        await _record_outcome(meta["namespace"], meta["name"], meta["uid"], job)


def _finished(job: Mapping[str, Any]) -> bool:
    done = {c.get("type") for c in (job.get("status") or {}).get("conditions", []) if c.get("status") == "True"}
    return bool(done & {"Complete", "Failed", "SuccessCriteriaMet", "FailureTarget"})


async def _record_outcome(namespace: str, name: str, uid: str, job: Mapping[str, Any]) -> None:
    """Move a Running request to Succeeded or Failed with what its Job reported."""
    job_name = job["metadata"]["name"]
    pods = await kube.acall(kube.list_objects, "v1", "Pod", namespace, labels=f"job-name={job_name}")
    outcome = jobs.outcome(job, pods)
    succeeded = outcome.state is jobs.JobState.SUCCEEDED
    target = Phase.SUCCEEDED if succeeded else Phase.FAILED
    executed = (
        Condition.true(Type.EXECUTED, Reason.JOB_SUCCEEDED, outcome.message)
        if succeeded
        else Condition.false(Type.EXECUTED, Reason.JOB_FAILED, outcome.message)
    )

    async def step(request: dict[str, Any]) -> Transition | None:
        status = request.get("status") or {}
        if (
            phases.current(status.get("phase")) is not Phase.RUNNING
            or (status.get("job") or {}).get("name") != job_name
        ):
            return None  # already recorded, or not this request's current Job
        note = planning.Note("Normal" if succeeded else "Warning", target.value, outcome.message)
        return Transition(
            {"phase": target.value, "result": outcome.result}, [executed, phases.ready(target, outcome.message)], [note]
        )

    await _transition(namespace, name, uid, step)
    metrics.JOBS.labels(target.value.lower()).inc()
