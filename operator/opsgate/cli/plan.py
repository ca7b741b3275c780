"""``opsgate plan``: run a request through the pipeline offline and show the decision.

Parses the text (rule parser) or takes ``--intent`` JSON, builds the plan, evaluates the policy
set and prints every result — as a table, or with ``--json`` as the contract other tools read:
``{request, intent, plan, needsInfo, policy: {decision, results}, approval, phase, messages}``
plus ``context`` when a RAG index exists. The ``plan`` object is what ``opsgate execute --plan``
takes. Nothing here talks to a cluster.
"""

from __future__ import annotations

import datetime
import getpass
import importlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import click
import pydantic

from opsgate import __version__, catalog, paths, pipeline
from opsgate.intent import Intent, Parser
from opsgate.plan import PlanError, RequestContext, Requester
from opsgate.policy import Decision, PolicyLoadError, PolicySet

ENV_EXECUTOR_IMAGE = "OPSGATE_EXECUTOR_IMAGE"
DEFAULT_EXECUTOR_IMAGE = f"ghcr.io/opsgate/opsgate:{__version__}"
MESSAGE_NO_PARSER = "the rule parser (opsgate.parsing.rules) is not available here; give --intent JSON"
MESSAGE_NOTHING_TO_PLAN = "give the request TEXT or --intent JSON"


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
    history: Sequence[str],
    now_text: str | None,
    executor_image: str,
    as_json: bool,
) -> None:
    """Decide TEXT offline: intent, plan, every policy result and the decision."""
    if not text and not intent_json:
        raise click.UsageError(MESSAGE_NOTHING_TO_PLAN)
    try:
        home = paths.home()
        actions = catalog.load_catalog(paths.catalog_file())
        policies = PolicySet.load(paths.policies_dir())
    except (paths.HomeNotFoundError, catalog.CatalogError, PolicyLoadError) as exc:
        raise click.ClickException(str(exc)) from exc
    extra: dict[str, list[str]] = {}
    for key, value in _pairs(extras, option="--extra").items():
        extra.setdefault(key, []).extend(v for v in value.split(",") if v)
    context = RequestContext(
        text=text or "",
        requester=Requester(username=requester, groups=_split(groups), extra=extra),
        namespace=namespace,
        environment=environment,
        labels=_pairs(labels, option="--label"),
        namespace_labels=_pairs(namespace_labels, option="--namespace-label"),
        annotations=_pairs(annotations, option="--annotation"),
    )
    try:
        outcome = pipeline.decide(
            text=text,
            intent=_structured_intent(intent_json) if intent_json else None,
            catalog=actions,
            policies=policies,
            context=context,
            now=_now(now_text),
            history=_history(history),
            home=home,
            executor_image=executor_image,
            parse=None if intent_json else _rule_parser(actions),
        )
    except PlanError as exc:
        raise click.ClickException(str(exc)) from exc
    document = contract(outcome, context_sources=retrieve_context(outcome.text))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False) if as_json else render(outcome))


def contract(outcome: pipeline.Outcome, *, context_sources: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The JSON ``opsgate plan --json`` prints."""
    document: dict[str, Any] = {
        "request": outcome.text,
        "intent": {**outcome.intent.contract(), "parser": outcome.intent.parser.value},
        "plan": outcome.plan.to_status() if outcome.plan is not None else None,
        "needsInfo": (
            {"message": outcome.needs_info.message, "fields": list(outcome.needs_info.fields)}
            if outcome.needs_info is not None
            else None
        ),
        "policy": outcome.policy.to_status(),
        "approval": (
            outcome.policy.approval.model_dump(mode="json", by_alias=True)
            if outcome.decision is Decision.APPROVAL_REQUIRED
            else None
        ),
        "phase": outcome.phase.value,
        "messages": list(outcome.messages),
    }
    if context_sources is not None:
        document["context"] = context_sources
    return document


def retrieve_context(text: str) -> list[dict[str, Any]] | None:
    """The RAG sources ``[{source, score}]`` for ``text``, or None when no index exists.

    The hook for retrieval (issue 6): it plugs in here, and ``--json`` then carries ``context``.
    """
    return None


def render(outcome: pipeline.Outcome) -> str:
    """The human view: what was understood, what would run, and a table of every policy result."""
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
    decision = f"Decision  {outcome.decision.value} -> {outcome.phase.value}"
    if outcome.plan is None and outcome.decision is not Decision.DENIED:
        decision = f"Decision  none: no plan to judge -> {outcome.phase.value}"
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


def _structured_intent(raw: str) -> Intent:
    try:
        document = json.loads(raw)
        if isinstance(document, dict):
            document.setdefault("parser", Parser.SPEC.value)
            document.setdefault("confidence", 1.0)  # stated by the requester, not guessed
        return Intent.model_validate(document)
    except (json.JSONDecodeError, pydantic.ValidationError) as exc:
        raise click.BadParameter(f"not a valid intent: {exc}", param_hint="--intent") from exc


def _rule_parser(actions: catalog.Catalog) -> Callable[[str], Intent]:
    try:  # imported lazily: only text requests need the parser
        rules = importlib.import_module("opsgate.parsing.rules")
    except ImportError as exc:
        raise click.ClickException(MESSAGE_NO_PARSER) from exc

    def parse(text: str) -> Intent:
        parsed: Intent = rules.parse(text, actions)
        return parsed

    return parse


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
