"""One request, offline, up to the decision: redact → intent → plan → policy → suggested phase.

The kopf controller and ``opsgate plan`` both call :func:`decide`, so a request is judged the
same way in the cluster and on a laptop. Everything that varies is injected — the parser, the
catalog, the policy set, the clock, the requester's history, the home holding the executor
files — and the result is a frozen :class:`Outcome` the caller writes to status or prints.

Secrets are found in the raw text and parameters first; only redacted text and values go
further, and ``no-plaintext-secrets`` denies the request. What a requester or approver should
know but that decides nothing by itself lands in ``warnings``: an environment overruled by the
namespace label, or a ``spec.intent`` naming values its request text never mentions. Pure apart
from reading the executor files under ``home`` for the plan's content hash.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Mapping
from pathlib import Path

from opsgate import redact
from opsgate.catalog import Catalog
from opsgate.intent import Intent, unrecognised, unstated_entities
from opsgate.plan import NeedsInfo, Plan, RequestContext, build_plan, inverse_entry, resolve_environment
from opsgate.policy import Decision, PolicyInputs, PolicyReport, PolicyResult, PolicySet
from opsgate.policy.report import decide as decide_results
from opsgate.resources import Phase

MESSAGE_UNRECOGNISED = (
    "could not tell which action this request asks for; name one of the catalog's actions "
    "(e.g. 'create an email for jane@example.com') or give spec.intent"
)
MESSAGE_UNKNOWN_ACTION = "`{key}` is not an action in the catalog"
MESSAGE_NO_INPUT = "the request has neither text nor a structured intent"
MESSAGE_SECRETS_REDACTED = "plaintext secrets were found and redacted: {kinds}"
MESSAGE_UNSTATED = "spec.intent names {entity}, which the request text does not mention"


@dataclasses.dataclass(frozen=True)
class Outcome:
    text: str  # the request text, redacted
    intent: Intent
    plan: Plan | None
    needs_info: NeedsInfo | None
    policy: PolicyReport
    # Suggested ``status.phase``: Denied, NeedsInfo, AwaitingApproval, Approved (allowed, ready to
    # run) or Answered (allowed and informational: nothing runs).
    phase: Phase
    messages: tuple[str, ...]  # what the requester reads: secrets, warnings, problems, policy reasons
    secret_findings: tuple[redact.Finding, ...] = ()
    # Worth knowing, decides nothing by itself (also in messages): an overruled environment, and
    # MESSAGE_UNSTATED for each entry of ``unstated``.
    warnings: tuple[str, ...] = ()
    # ``key=value`` of each spec.intent entity value the request text does not mention (see
    # intent.unstated_entities), for the Approval summary; empty for parsed intents.
    unstated: tuple[str, ...] = ()

    @property
    def decision(self) -> Decision:
        return self.policy.decision


def decide(
    *,
    text: str | None,
    intent: Intent | None,
    catalog: Catalog,
    policies: PolicySet,
    context: RequestContext,
    now: datetime.datetime,
    history: Mapping[str, int],
    home: Path,
    executor_image: str,
    parse: Callable[[str], Intent] | None,
) -> Outcome:
    """Judge one request. ``intent`` (``spec.intent``) wins over parsing ``text`` with ``parse``.

    ``context.text`` is replaced by the redacted ``text``, so callers may pass the raw request.
    """
    raw_text = text or ""
    findings = redact.find_secrets(raw_text)
    clean_text = redact.redact(raw_text)
    context = context.model_copy(update={"text": clean_text})
    resolved, intent_findings = _resolve_intent(clean_text, intent=intent, parse=parse)
    findings = [*findings, *intent_findings]

    plan: Plan | None = None
    needs_info: NeedsInfo | None = None
    unstated = unstated_entities(resolved, clean_text)
    warnings = [MESSAGE_UNSTATED.format(entity=entity) for entity in unstated]
    entry = catalog.get(resolved.key)
    if resolved.declined is not None:
        # the parser understood enough to refuse (e.g. several changes in one request): say why
        needs_info = NeedsInfo(problems=(resolved.declined,))
    elif not resolved.recognised:
        needs_info = NeedsInfo(problems=(MESSAGE_UNRECOGNISED if (text or intent) else MESSAGE_NO_INPUT,))
    elif entry is None:
        needs_info = NeedsInfo(problems=(MESSAGE_UNKNOWN_ACTION.format(key=resolved.key),))
    else:
        warnings = [*resolve_environment(resolved, context).warnings, *warnings]
        built = build_plan(
            resolved,
            entry,
            context=context,
            home=home,
            executor_image=executor_image,
            inverse=inverse_entry(entry, catalog),
        )
        plan, needs_info = (built, None) if isinstance(built, Plan) else (None, built)

    report = policies.evaluate(
        PolicyInputs(
            request=context,
            intent=resolved,
            plan=plan,
            requester=context.requester,
            now=now,
            history=dict(history),
            secret_findings=tuple(findings),
        )
    )
    phase = _phase(report, plan=plan)
    return Outcome(
        text=clean_text,
        intent=resolved,
        plan=plan,
        needs_info=needs_info,
        policy=report,
        phase=phase,
        messages=_messages(report, needs_info=needs_info, findings=findings, warnings=warnings),
        secret_findings=tuple(findings),
        warnings=tuple(warnings),
        unstated=unstated,
    )


def with_result(outcome: Outcome, result: PolicyResult) -> Outcome:
    """``outcome`` judged again with one more policy result, decided outside the policy set.

    The Kubernetes RBAC check (may the requester execute this action there?) is asked of the API
    server after planning; its refusal is a policy result like any other and decides the same way.
    """
    results = [*outcome.policy.results, result]
    report = outcome.policy.model_copy(update={"results": results, "decision": decide_results(results)})
    return dataclasses.replace(
        outcome,
        policy=report,
        phase=_phase(report, plan=outcome.plan),
        messages=_messages(
            report,
            needs_info=outcome.needs_info,
            findings=list(outcome.secret_findings),
            warnings=list(outcome.warnings),
        ),
    )


def _resolve_intent(
    clean_text: str, *, intent: Intent | None, parse: Callable[[str], Intent] | None
) -> tuple[Intent, list[redact.Finding]]:
    """The intent to plan, with secrets in its entities redacted (and reported)."""
    if intent is None:
        intent = parse(clean_text) if parse is not None and clean_text else unrecognised()
    findings = redact.find_secrets_in_value(intent.entities, path="entities")
    if findings:
        intent = intent.model_copy(update={"entities": redact.redact_value(dict(intent.entities))})
    return intent, findings


def _phase(report: PolicyReport, *, plan: Plan | None) -> Phase:
    if report.decision is Decision.DENIED:
        return Phase.DENIED
    if plan is None:
        return Phase.NEEDS_INFO
    if report.decision is Decision.APPROVAL_REQUIRED:
        return Phase.AWAITING_APPROVAL
    return Phase.ANSWERED if plan.informational else Phase.APPROVED


def _messages(
    report: PolicyReport, *, needs_info: NeedsInfo | None, findings: list[redact.Finding], warnings: list[str]
) -> tuple[str, ...]:
    lines: list[str] = []
    if findings:
        kinds = ", ".join(sorted({f.kind.value for f in findings}))
        lines.append(MESSAGE_SECRETS_REDACTED.format(kinds=kinds))
    lines.extend(warnings)  # before the policy reasons they may explain (planned as production)
    if needs_info is not None:
        lines.extend(needs_info.problems)
    # A denial is final, so approvals are worth mentioning only when nothing denies.
    reasons = report.denials or report.approvals
    lines.extend(f"{r.policy}: {r.message}" for r in reasons)
    return tuple(lines)
