"""``opsgate plan``: the decision and every result, as JSON (the contract) or as a table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from opsgate import paths
from opsgate.cli import main
from opsgate.plan import Plan

POLICY_DIR = Path(__file__).parents[2] / "policies"
SATURDAY_3 = "2025-01-04T03:00:00Z"
MONDAY_10 = "2025-01-06T10:00:00Z"
DELETE_PROD = {
    "category": "provision",
    "action": "delete",
    "resource_type": "cluster",
    "entities": {"name": "payments-prod", "environment": "production"},
}
CREATE_EMAIL = {
    "category": "provision",
    "action": "create",
    "resource_type": "email",
    "entities": {"email": "x@acme.org"},
}
# Requests that need an approval are denied to a requester without MFA (mfa-for-privileged-operations).
WITH_MFA = ("--groups", "opsgate-mfa")
SCALE_PROD = {
    "category": "provision",
    "action": "scale",
    "resource_type": "deployment",
    "entities": {"name": "web", "replicas": 5, "environment": "production"},
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An OpsGate home: copies of the shipped policies, playbooks and modules."""
    shutil.copytree(POLICY_DIR, tmp_path / "policies")
    for executors in ("playbooks", "terraform"):  # a copy: tests may add broken policy files here
        shutil.copytree(paths.home() / executors, tmp_path / executors)
    monkeypatch.setenv("OPSGATE_HOME", str(tmp_path))
    return tmp_path


def run(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["plan", *arguments], catch_exceptions=False)


def run_json(*arguments: str) -> dict[str, Any]:
    result = run(*arguments, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def results_by_policy(document: dict[str, Any]) -> dict[str, str]:
    return {r["policy"]: r["result"] for r in document["policy"]["results"]}


@pytest.mark.usefixtures("home")
def test_deleting_the_production_cluster_is_denied_by_no_production_deletion() -> None:
    document = run_json("Delete the production cluster payments-prod", "--intent", json.dumps(DELETE_PROD))
    assert document["policy"]["decision"] == "Denied"
    assert results_by_policy(document)["no-production-deletion"] == "deny"
    assert document["intent"]["action"] == "delete"


@pytest.mark.usefixtures("home")
def test_a_production_change_on_saturday_at_three_is_denied_by_the_change_window() -> None:
    document = run_json("scale web to 5. rollback: scale to 3", "--intent", json.dumps(SCALE_PROD), "--now", SATURDAY_3)
    assert document["policy"]["decision"] == "Denied"
    assert [r["policy"] for r in document["policy"]["results"] if r["result"] == "deny"] == [
        "production-change-windows"
    ]


@pytest.mark.usefixtures("home")
def test_an_e_mail_requires_approval_and_the_plan_reads_back() -> None:
    document = run_json(
        "create an email for x@acme.org", "--intent", json.dumps(CREATE_EMAIL), "--now", MONDAY_10, *WITH_MFA
    )
    assert document["policy"]["decision"] == "ApprovalRequired"
    assert document["approval"] == {"requiredApprovals": 1, "approverGroups": ["opsgate-approvers"]}
    assert document["phase"] == "AwaitingApproval"
    plan = Plan.model_validate(document["plan"])
    assert plan.parameters == {"email": "x@acme.org", "quota": "1Gi"}
    assert plan.to_status() == document["plan"]


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_a_request_carrying_a_password_is_denied_and_the_password_appears_nowhere(as_json: bool) -> None:
    user = {
        "category": "identity",
        "action": "create",
        "resource_type": "user",
        "entities": {"username": "bob"},
    }
    arguments = ["create user bob with password hunter2", "--intent", json.dumps(user)]
    result = run(*arguments, *(["--json"] if as_json else []))
    assert result.exit_code == 0
    assert "hunter2" not in result.output
    assert "no-plaintext-secrets" in result.output
    if as_json:
        assert json.loads(result.output)["policy"]["decision"] == "Denied"
    else:
        assert "Decision  Denied -> Denied" in result.output


@pytest.mark.usefixtures("home")
def test_a_request_without_a_plan_shows_no_decision_but_what_is_missing() -> None:
    result = run("grant alice edit access", "--namespace", "shop")
    assert "Decision  none: no plan to judge -> NeedsInfo" in result.output
    assert "missing required parameter `namespace`" in result.output  # never a silent cluster-wide grant


def test_cluster_admin_is_cluster_wide_by_definition_and_needs_no_namespace() -> None:
    result = run("make bob cluster-admin", "--namespace", "shop")
    assert "Plan      identity.grant.access  role=cluster-admin username=bob" in result.output


def test_the_table_lists_every_policy_with_its_result() -> None:
    result = run("create an email", "--intent", json.dumps(CREATE_EMAIL), "--now", MONDAY_10, *WITH_MFA)
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["catalog-requires-approval", "approval", "medium"] for line in lines)
    assert any(line.split()[:2] == ["no-production-deletion", "pass"] for line in lines)
    assert "Decision  ApprovalRequired -> AwaitingApproval (1 approval(s) from opsgate-approvers)" in result.output


@pytest.mark.usefixtures("home")
def test_groups_labels_and_history_reach_the_policies() -> None:
    delete_namespace = {
        "category": "provision",
        "action": "delete",
        "resource_type": "namespace",
        "entities": {"name": "web"},
    }
    base = ["delete namespace web", "--intent", json.dumps(delete_namespace), "--now", MONDAY_10]
    assert results_by_policy(run_json(*base))["mfa-for-privileged-operations"] == "deny"
    assert results_by_policy(run_json(*base, "--groups", "dev,opsgate-mfa"))["mfa-for-privileged-operations"] == "pass"
    assert results_by_policy(run_json(*base, "--extra", "amr=pwd,mfa"))["mfa-for-privileged-operations"] == "pass"
    assert results_by_policy(run_json(*base, "--history", "delete=5"))["rate-limits"] == "deny"


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give the request TEXT or --intent JSON"),
        (["x", "--intent", "{not json"], "not a valid intent"),
        (
            ["x", "--intent", json.dumps(CREATE_EMAIL), "--now", "yesterday"],
            "'yesterday' is not an ISO 8601 time",
        ),
        (
            ["x", "--intent", json.dumps(CREATE_EMAIL), "--history", "delete=many"],
            "the count must be a whole number",
        ),
        (["x", "--intent", json.dumps(CREATE_EMAIL), "--label", "novalue"], "'novalue' is not K=V"),
    ],
    ids=["nothing", "bad-intent", "bad-now", "bad-history", "bad-label"],
)
def test_bad_arguments_are_usage_errors(arguments: list[str], message: str) -> None:
    result = run(*arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_a_broken_policy_set_stops_the_command_with_the_file_named(home: Path) -> None:
    (home / "policies" / "broken.yaml").write_text("version: 1\nrules: [{name: x}]\n")
    result = run("x", "--intent", json.dumps(CREATE_EMAIL))
    assert result.exit_code == 1
    assert "broken.yaml: rule 'x': category: Field required" in result.output


# With the rule parser merged (issue 3), the done-when sentences are checked from plain text.
TEXT_SCENARIOS = [
    ("Delete the production cluster payments-prod", [], "Denied", "no-production-deletion"),
    ("create an email for x@acme.org", ["--now", MONDAY_10, *WITH_MFA], "ApprovalRequired",
     "catalog-requires-approval"),
    # The seed: user.mfa_enabled == false AND plan.requires_approval == true -> deny
    ("create an email for john@acme.org in production", ["--now", MONDAY_10], "Denied",
     "mfa-for-privileged-operations"),
    ("create user bob with password hunter2", [], "Denied", "no-plaintext-secrets"),
]  # fmt: skip


@pytest.mark.usefixtures("home")
@pytest.mark.parametrize(
    ("text", "options", "decision", "policy"),
    TEXT_SCENARIOS,
    ids=["delete-prod", "email", "email-without-mfa", "password"],
)
def test_a_plain_text_request_is_parsed_and_decided(text: str, options: list[str], decision: str, policy: str) -> None:
    pytest.importorskip("opsgate.parsing.rules")
    document = run_json(text, *options)
    assert document["policy"]["decision"] == decision
    assert results_by_policy(document)[policy] in {"deny", "approval"}
    assert "hunter2" not in json.dumps(document)
