"""The policy engine: loading fails loudly, evaluation fails closed, exceptions waive until they expire."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest

from opsgate.catalog import ExecutorKind, RateClass, Risk
from opsgate.intent import Intent
from opsgate.plan import ExecutorRef, Plan, RequestContext, Requester, Tags
from opsgate.policy import (
    Decision,
    Outcome,
    PolicyCategory,
    PolicyInputs,
    PolicyLoadError,
    PolicyResult,
    PolicySet,
    Severity,
)
from opsgate.policy.report import decide

NOW = datetime.datetime(2025, 1, 6, 10, 0, tzinfo=datetime.UTC)
PLAN = Plan(
    action="provision.create.email",
    parameters={"email": "x@acme.org", "quota": "1Gi"},
    executor=ExecutorRef(kind=ExecutorKind.ANSIBLE, playbook="playbooks/p.yml", image="img:1", content_hash="ab"),
    environment=None,
    requester="alice",
    tags=Tags(owner="alice"),
    risk=Risk.LOW,
    requires_approval=True,
    privileged=False,
    rate_class=RateClass.PROVISION,
    informational=False,
    digest="d" * 64,
)
INTENT = Intent(category="provision", action="create", resource_type="email", entities={"email": "x@acme.org"})


def inputs(*, plan: Plan | None = PLAN, requester: str = "alice", now: datetime.datetime = NOW) -> PolicyInputs:
    context = RequestContext(text="create an email", requester=Requester(username=requester), namespace="a")
    return PolicyInputs(request=context, intent=INTENT, plan=plan, requester=context.requester, now=now)


def write(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


RULE = """\
    version: 1
    rules:
      - name: {name}
        category: operational
        severity: high
        match: {match}
        violation: {violation}
        decision: {decision}
        message: {message}
"""


def rule_file(directory: Path, *, name: str = "r", match: str = "'true'", violation: str = "'true'",
              decision: str = "deny", message: str = "denied", extra: str = "") -> Path:  # fmt: skip
    body = RULE.format(name=name, match=match, violation=violation, decision=decision, message=message)
    return write(directory, f"{name}.yaml", body + textwrap.indent(extra, " " * 8))


@pytest.mark.parametrize(
    ("match", "violation", "expected"),
    [
        ('"plan.action ==="', "'true'", "`match`: INVALID_ARGUMENT: ERROR: <input>:1:"),
        ("'true'", "\"plan.nope + 1 == 'x'\"", "`violation`"),
        ("'true'", "\"reqest.text == ''\"", "undeclared reference to 'reqest"),
        ("'true'", "\"'not a boolean'\"", "returns STRING, expected BOOL"),
    ],
    ids=["syntax-error", "type-error", "misspelt-variable", "not-a-boolean"],
)
def test_a_malformed_rule_fails_the_load_naming_file_rule_and_cel_error(
    tmp_path: Path, match: str, violation: str, expected: str
) -> None:
    path = rule_file(tmp_path, name="broken-rule", match=match, violation=violation)
    with pytest.raises(PolicyLoadError) as raised:
        PolicySet.load(tmp_path)
    assert str(raised.value).startswith(f"{path}: rule 'broken-rule': ")
    assert expected in str(raised.value)


def test_a_request_scoped_rule_cannot_read_the_plan(tmp_path: Path) -> None:
    rule_file(tmp_path, violation="\"plan.action == ''\"", extra="scope: request\n")
    with pytest.raises(PolicyLoadError, match="undeclared reference to 'plan"):
        PolicySet.load(tmp_path)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("colour: red\n", "colour: Extra inputs are not permitted"),
        ("messageExpression: \"'x'\"\n", "give exactly one of `message` and `messageExpression`"),
        ("approval: {requiredApprovals: 2}\n", "`approval` only goes with `decision: approval`"),
    ],
    ids=["unknown-field", "two-messages", "approval-on-deny"],
)
def test_a_rule_with_a_bad_field_fails_the_load(tmp_path: Path, extra: str, expected: str) -> None:
    rule_file(tmp_path, name="odd", extra=extra)
    with pytest.raises(PolicyLoadError, match="rule 'odd'") as raised:
        PolicySet.load(tmp_path)
    assert expected in str(raised.value)


def test_two_rules_with_one_name_fail_the_load(tmp_path: Path) -> None:
    rule_file(tmp_path, name="twice")
    write(tmp_path, "other.yaml", (tmp_path / "twice.yaml").read_text())
    with pytest.raises(PolicyLoadError, match="rule 'twice': already defined in"):
        PolicySet.load(tmp_path)


def test_a_bad_time_zone_in_the_config_fails_the_load(tmp_path: Path) -> None:
    rule_file(tmp_path)
    write(tmp_path, "config.yaml", "version: 1\nchangeWindow: {timeZone: Mars/Olympus}\n")
    with pytest.raises(
        PolicyLoadError, match=r"config\.yaml: changeWindow\.timeZone: .*unknown time zone 'Mars/Olympus'"
    ):
        PolicySet.load(tmp_path)


def test_a_rule_that_errors_at_evaluation_denies_with_a_clear_message(tmp_path: Path) -> None:
    rule_file(tmp_path, name="fragile", violation="\"plan.parameters.region == 'x'\"")
    report = PolicySet.load(tmp_path).evaluate(inputs())
    assert report.decision is Decision.DENIED
    [result] = report.results
    assert result.message.startswith("could not be evaluated, so the request is denied (fail closed): ")
    assert "region" in result.message


def test_a_message_expression_that_errors_still_reports_the_violation(tmp_path: Path) -> None:
    rule_file(tmp_path, name="chatty", message="unused")
    path = tmp_path / "chatty.yaml"
    path.write_text(path.read_text().replace("message: unused", "messageExpression: \"'in ' + plan.parameters.zone\""))
    [result] = PolicySet.load(tmp_path).evaluate(inputs()).results
    assert result.result is Outcome.DENY
    assert result.message.startswith("violated (its message could not be rendered: ")


def test_plan_rules_are_skipped_when_there_is_no_plan_and_request_rules_still_run(tmp_path: Path) -> None:
    rule_file(tmp_path, name="about-plan")
    rule_file(tmp_path, name="about-request", violation="\"request.text == ''\"", extra="scope: request\n")
    report = PolicySet.load(tmp_path).evaluate(inputs(plan=None))
    assert [r.policy for r in report.results] == ["about-request"]
    assert report.decision is Decision.ALLOWED


EXCEPTION = """\
    version: 1
    exceptions:
      - policy: r
        requester: alice
        action: provision.create.email
        expiresAt: "2025-01-06T12:00:00Z"
        reason: migration weekend
        ticket: OPS-7
"""


@pytest.mark.parametrize(
    ("requester", "now", "expected", "message"),
    [
        (
            "alice",
            NOW,
            Outcome.PASS,
            "waived by exception OPS-7 until 2025-01-06T12:00:00+00:00 (migration weekend)",
        ),
        (
            "alice",
            NOW.replace(hour=12),
            Outcome.DENY,
            "denied (exception OPS-7 expired at 2025-01-06T12:00:00+00:00)",
        ),
        ("bob", NOW, Outcome.DENY, "denied"),
    ],
    ids=["live", "expired-at-the-second", "other-requester"],
)
def test_an_exception_waives_a_policy_for_its_requester_until_it_expires(
    tmp_path: Path, requester: str, now: datetime.datetime, expected: Outcome, message: str
) -> None:
    rule_file(tmp_path)
    write(tmp_path, "exceptions.yaml", EXCEPTION)
    [result] = PolicySet.load(tmp_path).evaluate(inputs(requester=requester, now=now)).results
    assert result.result is expected
    assert result.message.startswith(message)


@pytest.mark.parametrize(
    ("rule_extra", "expected"),
    [("", "names unknown policy 'r'"), ("allowExceptions: false\n", "policy 'r' does not allow exceptions")],
    ids=["unknown-policy", "not-exemptible"],
)
def test_an_exception_that_cannot_apply_fails_the_load(tmp_path: Path, rule_extra: str, expected: str) -> None:
    rule_file(tmp_path, name="r" if rule_extra else "other", extra=rule_extra)
    write(tmp_path, "exceptions.yaml", EXCEPTION)
    with pytest.raises(PolicyLoadError, match=expected):
        PolicySet.load(tmp_path)


def test_approval_rules_raise_the_count_and_name_the_groups(tmp_path: Path) -> None:
    rule_file(tmp_path, name="one", decision="approval")
    rule_file(
        tmp_path,
        name="two",
        decision="approval",
        extra="approval: {requiredApprovals: 3, approverGroups: [security-approvers]}\n",
    )
    report = PolicySet.load(tmp_path).evaluate(inputs())
    assert report.decision is Decision.APPROVAL_REQUIRED
    assert (report.approval.required_approvals, report.approval.approver_groups) == (
        3,
        ("security-approvers",),
    )


def test_the_status_form_is_the_decision_and_every_result(tmp_path: Path) -> None:
    rule_file(tmp_path, name="a", violation="'false'")
    rule_file(tmp_path, name="b", match="'false'")
    assert PolicySet.load(tmp_path).evaluate(inputs()).to_status() == {
        "decision": "Allowed",
        "results": [
            {
                "policy": "a",
                "result": "pass",
                "severity": "high",
                "category": "operational",
                "message": "satisfied",
            },
            {
                "policy": "b",
                "result": "pass",
                "severity": "high",
                "category": "operational",
                "message": "does not apply to this request",
            },
        ],
    }


def _result(outcome: Outcome) -> PolicyResult:
    return PolicyResult(
        policy="p", result=outcome, severity=Severity.LOW, category=PolicyCategory.SECURITY, message="m"
    )


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ((Outcome.PASS, Outcome.APPROVAL, Outcome.DENY), Decision.DENIED),
        ((Outcome.PASS, Outcome.APPROVAL), Decision.APPROVAL_REQUIRED),
        ((Outcome.PASS,), Decision.ALLOWED),
        ((), Decision.ALLOWED),
    ],
    ids=["any-deny", "any-approval", "all-pass", "nothing-applies"],
)
def test_the_decision_is_deny_over_approval_over_allow(outcomes: tuple[Outcome, ...], expected: Decision) -> None:
    assert decide([_result(o) for o in outcomes]) is expected


def test_the_shipped_policy_set_loads() -> None:
    policies = PolicySet.load(Path(__file__).parents[2] / "policies")
    assert "no-production-deletion" in policies.names
    assert policies.config.change_window.time_zone == "UTC"


SEES_APPROVALS = '"size(policy.approvals) > 0"'
STAGES = [
    # (id, the first-stage rule's decision, its exception, the second-stage rule's result)
    ("an-approval-asked-first-is-seen", "approval", False, Outcome.DENY),
    ("a-waived-approval-is-not", "approval", True, Outcome.PASS),
    ("a-denial-is-not-an-approval", "deny", False, Outcome.PASS),
]


@pytest.mark.parametrize(("first_decision", "waived", "expected"), [s[1:] for s in STAGES], ids=[s[0] for s in STAGES])
def test_a_second_stage_rule_sees_what_the_first_stage_decided_after_exceptions(
    tmp_path: Path, first_decision: str, waived: bool, expected: Outcome
) -> None:
    rule_file(tmp_path, name="a-later", violation=SEES_APPROVALS, extra="stage: second\n")
    rule_file(tmp_path, name="r", decision=first_decision)
    if waived:
        write(tmp_path, "exceptions.yaml", EXCEPTION)
    report = PolicySet.load(tmp_path).evaluate(inputs())
    assert [r.policy for r in report.results] == ["a-later", "r"]  # the files' order, whatever the stage
    assert report.results[0].result is expected


def test_policy_is_the_first_stage_outcome_by_name(tmp_path: Path) -> None:
    rule_file(tmp_path, name="asks", decision="approval")
    rule_file(tmp_path, name="denies")
    summary = "policy.approvals.join(',') + '/' + policy.denials.join(',')"
    write(
        tmp_path,
        "sums-up.yaml",
        RULE.format(name="sums-up", match="'true'", violation="'true'", decision="deny", message="x").replace(
            "message: x", f'messageExpression: "{summary}"'
        )
        + "        stage: second\n",
    )
    [result] = [r for r in PolicySet.load(tmp_path).evaluate(inputs()).results if r.policy == "sums-up"]
    assert result.message == "asks/denies"


def test_only_a_second_stage_rule_may_read_policy(tmp_path: Path) -> None:
    rule_file(tmp_path, name="too-early", violation=SEES_APPROVALS)
    with pytest.raises(PolicyLoadError, match=r"too-early.*undeclared reference to 'policy"):
        PolicySet.load(tmp_path)


def test_a_second_stage_request_rule_runs_without_a_plan(tmp_path: Path) -> None:
    rule_file(tmp_path, name="asks", decision="approval", extra="scope: request\n")
    rule_file(tmp_path, name="later", violation=SEES_APPROVALS, extra="scope: request\nstage: second\n")
    rule_file(tmp_path, name="needs-plan", violation=SEES_APPROVALS, extra="stage: second\n")
    report = PolicySet.load(tmp_path).evaluate(inputs(plan=None))
    assert {r.policy: r.result for r in report.results} == {"asks": Outcome.APPROVAL, "later": Outcome.DENY}
