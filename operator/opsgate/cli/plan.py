"""``opsgate plan``: run a request through the controller's own planning, offline, and show it.

The text (or ``--intent`` JSON) becomes the OpsRequest the operator would see - namespace,
labels, requester, groups - and goes through :func:`opsgate.controller.planning.plan_request`,
the function the controller calls: a request is judged the same on a laptop and in the cluster
(a question is Answered, the namespace is the plan's namespace, context comes from the same
index). Prints a table, or with ``--json`` the contract other tools read:
``{request, intent, plan, needsInfo, policy: {decision, results}, approval, phase, messages}``
plus ``context`` when a RAG index exists and ``answer`` for questions. The ``plan`` object is
what ``opsgate execute --plan`` takes. Nothing here talks to a cluster.
"""

from __future__ import annotations

import asyncio
import datetime
import getpass
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from opsgate import catalog, paths
from opsgate.adapters import auditdb
from opsgate.cli.parse import semantic_matcher
from opsgate.controller import planning
from opsgate.plan import PlanError
from opsgate.policy import Decision, PolicyLoadError, PolicySet
from opsgate.settings import DEFAULT_EXECUTOR_IMAGE, Settings

ENV_EXECUTOR_IMAGE = "OPSGATE_EXECUTOR_IMAGE"
MESSAGE_NOTHING_TO_PLAN = "give the request TEXT or --intent JSON"
CLI_NAME = "opsgate-plan"  # the name and uid of the OpsRequest this command stands for


@click.command("plan")
@click.argument("text", required=False)
@click.option("--requester", default=getpass.getuser, show_default="current user", help="Who asks.")
@click.option("--groups", default="", help="The requester's groups, comma separated.")
@click.option("--extra", "extras", multiple=True, metavar="K=V", help="userInfo.extra claim (repeatable).")
@click.option("--namespace", default="default", show_default=True, help="Namespace of the OpsRequest.")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="Label on the OpsRequest (repeatable).")
@click.option("--namespace-label", "namespace_labels", multiple=True, metavar="K=V", help="Label on its namespace.")
@click.option("--annotation", "annotations", multiple=True, metavar="K=V", help="Annotation on the OpsRequest.")
@click.option("--environment", default=None, help="spec.environment (dev, staging, production).")
@click.option("--intent", "intent_json", default=None, metavar="JSON", help="A structured intent (spec.intent).")
@click.option("--dry-run", is_flag=True, help="spec.dryRun.")
@click.option("--history", "history", multiple=True, metavar="CLASS=N", help="Requests made in the last hour.")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Evaluate at this time (default: now).")
@click.option("--executor-image", envvar=ENV_EXECUTOR_IMAGE, default=DEFAULT_EXECUTOR_IMAGE, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the contract other tools read).")
def plan(
    *,
    text: str | None,
    requester: str,
    groups: str,
    extras: Sequence[str],
    namespace: str,
    labels: Sequence[str],
    namespace_labels: Sequence[str],
    annotations: Sequence[str],
    environment: str | None,
    intent_json: str | None,
    dry_run: bool,
    history: Sequence[str],
    now_text: str | None,
    executor_image: str,
    as_json: bool,
) -> None:
    """Decide TEXT offline: intent, plan, every policy result and the decision."""
    if not text and not intent_json:
        raise click.UsageError(MESSAGE_NOTHING_TO_PLAN)
    extra: dict[str, list[str]] = {}
    for key, value in _pairs(extras, option="--extra").items():
        extra.setdefault(key, []).extend(v for v in value.split(",") if v)
    spec: dict[str, Any] = {
        "request": text or f"(structured intent) {intent_json}",
        "requester": requester,
        "requesterGroups": list(_split(groups)),
        "requesterExtra": extra,
        "environment": environment,
        "dryRun": dry_run,
        "intent": _structured_intent(intent_json) if intent_json else None,
    }
    body = {
        "apiVersion": "opsgate.dev/v1alpha1",
        "kind": "OpsRequest",
        "metadata": {
            "name": CLI_NAME,
            "namespace": namespace,
            "uid": CLI_NAME,
            "labels": _pairs(labels, option="--label"),
            "annotations": _pairs(annotations, option="--annotation"),
        },
        "spec": {k: v for k, v in spec.items() if v is not None},
    }
    try:
        planned, context = asyncio.run(
            _plan(
                body,
                executor_image=executor_image,
                now=_now(now_text),
                history=_history(history),
                namespace_labels=_pairs(namespace_labels, option="--namespace-label"),
            )
        )
    except (paths.HomeNotFoundError, catalog.CatalogError, PolicyLoadError, PlanError) as exc:
        raise click.ClickException(str(exc)) from exc
    document = contract(planned, context_sources=context)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False) if as_json else render(planned))


async def decide_offline(
    body: dict[str, Any],
    *,
    executor_image: str = DEFAULT_EXECUTOR_IMAGE,
    now: datetime.datetime,
    history: dict[str, int] | None = None,
    namespace_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON of ``opsgate plan --json`` for the OpsRequest ``body``, decided offline (the MCP ``plan`` tool)."""
    planned, context = await _plan(
        body, executor_image=executor_image, now=now, history=history or {}, namespace_labels=namespace_labels or {}
    )
    return contract(planned, context_sources=context)


async def _plan(
    body: dict[str, Any],
    *,
    executor_image: str,
    now: datetime.datetime,
    history: dict[str, int],
    namespace_labels: dict[str, str],
) -> tuple[planning.Planned, list[dict[str, Any]] | None]:
    """Plan as the controller does, then retrieve context the way its context step does."""
    source = _context_source()
    loaded, note = await auditdb.with_learning(catalog.load_catalog(paths.catalog_file()), auditdb.database_url())
    if note:
        click.echo(f"opsgate: {note}", err=True)  # parsed as the operator would without its learned phrases
    engine = planning.Engine(
        catalog=loaded,
        policies=PolicySet.load(paths.policies_dir()),
        home=paths.home(),
        executor_image=executor_image,
        context=source,
        # as the operator reads it: the matcher only when OPSGATE_SEMANTIC_MATCHER says so
        matcher=semantic_matcher(loaded) if Settings.from_env().semantic_matcher else None,
    )
    planned = await planning.plan_request(
        body, engine=engine, now=now, history=history, namespace_labels=namespace_labels
    )
    if source is None:
        return planned, None
    if planned.context_pending:
        sources, _condition = await planning.retrieve_context(body, engine=engine)
        return planned, sources
    return planned, list(planned.status.get("context") or [])


def _context_source() -> planning.ContextSource | None:
    """The operator's context source when an index exists (same QDRANT_PATH / QDRANT_URL), else None."""
    from opsgate.rag import store  # the index is optional: without one, nothing heavy is imported

    settings = Settings.from_env()
    folder = Path(settings.qdrant_path).expanduser() if settings.qdrant_path else store.default_path()
    if not settings.qdrant_url and not folder.is_dir():
        return None
    from opsgate.adapters import rag_context

    return rag_context.open_source(settings)


def contract(planned: planning.Planned, *, context_sources: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The JSON ``opsgate plan --json`` prints."""
    outcome = planned.outcome
    status = planned.status
    document: dict[str, Any] = {
        "request": outcome.text if outcome is not None else None,
        "intent": _intent(status.get("intent")),
        "plan": planned.plan,
        "needsInfo": (
            {"message": outcome.needs_info.message, "fields": list(outcome.needs_info.fields)}
            if outcome is not None and outcome.needs_info is not None
            else None
        ),
        "policy": outcome.policy.to_status() if outcome is not None else {"decision": None, "results": []},
        "approval": (
            outcome.policy.approval.model_dump(mode="json", by_alias=True)
            if outcome is not None and outcome.decision is Decision.APPROVAL_REQUIRED
            else None
        ),
        "phase": planned.phase.value,
        "messages": list(outcome.messages) if outcome is not None else [],
    }
    if "answer" in status:
        document["answer"] = status["answer"]
    if context_sources is not None:
        document["context"] = context_sources
    return document


def _intent(status_intent: dict[str, Any] | None) -> dict[str, Any]:
    keys = ("category", "action", "resource_type", "entities", "confidence", "parser")
    intent = status_intent or {}
    return {key: intent.get(key) for key in keys}


def render(planned: planning.Planned) -> str:
    """The human view: what was understood, what would run, and a table of every policy result."""
    outcome = planned.outcome
    if outcome is None:  # a question
        return "\n".join([f"Question  answered -> {planned.phase.value}", "", str(planned.status.get("answer", ""))])
    lines = [f"Request   {outcome.text}"]
    intent = outcome.intent
    if intent.recognised:
        entities = " ".join(f"{k}={v}" for k, v in sorted(intent.entities.items()))
        lines.append(f"Intent    {intent.key}  ({intent.parser.value}, confidence {intent.confidence:.2f})  {entities}")
    else:
        lines.append("Intent    (not recognised)")
    if outcome.plan is not None:
        parameters = " ".join(f"{k}={v}" for k, v in sorted(outcome.plan.parameters.items()))
        lines.append(f"Plan      {outcome.plan.action}  {parameters}")
        lines.append(f"Digest    {outcome.plan.digest}")
    decision = f"Decision  {outcome.decision.value} -> {planned.phase.value}"
    if outcome.plan is None and outcome.decision is not Decision.DENIED:
        decision = f"Decision  none: no plan to judge -> {planned.phase.value}"
    elif outcome.decision is Decision.APPROVAL_REQUIRED:
        approval = outcome.policy.approval
        decision += f" ({approval.required_approvals} approval(s) from {', '.join(approval.approver_groups)})"
    lines.append(decision)
    lines.extend(f"          {message}" for message in outcome.messages)
    rows = [("POLICY", "RESULT", "SEVERITY", "CATEGORY", "MESSAGE")]
    rows += [(r.policy, r.result.value, r.severity.value, r.category.value, r.message) for r in outcome.policy.results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines.append("")
    lines.extend("  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows)
    return "\n".join(lines)


def _structured_intent(raw: str) -> dict[str, Any]:
    """``--intent`` JSON as ``spec.intent``: {category, action, resource_type, entities}."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not a valid intent: {exc}", param_hint="--intent") from exc
    keys = ("category", "action", "resource_type")
    if not isinstance(document, dict) or not all(isinstance(document.get(k), str) for k in keys):
        raise click.BadParameter(
            "not a valid intent: it names category, action and resource_type", param_hint="--intent"
        )
    entities = document.get("entities") or {}
    if not isinstance(entities, dict):
        raise click.BadParameter("not a valid intent: entities must be an object", param_hint="--intent")
    return {**{k: document[k] for k in keys}, "entities": entities}


def _now(raw: str | None) -> datetime.datetime:
    if raw is None:
        return datetime.datetime.now(datetime.UTC)
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise click.BadParameter(f"{raw!r} is not an ISO 8601 time", param_hint="--now") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _history(raw: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, value in _pairs(raw, option="--history").items():
        if not value.isdigit():
            raise click.BadParameter(f"{key}={value}: the count must be a whole number", param_hint="--history")
        counts[key] = int(value)
    return counts


def _pairs(raw: Sequence[str], *, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not K=V", param_hint=option)
        pairs[key] = value
    return pairs


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
