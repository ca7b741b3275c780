"""The policy set: every rule compiled once at load, evaluated per request, failing closed.

Loading reads the rule files, the config and the exceptions of a policy directory and
compiles each rule's ``match``, ``violation`` and ``messageExpression``; any problem is a
``PolicyLoadError`` naming the file, the rule and the CEL error, so no rule is ever skipped
silently. Evaluation binds the variables once, runs one combined program per rule and turns
each into a :class:`~opsgate.policy.report.PolicyResult`. A rule that errors at evaluation is
a deny (fail closed). Live exceptions waive a rule's deny or approval for one requester and
action. Pure apart from reading the policy directory at load.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opsgate.policy import cel, errors, inputs, report
from opsgate.policy import config as config_file
from opsgate.policy import exceptions as exceptions_file
from opsgate.policy import rules as rule_format

MESSAGE_NOT_APPLICABLE = "does not apply to this request"
MESSAGE_SATISFIED = "satisfied"
MESSAGE_EVALUATION_FAILED = "could not be evaluated, so the request is denied (fail closed): {error}"
MESSAGE_UNRENDERED = "violated (its message could not be rendered: {error})"
MESSAGE_EXCEPTED = "waived by exception {ticket} until {expires} ({reason}); would have been: {message}"
MESSAGE_EXCEPTION_EXPIRED = "{message} (exception {ticket} expired at {expires})"

# What a rule's combined program returns.
_NOT_APPLICABLE, _SATISFIED, _VIOLATED = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class CompiledRule:
    rule: rule_format.Rule
    source: Path
    program: Any  # cel: (match) ? ((violation) ? 2 : 1) : 0
    message: Any | None  # cel: messageExpression


@dataclasses.dataclass(frozen=True)
class PolicySet:
    rules: tuple[CompiledRule, ...]
    config: config_file.PolicyConfig
    exceptions: tuple[exceptions_file.PolicyException, ...]
    load_seconds: float
    _env: Any = dataclasses.field(repr=False)
    _cel_config: dict[str, Any] = dataclasses.field(repr=False)

    @classmethod
    def load(cls, directory: Path) -> PolicySet:
        """Load and compile ``directory``; raises ``PolicyLoadError`` on any malformed part."""
        started = time.perf_counter()
        if not directory.is_dir():
            raise errors.PolicyLoadError(f"{directory}: not a policy directory")
        env = cel.new_environment(with_plan=True)
        request_env = cel.new_environment(with_plan=False)
        compiled: list[CompiledRule] = []
        seen: dict[str, Path] = {}
        for path in rule_format.rule_files(directory):
            for rule in rule_format.load_rules(path):
                if rule.name in seen:
                    raise errors.PolicyLoadError(
                        f"{path}: rule {rule.name!r}: already defined in {seen[rule.name]}"
                    )
                seen[rule.name] = path
                compiled.append(_compile(rule, path, env=env, check_env=request_env))
        if not compiled:
            raise errors.PolicyLoadError(f"{directory}: no policy rules found")
        policy_config = config_file.load_config(directory)
        waivers = exceptions_file.load_exceptions(directory)
        _check_exceptions(waivers, compiled, directory=directory)
        return cls(
            rules=tuple(compiled),
            config=policy_config,
            exceptions=waivers,
            load_seconds=time.perf_counter() - started,
            _env=env,
            _cel_config=policy_config.to_cel(),
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.rule.name for c in self.rules)

    def evaluate(self, policy_inputs: inputs.PolicyInputs) -> report.PolicyReport:
        """One result per applicable rule (request-scoped only when there is no plan) and the decision."""
        bound = cel.activation(self._env, inputs.cel_variables(policy_inputs, config=self._cel_config))
        action = (
            policy_inputs.plan.action if policy_inputs.plan is not None else (policy_inputs.intent.key or "")
        )
        results: list[report.PolicyResult] = []
        raised: list[rule_format.RuleApproval] = []
        for compiled in self.rules:
            if compiled.rule.scope is rule_format.Scope.PLAN and policy_inputs.plan is None:
                continue
            result = _evaluate(compiled, bound)
            if result.result is not report.Outcome.PASS and compiled.rule.allow_exceptions:
                result = self._apply_exceptions(result, policy_inputs, action=action)
            if result.result is report.Outcome.APPROVAL and compiled.rule.approval is not None:
                raised.append(compiled.rule.approval)
            results.append(result)
        return report.PolicyReport(
            decision=report.decide(results), results=results, approval=self._approval(raised)
        )

    def _apply_exceptions(
        self, result: report.PolicyResult, policy_inputs: inputs.PolicyInputs, *, action: str
    ) -> report.PolicyResult:
        matching = [
            e
            for e in self.exceptions
            if e.covers(policy=result.policy, requester=policy_inputs.requester.username, action=action)
        ]
        live = [e for e in matching if e.live(policy_inputs.now)]
        if live:
            waiver = max(live, key=lambda e: e.expires_at)
            message = MESSAGE_EXCEPTED.format(
                ticket=waiver.ticket,
                expires=waiver.expires_at.isoformat(),
                reason=waiver.reason,
                message=result.message,
            )
            return result.model_copy(update={"result": report.Outcome.PASS, "message": message})
        if matching:
            expired = max(matching, key=lambda e: e.expires_at)
            message = MESSAGE_EXCEPTION_EXPIRED.format(
                message=result.message, ticket=expired.ticket, expires=expired.expires_at.isoformat()
            )
            return result.model_copy(update={"message": message})
        return result

    def _approval(self, raised: Sequence[rule_format.RuleApproval]) -> report.ApprovalRequirement:
        """The defaults from config, raised by rules: the most approvers asked, the groups they name."""
        defaults = self.config.approval
        groups = tuple(dict.fromkeys(g for r in raised for g in r.approver_groups))
        return report.ApprovalRequirement(
            required_approvals=max([defaults.required_approvals, *(r.required_approvals for r in raised)]),
            approver_groups=groups or defaults.approver_groups,
        )


def _compile(rule: rule_format.Rule, path: Path, *, env: Any, check_env: Any) -> CompiledRule:
    where = f"{path}: rule {rule.name!r}"
    scoped_env = check_env if rule.scope is rule_format.Scope.REQUEST else env
    try:
        cel.compile_expression(scoped_env, rule.match, returns=cel.BOOL)
    except cel.CelCompileError as exc:
        raise errors.PolicyLoadError(f"{where}: `match`: {exc}") from exc
    try:
        cel.compile_expression(scoped_env, rule.violation, returns=cel.BOOL)
    except cel.CelCompileError as exc:
        raise errors.PolicyLoadError(f"{where}: `violation`: {exc}") from exc
    message = None
    if rule.message_expression is not None:
        try:
            cel.compile_expression(scoped_env, rule.message_expression, returns=cel.STRING)
            message = cel.compile_expression(env, rule.message_expression, returns=cel.STRING)
        except cel.CelCompileError as exc:
            raise errors.PolicyLoadError(f"{where}: `messageExpression`: {exc}") from exc
    combined = f"({rule.match}) ? (({rule.violation}) ? {_VIOLATED} : {_SATISFIED}) : {_NOT_APPLICABLE}"
    program = cel.compile_expression(env, combined, returns=cel.INT)
    return CompiledRule(rule=rule, source=path, program=program, message=message)


def _evaluate(compiled: CompiledRule, bound: Any) -> report.PolicyResult:
    rule = compiled.rule
    try:
        verdict = cel.evaluate(compiled.program, bound)
    except cel.CelEvaluationError as exc:
        return _result(rule, report.Outcome.DENY, MESSAGE_EVALUATION_FAILED.format(error=exc))
    if verdict == _NOT_APPLICABLE:
        return _result(rule, report.Outcome.PASS, MESSAGE_NOT_APPLICABLE)
    if verdict == _SATISFIED:
        return _result(rule, report.Outcome.PASS, MESSAGE_SATISFIED)
    return _result(rule, rule.decision.outcome, _message(compiled, bound))


def _message(compiled: CompiledRule, bound: Any) -> str:
    if compiled.message is None:
        return compiled.rule.message or ""
    try:
        return str(cel.evaluate(compiled.message, bound))
    except cel.CelEvaluationError as exc:
        return MESSAGE_UNRENDERED.format(error=exc)


def _result(rule: rule_format.Rule, outcome: report.Outcome, message: str) -> report.PolicyResult:
    return report.PolicyResult(
        policy=rule.name, result=outcome, severity=rule.severity, category=rule.category, message=message
    )


def _check_exceptions(
    waivers: Sequence[exceptions_file.PolicyException], compiled: Sequence[CompiledRule], *, directory: Path
) -> None:
    by_name = {c.rule.name: c.rule for c in compiled}
    for waiver in waivers:
        where = f"{directory / exceptions_file.EXCEPTIONS_FILE}: exception {waiver.ticket!r}"
        rule = by_name.get(waiver.policy)
        if rule is None:
            raise errors.PolicyLoadError(f"{where}: names unknown policy {waiver.policy!r}")
        if not rule.allow_exceptions:
            raise errors.PolicyLoadError(f"{where}: policy {waiver.policy!r} does not allow exceptions")
