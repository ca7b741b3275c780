"""Planning one new OpsRequest: from its body to the status to write and the objects to make.

Gather, then evaluate: the handler gathers the body, the namespace labels, the requester's
recent history and ``now``; this module runs the pipeline (redact → retrieve → parse → plan →
policy, :mod:`opsgate.pipeline`) and turns its outcome into a :class:`Planned` - status fields,
conditions, an Approval manifest if one is needed, whether to launch the Job, and the events to
post. It makes no API call and imports no Kubernetes client; the LLM and the retriever are
injected (and may be absent: the rule parser and "no context" are the offline defaults).
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from opsgate import parsing, pipeline, redact
from opsgate.alerts import autonomy, routes
from opsgate.catalog import Catalog
from opsgate.controller import approvals, phases
from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.intent import Intent, Parser
from opsgate.plan import RequestContext, Requester
from opsgate.policy import Decision, PolicyCategory, PolicyResult, PolicySet, Severity
from opsgate.policy import Outcome as PolicyOutcome
from opsgate.resources import OpsRequestSpec, Phase

MESSAGE_QUESTION = "answered from the documentation: {count} source(s)"
MESSAGE_NO_CONTEXT = "no context retrieved: {reason}"
MESSAGE_RETRIEVING = "retrieving the runbooks, playbooks and policies relevant to this request"
MESSAGE_DRY_RUN_ALLOWED = "dry run: the plan is allowed; nothing was run"
MESSAGE_DRY_RUN_APPROVAL = "dry run: the plan would need {count} approval(s) from {groups}; no Approval was created"
MESSAGE_AWAITING = "waiting for {count} approval(s) from {groups} on Approval {name}"
MESSAGE_LAUNCHING = "the plan is allowed; its Job is being created"
MESSAGE_AUTONOMOUS = (
    "route {route} runs without approval: {count} approved success(es) since its last failure "
    "(promoted after {after}; alert-route-autonomy allows it)"
)
MESSAGE_WITHHELD = (
    "route {route} has {count} approved success(es) (promoteAfter {after}) but policy still asks for approval"
)


@dataclasses.dataclass(frozen=True)
class Retrieved:
    """What a context source found for one query (an empty result is not an error)."""

    sources: tuple[dict[str, Any], ...] = ()  # [{source, score}] for status.context
    block: str = ""  # fenced, size-bounded context for the LLM prompt
    error: str | None = None  # why nothing could be retrieved, for the condition
    answer: str = ""  # an answer built from the passages, for questions


@dataclasses.dataclass(frozen=True)
class AccessQuestion:
    """May ``user`` (with ``groups``/``extra``) execute catalog action ``action`` in ``namespace``?"""

    user: str
    groups: tuple[str, ...]
    extra: Mapping[str, tuple[str, ...]]
    action: str
    namespace: str


@dataclasses.dataclass(frozen=True)
class AccessAnswer:
    allowed: bool
    reason: str = ""  # the authorizer's own words, if it gave any


# Who may run which action is Kubernetes RBAC: verb `execute` on `actions.opsgate.dev/<key>`
# (a SubjectAccessReview, asked by the operator; see opsgate.kube.access_review).
Authorizer = Callable[[AccessQuestion], Awaitable[AccessAnswer]]
POLICY_RBAC = "rbac-execute"
MESSAGE_RBAC_DENIED = (
    "{user} may not execute {action} in namespace {namespace}: Kubernetes RBAC grants no verb execute on "
    "actions.opsgate.dev/{action} there{why}"
)


MESSAGE_NO_GROUPS = (
    "; the request states no spec.requesterGroups, so only bindings to the user themself count "
    "(state your groups, as the API server holds them to your real ones, to have group bindings seen)"
)


class ContextSource(Protocol):
    """Retrieval-augmented context (RAG); see :mod:`opsgate.rag` for the real one."""

    async def retrieve(self, query: str, *, question: bool) -> Retrieved: ...

    async def retrieve_many(self, queries: Sequence[str]) -> list[Retrieved]:
        """Context for several requests at once (no answers written): one batch for the model."""
        ...


@dataclasses.dataclass(frozen=True)
class Engine:
    """Everything planning needs that is loaded once at start-up."""

    catalog: Catalog
    policies: PolicySet
    home: Path
    executor_image: str
    llm: parsing.LlmParser | None = None
    matcher: parsing.Matcher | None = None  # the semantic matcher over the catalog's examples
    context: ContextSource | None = None
    approval_ttl: datetime.timedelta = approvals.DEFAULT_TTL
    authorizer: Authorizer | None = None  # None: not asked (offline `opsgate plan`)
    routes: routes.RouteSet | None = None  # alert routes (policies/alert-routes.yaml), if any


@dataclasses.dataclass(frozen=True)
class Note:
    """A Kubernetes Event to post: type Normal|Warning, a CamelCase reason, a message."""

    type: str
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Planned:
    phase: Phase
    status: dict[str, Any]  # status fields, without conditions
    conditions: tuple[Condition, ...]
    approval: dict[str, Any] | None  # the Approval to create, if the decision is ApprovalRequired
    run: bool  # launch the Job now (Allowed, not informational, not a dry run)
    plan: dict[str, Any] | None  # status.plan, the input of the Job
    notes: tuple[Note, ...]
    decision: str = ""
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> seconds, for metrics
    context_pending: bool = False  # retrieve_context still has to run (after the decision is written)
    outcome: pipeline.Outcome | None = None  # the pipeline's judgement (None for a question)


async def plan_request(
    body: Mapping[str, Any],
    *,
    engine: Engine,
    now: datetime.datetime,
    history: Mapping[str, int],
    namespace_labels: Mapping[str, str],
    standing: autonomy.Standing | None = None,
) -> Planned:
    """Decide what happens to a new OpsRequest (see the module docstring).

    ``standing`` is the record of the alert route the request counts in (the receiver's requests
    only): it reaches policy as ``history`` and lands in ``status.autonomy``.
    """
    if standing is not None:
        history = {**history, **standing.history()}
    spec = OpsRequestSpec.model_validate(body.get("spec", {}))
    meta = body["metadata"]
    clean_text = redact.redact(spec.request)
    question = spec.intent is None and parsing.is_question(clean_text)

    # The rule parser needs no context: then retrieval is a step of its own after the decision
    # (see retrieve_context), off the path to it. Questions and the LLM's prompt need it first.
    deferred = not question and engine.llm is None and engine.context is not None
    clock = time.perf_counter()
    retrieved = Retrieved() if deferred else await _retrieve(engine, clean_text, question=question)
    timings = {"retrieve": time.perf_counter() - clock}
    context_condition = (
        Condition.unknown(Type.CONTEXT_RETRIEVED, Reason.RETRIEVING, MESSAGE_RETRIEVING)
        if deferred
        else _context_condition(retrieved, enabled=engine.context is not None)
    )
    if question:
        return dataclasses.replace(_answered(retrieved, context_condition), timings=timings)

    clock = time.perf_counter()
    intent = await _intent(engine, spec, clean_text, context_block=retrieved.block)
    timings["parse"] = time.perf_counter() - clock
    context = RequestContext(
        text=clean_text,
        requester=Requester(
            username=spec.requester,
            groups=tuple(spec.requester_groups or ()),
            extra=dict(spec.requester_extra or {}),
        ),
        namespace=meta["namespace"],
        environment=spec.environment.value if spec.environment else None,
        labels=dict(meta.get("labels") or {}),
        namespace_labels=dict(namespace_labels),
        annotations=dict(meta.get("annotations") or {}),
        dry_run=spec.dry_run,
        name=meta["name"],
    )
    clock = time.perf_counter()
    outcome = pipeline.decide(
        text=spec.request,
        intent=intent,
        catalog=engine.catalog,
        policies=engine.policies,
        context=context,
        now=now,
        history=history,
        home=engine.home,
        executor_image=engine.executor_image,
        parse=None,
    )
    timings["decide"] = time.perf_counter() - clock
    if outcome.plan is not None and engine.authorizer is not None and outcome.decision is not Decision.DENIED:
        # RBAC can only turn a decision into a denial: a request the policies denied is not asked about
        outcome = await _authorize(engine.authorizer, outcome, context)
    planned = _decided(
        body,
        outcome,
        engine=engine,
        now=now,
        dry_run=spec.dry_run,
        retrieved=retrieved,
        context_condition=context_condition,
    )
    if deferred:
        del planned.status["context"]  # written by retrieve_context's step
    if standing is not None:
        planned = _with_standing(planned, standing)
    return dataclasses.replace(planned, timings=timings, context_pending=deferred)


def _with_standing(planned: Planned, standing: autonomy.Standing) -> Planned:
    """Show the route's record in status, and say so in an Event when it decided something."""
    autonomous = planned.phase is Phase.APPROVED and standing.eligible
    status = {**planned.status, "autonomy": {**standing.to_status(), "autonomous": autonomous}}
    notes = list(planned.notes)
    words = {"route": standing.route, "count": standing.approved_successes, "after": standing.promote_after}
    if autonomous:
        notes.append(Note("Normal", "RouteAutonomous", MESSAGE_AUTONOMOUS.format(**words)))
    elif standing.eligible and planned.phase is Phase.AWAITING_APPROVAL:
        notes.append(Note("Normal", "RouteAutonomyWithheld", MESSAGE_WITHHELD.format(**words)))
    return dataclasses.replace(planned, status=status, notes=tuple(notes))


async def _authorize(authorizer: Authorizer, outcome: pipeline.Outcome, context: RequestContext) -> pipeline.Outcome:
    """Ask whether the requester may execute the planned action in its target namespace."""
    assert outcome.plan is not None
    target = str(outcome.plan.parameters.get("namespace") or context.namespace)
    question = AccessQuestion(
        user=context.requester.username,
        groups=tuple(context.requester.groups),
        extra={k: tuple(v) for k, v in context.requester.extra.items()},
        action=outcome.plan.action,
        namespace=target,
    )
    answer = await authorizer(question)
    if answer.allowed:
        return outcome
    why = f" ({answer.reason})" if answer.reason else ""
    if not question.groups:
        why += MESSAGE_NO_GROUPS
    message = MESSAGE_RBAC_DENIED.format(user=question.user, action=question.action, namespace=target, why=why)
    result = PolicyResult(
        policy=POLICY_RBAC,
        result=PolicyOutcome.DENY,
        severity=Severity.HIGH,
        category=PolicyCategory.SECURITY,
        message=message,
    )
    return pipeline.with_result(outcome, result)


async def retrieve_context(body: Mapping[str, Any], *, engine: Engine) -> tuple[list[dict[str, Any]], Condition]:
    """The context step of a request planned without it: ``status.context`` and its condition."""
    return (await retrieve_contexts([body], engine=engine))[0]


async def retrieve_contexts(
    bodies: Sequence[Mapping[str, Any]], *, engine: Engine
) -> list[tuple[list[dict[str, Any]], Condition]]:
    """``retrieve_context`` for several requests, retrieved in one batch."""
    texts = [redact.redact(str((body.get("spec") or {}).get("request", ""))) for body in bodies]
    if engine.context is None:
        found = [Retrieved(error="no retriever is configured")] * len(texts)
    else:
        try:
            found = await engine.context.retrieve_many(texts)
        except Exception as exc:  # retrieval must never block a request
            found = [Retrieved(error=f"retrieval failed: {type(exc).__name__}: {exc}")] * len(texts)
    enabled = engine.context is not None
    return [(list(retrieved.sources), _context_condition(retrieved, enabled=enabled)) for retrieved in found]


def context_pending(status: Mapping[str, Any]) -> bool:
    """True while a request's context step has not written its result yet."""
    return any(
        c.get("type") == Type.CONTEXT_RETRIEVED and c.get("reason") == Reason.RETRIEVING
        for c in status.get("conditions") or ()
    )


RATE_WINDOW = datetime.timedelta(hours=1)


def history(requests: Iterable[tuple[str | None, str]], *, catalog: Catalog, now: datetime.datetime) -> dict[str, int]:
    """How many of a requester's ``(created, action)`` requests of the last hour fall in each rate class."""
    counts: dict[str, int] = {}
    for created, action in requests:
        entry = catalog.get(action)
        if entry is None or not created or approvals.parse_time(created) < now - RATE_WINDOW:
            continue
        counts[entry.rate_class.value] = counts.get(entry.rate_class.value, 0) + 1
    return counts


async def _retrieve(engine: Engine, text: str, *, question: bool) -> Retrieved:
    if engine.context is None:
        return Retrieved(error="no retriever is configured")
    try:
        return await engine.context.retrieve(text, question=question)
    except Exception as exc:  # retrieval must never block a request
        return Retrieved(error=f"retrieval failed: {type(exc).__name__}: {exc}")


def _context_condition(retrieved: Retrieved, *, enabled: bool) -> Condition:
    if retrieved.error:
        reason = Reason.RETRIEVAL_FAILED if enabled else Reason.NO_CONTEXT
        return Condition.false(Type.CONTEXT_RETRIEVED, reason, MESSAGE_NO_CONTEXT.format(reason=retrieved.error))
    if not retrieved.sources:
        return Condition.false(Type.CONTEXT_RETRIEVED, Reason.NO_CONTEXT, "no source was relevant enough")
    top = ", ".join(str(s["source"]) for s in retrieved.sources[:3])
    return Condition.true(Type.CONTEXT_RETRIEVED, Reason.RETRIEVED, f"{len(retrieved.sources)} source(s): {top}")


async def _intent(engine: Engine, spec: OpsRequestSpec, clean_text: str, *, context_block: str) -> Intent:
    if spec.intent is not None:
        return Intent(
            category=spec.intent.category,
            action=spec.intent.action,
            resource_type=spec.intent.resource_type,
            entities=dict(spec.intent.entities),
            confidence=1.0,  # stated by the requester, not guessed
            parser=Parser.SPEC,
        )
    return await parsing.parse_request(
        clean_text, catalog=engine.catalog, llm=engine.llm, context=context_block or None, matcher=engine.matcher
    )


def _answered(retrieved: Retrieved, context_condition: Condition) -> Planned:
    answer = retrieved.answer or (
        "I could not find this in the documentation OpsGate indexes."
        if not retrieved.error
        else f"I could not look this up: {retrieved.error}."
    )
    message = MESSAGE_QUESTION.format(count=len(retrieved.sources))
    return Planned(
        phase=Phase.ANSWERED,
        status={"phase": Phase.ANSWERED.value, "answer": answer, "context": list(retrieved.sources)},
        conditions=(
            Condition.true(Type.INTENT_RESOLVED, Reason.PARSED, "a question: answered, nothing runs"),
            context_condition,
            Condition.false(Type.EXECUTED, Reason.NOTHING_TO_RUN, "a question runs nothing"),
            phases.ready(Phase.ANSWERED, message),
        ),
        approval=None,
        run=False,
        plan=None,
        notes=(Note("Normal", "Answered", message),),
    )


def _decided(
    body: Mapping[str, Any],
    outcome: pipeline.Outcome,
    *,
    engine: Engine,
    now: datetime.datetime,
    dry_run: bool,
    retrieved: Retrieved,
    context_condition: Condition,
) -> Planned:
    phase = Phase(outcome.phase.value)
    plan = outcome.plan.to_status() if outcome.plan is not None else None
    report = outcome.policy
    summary = "; ".join(outcome.messages) or f"all {len(report.results)} policies pass"
    status: dict[str, Any] = {
        "phase": phase.value,
        "intent": _intent_status(outcome.intent),
        "plan": plan,
        "context": list(retrieved.sources),
    }
    if outcome.plan is not None or report.decision is Decision.DENIED:
        status["policy"] = report.to_status()  # without a plan, only a denial is a decision
    conditions: list[Condition] = [
        _intent_condition(outcome),
        context_condition,
        _policy_condition(report.decision, summary, planned=outcome.plan is not None),
    ]
    notes: list[Note] = []
    approval: dict[str, Any] | None = None
    run = False
    ready_message = summary

    if phase is Phase.AWAITING_APPROVAL and outcome.plan is not None:
        groups = ", ".join(report.approval.approver_groups)
        count = report.approval.required_approvals
        if dry_run:
            ready_message = MESSAGE_DRY_RUN_APPROVAL.format(count=count, groups=groups)
            conditions.append(Condition.false(Type.EXECUTED, Reason.DRY_RUN, ready_message))
        else:
            entry = engine.catalog.entries[outcome.plan.action]
            approval = approvals.build(
                request=body,
                plan=plan or {},
                policy_lines=[f"{r.policy}: {r.message}" for r in report.results if r.result.value != "pass"],
                required_approvals=count,
                approver_groups=report.approval.approver_groups,
                description=entry.description,
                now=now,
                ttl=engine.approval_ttl,
                warnings=outcome.warnings,
            )
            name = approval["metadata"]["name"]
            ready_message = MESSAGE_AWAITING.format(count=count, groups=groups, name=name)
            status["approval"] = {
                "name": name,
                "state": "Pending",
                "approvalsReceived": 0,
                "requiredApprovals": count,
                "approverGroups": list(approval["spec"]["approverGroups"]),
            }
            conditions.append(Condition.unknown(Type.APPROVED, Reason.AWAITING_DECISION, ready_message))
        notes.append(Note("Normal", "AwaitingApproval", ready_message))
    elif phase is Phase.APPROVED:
        conditions.append(Condition.true(Type.APPROVED, Reason.NOT_REQUIRED, "no policy asks for an approval"))
        if dry_run:
            ready_message = MESSAGE_DRY_RUN_ALLOWED
            conditions.append(Condition.false(Type.EXECUTED, Reason.DRY_RUN, ready_message))
        else:
            run = True
        notes.append(Note("Normal", "Allowed", f"{outcome.plan.action if outcome.plan else ''}: {summary}"))
    elif phase is Phase.ANSWERED:
        answer = (
            retrieved.answer or f"{outcome.plan.action if outcome.plan else ''}: nothing runs for a read-only query"
        )
        status["answer"] = _informational_answer(plan or {}, answer)
        conditions.append(Condition.false(Type.EXECUTED, Reason.NOTHING_TO_RUN, "a read-only query runs nothing"))
        ready_message = "answered; nothing runs"
        notes.append(Note("Normal", "Answered", ready_message))
    elif phase is Phase.DENIED:
        notes.append(Note("Warning", "Denied", summary))
    else:
        notes.append(Note("Warning", "NeedsInfo", summary))

    if dry_run and phase in (Phase.APPROVED, Phase.AWAITING_APPROVAL):
        conditions.append(Condition.true(Type.READY, Reason.DRY_RUN, ready_message))
    else:
        conditions.append(phases.ready(phase, ready_message))
    return Planned(
        phase=phase,
        status=status,
        conditions=tuple(conditions),
        approval=approval,
        run=run,
        plan=plan,
        notes=tuple(notes),
        decision=report.decision.value,
        outcome=outcome,
    )


def _intent_status(intent: Intent) -> dict[str, Any]:
    return {**intent.contract(), "parser": intent.parser.value, "notes": list(intent.notes)}


def _intent_condition(outcome: pipeline.Outcome) -> Condition:
    intent = outcome.intent
    notes = f" ({'; '.join(intent.notes)})" if intent.notes else ""
    if intent.declined is not None:
        return Condition.false(Type.INTENT_RESOLVED, Reason.DECLINED, intent.declined + notes)
    if not intent.recognised or (outcome.plan is None and outcome.needs_info is not None and not intent.key):
        message = outcome.needs_info.message if outcome.needs_info else "unrecognised"
        return Condition.false(Type.INTENT_RESOLVED, Reason.UNRECOGNISED, message + notes)
    if outcome.plan is None and outcome.needs_info is not None:
        return Condition.false(Type.INTENT_RESOLVED, Reason.INVALID_PARAMETERS, outcome.needs_info.message + notes)
    reason = Reason.FROM_SPEC if intent.parser is Parser.SPEC else Reason.PARSED
    message = f"{intent.key} (parser {intent.parser.value}, confidence {intent.confidence:.2f}){notes}"
    return Condition.true(Type.INTENT_RESOLVED, reason, message)


def _policy_condition(decision: Decision, summary: str, *, planned: bool) -> Condition:
    if not planned and decision is not Decision.DENIED:
        # The checks that need no plan (secrets in the text) passed; that is not an "Allowed".
        return Condition.false(Type.POLICY_EVALUATED, Reason.NO_PLAN, f"no plan to judge: {summary}")
    reason = {
        Decision.ALLOWED: Reason.ALLOWED,
        Decision.DENIED: Reason.DENIED,
        Decision.APPROVAL_REQUIRED: Reason.APPROVAL_REQUIRED,
    }[decision]
    return Condition.true(Type.POLICY_EVALUATED, reason, f"{decision.value}: {summary}")


def _informational_answer(plan: Mapping[str, Any], passages: str) -> str:
    parameters = ", ".join(f"{k}={v}" for k, v in sorted((plan.get("parameters") or {}).items()))
    return (
        f"{plan.get('action', '')} ({parameters}) is a read-only query: OpsGate answers it in status "
        f"and runs no Job.\n{passages}"
    ).strip()
