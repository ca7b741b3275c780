"""The policy set: every rule compiled once at load, evaluated per request, failing closed.

Loading reads the rule files, the config and the exceptions of a policy directory and
compiles each rule's ``match``, ``violation`` and ``messageExpression``; any problem is a
``PolicyLoadError`` naming the file, the rule and the CEL error, so no rule is ever skipped
silently. Evaluation binds the variables once, runs one combined program per rule and turns
each into a :class:`~opsgate.policy.report.PolicyResult`. A rule that errors at evaluation is
a deny (fail closed). Live exceptions waive a rule's deny or approval for one requester and
action. Rules run in two stages: second-stage rules (``stage: second``) run after all the
others and see their outcome as ``policy`` — so "deny when the plan needs an approval and the
requester has no MFA" can know whether any rule asked for an approval. Results keep the order
of the rule files whatever the stage. Pure apart from reading the policy directory at load.
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
    # The two passing results never change, so they are built once (results are frozen).
    not_applicable: report.PolicyResult
    satisfied: report.PolicyResult


@dataclasses.dataclass(frozen=True)
class PolicySet:
    rules: tuple[CompiledRule, ...]
    config: config_file.PolicyConfig
    exceptions: tuple[exceptions_file.PolicyException, ...]
    load_seconds: float
    _env: Any = dataclasses.field(repr=False)
    _cel_config: dict[str, Any] = dataclasses.field(repr=False)
    # Every rule's program in one CEL list, per stage and scope (with a plan: all the stage's
    # rules; without: its request-scoped ones): one call instead of one per rule. If any rule
    # errors the list is an error, and evaluation falls back to rule by rule to say which.
    _programs: dict[tuple[rule_format.Stage, bool], Any] = dataclasses.field(repr=False)
    # The rules of each program, in the same order: (stage, planned) -> rules.
    _applicable: dict[tuple[rule_format.Stage, bool], tuple[CompiledRule, ...]] = dataclasses.field(repr=False)

    @classmethod
    def load(cls, directory: Path) -> PolicySet:
        """Load and compile ``directory``; raises ``PolicyLoadError`` on any malformed part."""
        started = time.perf_counter()
        if not directory.is_dir():
            raise errors.PolicyLoadError(f"{directory}: not a policy directory")
        env = cel.new_environment(with_plan=True, with_policy=True)
        # What each kind of rule may read: a typo or a first-stage rule reading `policy` fails here.
        check_envs = {
            (scope, stage): cel.new_environment(
                with_plan=scope is rule_format.Scope.PLAN, with_policy=stage is rule_format.Stage.SECOND
            )
            for scope in rule_format.Scope
            for stage in rule_format.Stage
        }
        compiled: list[CompiledRule] = []
        seen: dict[str, Path] = {}
        for path in rule_format.rule_files(directory):
            for rule in rule_format.load_rules(path):
                if rule.name in seen:
                    raise errors.PolicyLoadError(f"{path}: rule {rule.name!r}: already defined in {seen[rule.name]}")
                seen[rule.name] = path
                compiled.append(_compile(rule, path, env=env, check_env=check_envs[rule.scope, rule.stage]))
        if not compiled:
            raise errors.PolicyLoadError(f"{directory}: no policy rules found")
        policy_config = config_file.load_config(directory)
        waivers = exceptions_file.load_exceptions(directory)
        _check_exceptions(waivers, compiled, directory=directory)
        applicable = {
            (stage, planned): _applicable(compiled, stage=stage, planned=planned)
            for stage in rule_format.Stage
            for planned in (True, False)
        }
        return cls(
            rules=tuple(compiled),
            config=policy_config,
            exceptions=waivers,
            load_seconds=time.perf_counter() - started,
            _env=env,
            _cel_config=policy_config.to_cel(),
            _programs={key: _compile_list(env, rules) for key, rules in applicable.items()},
            _applicable=applicable,
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.rule.name for c in self.rules)

    def evaluate(self, policy_inputs: inputs.PolicyInputs) -> report.PolicyReport:
        """One result per applicable rule (request-scoped only when there is no plan) and the decision."""
        variables = inputs.cel_variables(policy_inputs, config=self._cel_config)
        planned = policy_inputs.plan is not None
        variables["policy"] = {}  # first-stage rules cannot read it (checked at load)
        evaluated = self._evaluate_stage(rule_format.Stage.FIRST, variables, policy_inputs)
        if self._applicable[rule_format.Stage.SECOND, planned]:
            variables["policy"] = {
                "approvals": [r.policy for _, r in evaluated if r.result is report.Outcome.APPROVAL],
                "denials": [r.policy for _, r in evaluated if r.result is report.Outcome.DENY],
            }
            evaluated += self._evaluate_stage(rule_format.Stage.SECOND, variables, policy_inputs)
            order = {c.rule.name: index for index, c in enumerate(self.rules)}
            evaluated.sort(key=lambda pair: order[pair[0].rule.name])  # the rule files' order, whatever the stage
        results = [result for _, result in evaluated]
        raised = [
            compiled.rule.approval
            for compiled, result in evaluated
            if result.result is report.Outcome.APPROVAL and compiled.rule.approval is not None
        ]
        return report.PolicyReport(decision=report.decide(results), results=results, approval=self._approval(raised))

    def _evaluate_stage(
        self, stage: rule_format.Stage, variables: dict[str, Any], policy_inputs: inputs.PolicyInputs
    ) -> list[tuple[CompiledRule, report.PolicyResult]]:
        """The results of one stage's applicable rules, exceptions applied."""
        planned = policy_inputs.plan is not None
        action = policy_inputs.plan.action if policy_inputs.plan is not None else policy_inputs.intent.key or ""
        applicable = self._applicable[stage, planned]
        bound = cel.activation(self._env, variables)
        verdicts: list[int | None]
        try:
            verdicts = cel.evaluate(self._programs[stage, planned], bound)
        except cel.CelEvaluationError:
            verdicts = [None] * len(applicable)  # some rule failed: evaluate one by one to say which
        results: list[tuple[CompiledRule, report.PolicyResult]] = []
        for compiled, verdict in zip(applicable, verdicts, strict=True):
            result = _evaluate(compiled, bound, verdict=verdict)
            if result.result is not report.Outcome.PASS and compiled.rule.allow_exceptions:
                result = self._apply_exceptions(result, policy_inputs, action=action)
            results.append((compiled, result))
        return results

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
    """Check each expression in ``check_env`` (what the rule may read), compile it in ``env`` (all)."""
    where = f"{path}: rule {rule.name!r}"
    try:
        cel.compile_expression(check_env, rule.match, returns=cel.BOOL)
    except cel.CelCompileError as exc:
        raise errors.PolicyLoadError(f"{where}: `match`: {exc}") from exc
    try:
        cel.compile_expression(check_env, rule.violation, returns=cel.BOOL)
    except cel.CelCompileError as exc:
        raise errors.PolicyLoadError(f"{where}: `violation`: {exc}") from exc
    message = None
    if rule.message_expression is not None:
        try:
            cel.compile_expression(check_env, rule.message_expression, returns=cel.STRING)
            message = cel.compile_expression(env, rule.message_expression, returns=cel.STRING)
        except cel.CelCompileError as exc:
            raise errors.PolicyLoadError(f"{where}: `messageExpression`: {exc}") from exc
    program = cel.compile_expression(env, _combined(rule), returns=cel.INT)
    return CompiledRule(
        rule=rule,
        source=path,
        program=program,
        message=message,
        not_applicable=_result(rule, report.Outcome.PASS, MESSAGE_NOT_APPLICABLE),
        satisfied=_result(rule, report.Outcome.PASS, MESSAGE_SATISFIED),
    )


def _combined(rule: rule_format.Rule) -> str:
    return f"({rule.match}) ? (({rule.violation}) ? {_VIOLATED} : {_SATISFIED}) : {_NOT_APPLICABLE}"


def _applicable(
    compiled: Sequence[CompiledRule], *, stage: rule_format.Stage, planned: bool
) -> tuple[CompiledRule, ...]:
    """The rules of ``stage`` that run: all of them with a plan, the request-scoped ones without."""
    return tuple(
        c for c in compiled if c.rule.stage is stage and (planned or c.rule.scope is rule_format.Scope.REQUEST)
    )


def _compile_list(env: Any, compiled: Sequence[CompiledRule]) -> Any:
    source = "[" + ", ".join(_combined(c.rule) for c in compiled) + "]"
    return cel.compile_expression(env, source, returns=cel.LIST)


def _evaluate(compiled: CompiledRule, bound: Any, *, verdict: int | None) -> report.PolicyResult:
    """The result of one rule, from its verdict in the combined list or (None) evaluated alone."""
    rule = compiled.rule
    if verdict is None:
        try:
            verdict = cel.evaluate(compiled.program, bound)
        except cel.CelEvaluationError as exc:
            return _result(rule, report.Outcome.DENY, MESSAGE_EVALUATION_FAILED.format(error=exc))
    if verdict == _NOT_APPLICABLE:
        return compiled.not_applicable
    if verdict == _SATISFIED:
        return compiled.satisfied
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
