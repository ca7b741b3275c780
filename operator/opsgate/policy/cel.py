"""The CEL environment every policy rule is compiled in, and the two ways CEL can fail.

Rules see ``request``, ``intent``, ``requester``, ``now``, ``history`` and ``config`` — plus
``plan`` for rules that apply to a plan, and ``policy`` (what the other rules decided) for
second-stage rules — with the ``strings`` (``lowerAscii``, ``join``…) and
``bindings`` (``cel.bind``) extensions. Compilation type-checks, so a misspelt variable or a
rule that does not return a boolean fails at load. At evaluation CEL returns errors as values;
:func:`evaluate` turns them into :class:`CelEvaluationError` so the engine can fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_strings

_MAP = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
REQUEST_VARIABLES: dict[str, Any] = {
    "request": _MAP,
    "intent": _MAP,
    "requester": _MAP,
    "now": cel.Type.TIMESTAMP,
    "history": cel.Type.Map(cel.Type.STRING, cel.Type.INT),
    "config": _MAP,
}
PLAN_VARIABLES: dict[str, Any] = {**REQUEST_VARIABLES, "plan": _MAP}
# Second-stage rules only: {approvals: [policy names], denials: [policy names]} of the first stage.
POLICY_VARIABLES: dict[str, Any] = {"policy": _MAP}

BOOL = (cel.Type.BOOL, cel.Type.DYN)
STRING = (cel.Type.STRING, cel.Type.DYN)
INT = (cel.Type.INT, cel.Type.DYN)
LIST = (cel.Type.List(cel.Type.INT), cel.Type.List(cel.Type.DYN), cel.Type.DYN)


class CelCompileError(ValueError):
    """An expression does not parse, does not type-check, or has the wrong result type."""


class CelEvaluationError(RuntimeError):
    """An expression failed at evaluation (a missing key, a bad time zone, a wrong type)."""


def new_environment(*, with_plan: bool, with_policy: bool = False) -> Any:
    """A CEL environment for request-scoped rules, or (``with_plan``) plan-scoped ones.

    ``with_policy`` adds ``policy``, the outcome of the first stage, for second-stage rules.
    """
    variables = PLAN_VARIABLES if with_plan else REQUEST_VARIABLES
    return cel.NewEnv(
        variables={**variables, **POLICY_VARIABLES} if with_policy else variables,
        extensions=[ext_strings.ExtStrings(), ext_bindings.ExtBindings()],
    )


def compile_expression(env: Any, source: str, *, returns: tuple[Any, ...]) -> Any:
    """The compiled expression; raises :class:`CelCompileError` with CEL's own message."""
    try:
        expression = env.compile(source)
    except RuntimeError as exc:
        raise CelCompileError(str(exc).strip()) from exc
    result_type = expression.return_type()
    if not any(result_type == allowed for allowed in returns):
        wanted = " or ".join(t.name() for t in returns)
        raise CelCompileError(f"returns {result_type.name()}, expected {wanted}")
    return expression


def activation(env: Any, data: Mapping[str, Any]) -> Any:
    """Bind variables once for several expressions (one per rule)."""
    return env.Activation(data)


def evaluate(expression: Any, bound: Any) -> Any:
    """The plain Python value of ``expression``; raises :class:`CelEvaluationError` on a CEL error."""
    value = expression.eval(bound)
    if value.type() == cel.Type.ERROR:
        raise CelEvaluationError(str(value.value()))
    return value.plain_value()
