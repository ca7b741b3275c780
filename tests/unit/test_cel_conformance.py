"""Smoke tests for every CEL feature the shipped rules rely on, in the environment they compile in."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest
from cel_expr_python import cel as cel_library

from opsgate.policy import cel

ANY_RESULT = (*cel.BOOL, *cel.STRING, *cel.INT, cel_library.Type.List(cel_library.Type.STRING))

# Saturday 2025-01-04 03:30 UTC is Friday 22:30 in New York and Saturday 04:30 in Paris.
NOW = datetime.datetime(2025, 1, 4, 3, 30, tzinfo=datetime.UTC)
DATA: dict[str, Any] = {
    "request": {"secrets": ["password", "token"], "rollbackPlan": ""},
    "intent": {"action": "delete"},
    "plan": {"parameters": {"region": "EU-West-1", "tls": False}, "tags": {"owner": "a", "project": ""}},
    "requester": {"groups": ["dev", "opsgate-mfa"], "extra": {"amr": ["pwd", "mfa"]}},
    "now": NOW,
    "history": {"provision": 10},
    "config": {
        "allowed": ["us-east-1", "eu-west-1"],
        "limits": {"provision": 10},
        "days": [1, 3],
        "claim": "amr",
        "absent": "acr",
    },
}

CASES = [
    ("now.getDayOfWeek('UTC')", 6),
    ("now.getDayOfWeek('America/New_York')", 5),
    ("now.getHours('Europe/Paris')", 4),
    ("now.getMinutes('Asia/Kolkata')", 0),
    ("now.getDayOfWeek('UTC') in config.days", False),
    ("plan.parameters.region.lowerAscii()", "eu-west-1"),
    ("plan.parameters.region.lowerAscii() in config.allowed", True),
    ("request.secrets.join(', ')", "password, token"),
    ("size(request.secrets) > 0", True),
    ("['owner', 'project'].filter(t, plan.tags[t] == '')", ["project"]),
    ("['owner', 'project'].exists(t, plan.tags[t] == '')", True),
    ("config.claim in requester.extra && requester.extra[config.claim].exists(v, v == 'mfa')", True),
    ("config.absent in requester.extra && requester.extra[config.absent].exists(v, v == 'mfa')", False),
    ("'opsgate-mfa' in requester.groups", True),
    ("'tls' in plan.parameters && plan.parameters.tls == false", True),
    ("history['provision'] >= config.limits['provision']", True),
    ("string(history['provision']) + ' requests'", "10 requests"),
    ("cel.bind(m, now.getHours('UTC') * 60 + now.getMinutes('UTC'), m >= 210)", True),
    ("(intent.action == 'delete') ? 2 : 1", 2),
    ("request.rollbackPlan == ''", True),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_cel_feature_the_rules_rely_on_behaves_as_documented(expression: str, expected: Any) -> None:
    env = cel.new_environment(with_plan=True)
    compiled = cel.compile_expression(env, expression, returns=ANY_RESULT)
    assert cel.evaluate(compiled, cel.activation(env, DATA)) == expected


def test_a_timestamp_from_another_zone_is_the_same_instant() -> None:
    env = cel.new_environment(with_plan=True)
    paris = NOW.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    expression = cel.compile_expression(env, "now.getHours('UTC')", returns=cel.INT)
    assert cel.evaluate(expression, cel.activation(env, {**DATA, "now": paris})) == 3


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("plan.parameters.missing == 'x'", "Key not found"),
        ("now.getHours('Mars/Olympus') > 1", "Invalid timezone"),
    ],
    ids=["missing-key", "unknown-zone"],
)
def test_a_failing_expression_raises_instead_of_returning_an_error_value(expression: str, error: str) -> None:
    env = cel.new_environment(with_plan=True)
    compiled = cel.compile_expression(env, expression, returns=cel.BOOL)
    with pytest.raises(cel.CelEvaluationError, match=error):
        cel.evaluate(compiled, cel.activation(env, DATA))


@pytest.mark.parametrize(
    ("expression", "with_plan", "error"),
    [
        ("plan.x == 1", False, "undeclared reference to 'plan"),
        ("1 + 'a'", True, "no matching overload"),
        ("request.secrets.join(", True, "Syntax error"),
        ("'a string'", True, "returns STRING, expected BOOL"),
    ],
    ids=["plan-in-request-scope", "type-error", "syntax-error", "wrong-result-type"],
)
def test_a_bad_expression_fails_to_compile_with_cel_s_message(expression: str, with_plan: bool, error: str) -> None:
    env = cel.new_environment(with_plan=with_plan)
    with pytest.raises(cel.CelCompileError, match=error):
        cel.compile_expression(env, expression, returns=(cel.BOOL[0],))


def test_a_literal_key_into_a_dyn_map_needs_dyn_before_a_comprehension() -> None:
    """A cel-cpp quirk rule authors meet: ``m['k'].exists(…)`` does not type-check, ``dyn(m['k'])`` does."""
    env = cel.new_environment(with_plan=True)
    with pytest.raises(cel.CelCompileError, match="cannot be the range of a comprehension"):
        cel.compile_expression(env, "requester.extra['amr'].exists(v, v == 'mfa')", returns=cel.BOOL)
    compiled = cel.compile_expression(env, "dyn(requester.extra['amr']).exists(v, v == 'mfa')", returns=cel.BOOL)
    assert cel.evaluate(compiled, cel.activation(env, DATA)) is True
