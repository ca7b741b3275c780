"""The shipped policy set (policies/*.yaml), one table of scenarios per policy, boundaries included."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate import catalog, paths
from opsgate.intent import Intent
from opsgate.plan import Plan, RequestContext, Requester, build_plan
from opsgate.policy import Decision, Outcome, PolicyInputs, PolicyLoadError, PolicyReport, PolicySet

POLICY_DIR = Path(__file__).parents[2] / "policies"
CATALOG = catalog.load_catalog(POLICY_DIR / "actions.yaml", check_executors=False)
POLICIES = PolicySet.load(POLICY_DIR)
UTC = datetime.UTC


def at(day: int, hour: int, minute: int = 0, zone: datetime.tzinfo = UTC) -> datetime.datetime:
    """A time in the week of Monday 2025-01-06 (day 0 = Monday … 5 = Saturday)."""
    return datetime.datetime(2025, 1, 6 + day, hour, minute, tzinfo=zone)


MONDAY_10 = at(0, 10)
PLUS_ONE_HOUR = datetime.timezone(datetime.timedelta(hours=1))
ROLLBACK = "rollback: scale back to 3 replicas"
TAG_LABELS = {"opsgate.dev/project": "shop", "opsgate.dev/cost-center": "cc-42"}


@pytest.fixture(scope="module")
def home() -> Path:
    """The repository itself: the shipped playbooks and modules the plans hash."""
    return paths.home()


def judge(
    home: Path,
    key: str,
    *,
    policies: PolicySet = POLICIES,
    now: datetime.datetime = MONDAY_10,
    text: str = "",
    groups: tuple[str, ...] = (),
    extra: dict[str, list[str]] | None = None,
    labels: dict[str, str] | None = None,
    history: dict[str, int] | None = None,
    parameters: dict[str, Any] | None = None,
    **entities: Any,
) -> PolicyReport:
    category, action, resource_type = key.split(".")
    intent = Intent(category=category, action=action, resource_type=resource_type, entities=entities, confidence=1.0)
    context = RequestContext(
        text=text,
        requester=Requester(username="alice", groups=groups, extra=extra or {}),
        namespace="team-a",
        labels=labels or {},
    )
    plan = build_plan(intent, CATALOG.entries[key], context=context, home=home, executor_image="img:1")
    assert isinstance(plan, Plan), plan
    if parameters:
        plan = plan.model_copy(update={"parameters": {**plan.parameters, **parameters}})
    inputs = PolicyInputs(
        request=context, intent=intent, plan=plan, requester=context.requester, now=now, history=history or {}
    )
    return policies.evaluate(inputs)


def result_of(report: PolicyReport, policy: str) -> Outcome:
    [result] = [r for r in report.results if r.policy == policy]
    return result.result


PROD_SCALE: dict[str, Any] = {"name": "web", "replicas": 5, "environment": "production", "text": ROLLBACK}

ROUTE: dict[str, Any] = {"name": "web", "labels": {"opsgate.dev/alert-route": "restart-crashlooping"}}

SCENARIOS: list[tuple[str, str, str, dict[str, Any], Outcome]] = [
    # no-production-deletion
    ("delete-in-production", "no-production-deletion", "provision.delete.cluster",
     {"name": "payments-prod", "environment": "production"}, Outcome.DENY),
    ("delete-in-staging", "no-production-deletion", "provision.delete.cluster",
     {"name": "payments", "environment": "staging"}, Outcome.PASS),
    ("create-in-production", "no-production-deletion", "provision.create.namespace",
     {"name": "web", "environment": "production", "text": ROLLBACK}, Outcome.PASS),
    # production-change-windows (Mon and Wed 09:00-17:00 UTC)
    ("saturday-0300", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(5, 3)}, Outcome.DENY),
    ("monday-0859", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(0, 8, 59)}, Outcome.DENY),
    ("monday-0900", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(0, 9)}, Outcome.PASS),
    ("monday-1659", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(0, 16, 59)}, Outcome.PASS),
    ("monday-1700", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(0, 17)}, Outcome.DENY),
    ("tuesday-1000", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(1, 10)}, Outcome.DENY),
    ("wednesday-1659", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": at(2, 16, 59)}, Outcome.PASS),
    ("monday-1659-at-plus-one-is-1559-utc", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "now": datetime.datetime(2025, 1, 6, 16, 59, tzinfo=PLUS_ONE_HOUR)},
     Outcome.PASS),
    ("staging-on-saturday", "production-change-windows", "provision.scale.deployment",
     {**PROD_SCALE, "environment": "staging", "now": at(5, 3)}, Outcome.PASS),
    ("production-logs-on-saturday", "production-change-windows", "observability.query.logs",
     {"service": "web", "environment": "production", "now": at(5, 3)}, Outcome.PASS),
    # rate-limits: history counts earlier requests in the hour
    ("10th-provision", "rate-limits", "provision.create.namespace",
     {"name": "web", "history": {"provision": 9}}, Outcome.PASS),
    ("11th-provision", "rate-limits", "provision.create.namespace",
     {"name": "web", "history": {"provision": 10}}, Outcome.DENY),
    ("5th-delete", "rate-limits", "provision.delete.namespace",
     {"name": "web", "groups": ("opsgate-mfa",), "history": {"delete": 4}}, Outcome.PASS),
    ("6th-delete", "rate-limits", "provision.delete.namespace",
     {"name": "web", "groups": ("opsgate-mfa",), "history": {"delete": 5}}, Outcome.DENY),
    ("20th-rotate", "rate-limits", "security.rotate.secret",
     {"service": "web", "groups": ("opsgate-mfa",), "history": {"rotate": 19}}, Outcome.PASS),
    ("21st-rotate", "rate-limits", "security.rotate.secret",
     {"service": "web", "groups": ("opsgate-mfa",), "history": {"rotate": 20}}, Outcome.DENY),
    ("other-class-does-not-count", "rate-limits", "provision.create.namespace",
     {"name": "web", "history": {"delete": 50}}, Outcome.PASS),
    ("reads-are-unlimited", "rate-limits", "compliance.generate.sbom",
     {"image": "nginx:1.27", "history": {"read": 1000}}, Outcome.PASS),
    # mfa-for-privileged-operations (config.mfa.require: approval, the seed's rule: no MFA and the
    # plan needs an approval -> deny; privileged actions need MFA too)
    ("catalog-approval-without-mfa", "mfa-for-privileged-operations", "provision.create.email",
     {"email": "john@acme.org", "environment": "production", "text": ROLLBACK}, Outcome.DENY),
    ("catalog-approval-with-mfa", "mfa-for-privileged-operations", "provision.create.email",
     {"email": "john@acme.org", "groups": ("opsgate-mfa",)}, Outcome.PASS),
    ("approval-asked-by-another-rule-without-mfa", "mfa-for-privileged-operations", "provision.scale.deployment",
     {**PROD_SCALE, "text": "scale web to 5"}, Outcome.DENY),
    ("no-approval-asked-without-mfa", "mfa-for-privileged-operations", "provision.scale.deployment",
     PROD_SCALE, Outcome.PASS),
    ("privileged-without-approval-without-mfa", "mfa-for-privileged-operations", "security.rotate.secret",
     {"service": "web"}, Outcome.DENY),
    ("privileged-without-mfa", "mfa-for-privileged-operations", "provision.delete.namespace",
     {"name": "web"}, Outcome.DENY),
    ("privileged-with-mfa-group", "mfa-for-privileged-operations", "provision.delete.namespace",
     {"name": "web", "groups": ("dev", "opsgate-mfa")}, Outcome.PASS),
    ("privileged-with-mfa-claim", "mfa-for-privileged-operations", "provision.delete.namespace",
     {"name": "web", "extra": {"amr": ["pwd", "mfa"]}}, Outcome.PASS),
    ("privileged-with-password-only-claim", "mfa-for-privileged-operations", "provision.delete.namespace",
     {"name": "web", "extra": {"amr": ["pwd"]}}, Outcome.DENY),
    ("not-privileged", "mfa-for-privileged-operations", "provision.create.namespace",
     {"name": "web"}, Outcome.PASS),
    # tls-required-for-websites
    ("website-without-tls", "tls-required-for-websites", "provision.create.website",
     {"domain": "shop.acme.org", "tls": False}, Outcome.DENY),
    ("website-with-default-tls", "tls-required-for-websites", "provision.create.website",
     {"domain": "shop.acme.org"}, Outcome.PASS),
    # required-tags (terraform provisioning)
    ("tags-complete", "required-tags", "provision.create.website",
     {"domain": "shop.acme.org", "environment": "staging", "labels": TAG_LABELS}, Outcome.PASS),
    ("tags-missing", "required-tags", "provision.create.website",
     {"domain": "shop.acme.org"}, Outcome.DENY),
    ("tags-not-needed-for-ansible", "required-tags", "provision.create.namespace",
     {"name": "web"}, Outcome.PASS),
    # data-residency
    ("region-us-east-1", "data-residency", "provision.create.cluster",
     {"name": "web", "region": "us-east-1"}, Outcome.PASS),
    ("region-eu-west-1", "data-residency", "provision.create.cluster",
     {"name": "web", "region": "eu-west-1"}, Outcome.PASS),
    ("region-upper-case", "data-residency", "provision.create.cluster",
     {"name": "web", "parameters": {"region": "EU-WEST-1"}}, Outcome.PASS),
    ("region-ap-south-1", "data-residency", "provision.create.cluster",
     {"name": "web", "region": "ap-south-1"}, Outcome.DENY),
    ("no-region", "data-residency", "provision.create.email",
     {"email": "x@acme.org"}, Outcome.PASS),
    # approvals
    ("catalog-requires-approval", "catalog-requires-approval", "provision.create.email",
     {"email": "x@acme.org"}, Outcome.APPROVAL),
    ("catalog-does-not", "catalog-requires-approval", "provision.create.namespace",
     {"name": "web"}, Outcome.PASS),
    ("critical-risk", "critical-risk-two-approvers", "provision.delete.cluster",
     {"name": "web", "environment": "staging"}, Outcome.APPROVAL),
    ("production-without-rollback", "rollback-plan-for-production", "provision.scale.deployment",
     {**PROD_SCALE, "text": "scale web to 5"}, Outcome.APPROVAL),
    ("production-with-rollback", "rollback-plan-for-production", "provision.scale.deployment",
     PROD_SCALE, Outcome.PASS),
    ("staging-without-rollback", "rollback-plan-for-production", "provision.scale.deployment",
     {**PROD_SCALE, "environment": "staging", "text": ""}, Outcome.PASS),
    # alert-route-autonomy: approved successes since the route's last failure against its promoteAfter
    ("route-not-yet-earned", "alert-route-autonomy", "provision.restart.deployment",
     {**ROUTE, "history": {"routeApprovedSuccesses": 2, "routePromoteAfter": 3}}, Outcome.APPROVAL),
    ("route-earned", "alert-route-autonomy", "provision.restart.deployment",
     {**ROUTE, "history": {"routeApprovedSuccesses": 3, "routePromoteAfter": 3}}, Outcome.PASS),
    ("route-never-promoted", "alert-route-autonomy", "provision.restart.deployment",
     {**ROUTE, "history": {"routeApprovedSuccesses": 50, "routePromoteAfter": 0}}, Outcome.APPROVAL),
    ("route-earned-but-production", "alert-route-autonomy", "provision.restart.deployment",
     {**ROUTE, "environment": "production", "history": {"routeApprovedSuccesses": 3, "routePromoteAfter": 3}},
     Outcome.APPROVAL),
    ("no-route", "alert-route-autonomy", "provision.restart.deployment", {"name": "web"}, Outcome.PASS),
    # no-plaintext-secrets re-scans what reaches the engine
    ("secret-in-text", "no-plaintext-secrets", "provision.create.namespace",
     {"name": "web", "text": "create namespace web, password=hunter2"}, Outcome.DENY),
    ("no-secret", "no-plaintext-secrets", "provision.create.namespace", {"name": "web"}, Outcome.PASS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "key", "options", "expected"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_a_shipped_policy_decides_the_scenario(
    home: Path, policy: str, key: str, options: dict[str, Any], expected: Outcome
) -> None:
    assert result_of(judge(home, key, **options), policy) is expected


def test_every_shipped_policy_has_a_scenario() -> None:
    assert set(POLICIES.names) == {s[1] for s in SCENARIOS}


def test_a_production_deletion_is_denied_whatever_else_applies(home: Path) -> None:
    report = judge(home, "provision.delete.cluster", name="payments-prod", environment="production")
    assert report.decision is Decision.DENIED
    [denial] = [r for r in report.denials if r.policy == "no-production-deletion"]
    assert denial.message == "deleting in production is not allowed (provision.delete.cluster)"
    assert denial.severity == "critical"


def test_an_e_mail_needs_one_approval_from_the_default_approvers(home: Path) -> None:
    report = judge(home, "provision.create.email", email="x@acme.org", groups=("opsgate-mfa",))
    assert report.decision is Decision.APPROVAL_REQUIRED
    assert (report.approval.required_approvals, report.approval.approver_groups) == (
        1,
        ("opsgate-approvers",),
    )


def test_a_critical_action_needs_two_approvals(home: Path) -> None:
    report = judge(home, "provision.delete.cluster", name="web", environment="staging", groups=("opsgate-mfa",))
    assert report.decision is Decision.APPROVAL_REQUIRED
    assert report.approval.required_approvals == 2


def test_a_routine_change_is_allowed(home: Path) -> None:
    assert judge(home, "provision.create.namespace", name="web", environment="dev").decision is Decision.ALLOWED


def test_missing_tags_are_listed_by_name(home: Path) -> None:
    report = judge(home, "provision.create.website", domain="shop.acme.org", labels={"opsgate.dev/project": "shop"})
    [denial] = report.denials
    assert denial.message.startswith("missing required tags: environment, cost_center (")


def test_the_rate_limit_message_says_how_many_and_the_limit(home: Path) -> None:
    report = judge(home, "provision.create.namespace", name="web", history={"provision": 10})
    assert report.denials[0].message == "alice already made 10 provision requests in the last hour (limit 10)"


@pytest.fixture
def paris_policies(tmp_path: Path) -> PolicySet:
    directory = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, directory)
    config = yaml.safe_load((directory / "config.yaml").read_text())
    config["changeWindow"]["timeZone"] = "Europe/Paris"
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    return PolicySet.load(directory)


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [((15, 59), Outcome.PASS), ((16, 0), Outcome.DENY), ((7, 59), Outcome.DENY), ((8, 0), Outcome.PASS)],
    ids=["1659-paris", "1700-paris", "0859-paris", "0900-paris"],
)
def test_the_change_window_follows_the_configured_time_zone(
    home: Path, paris_policies: PolicySet, utc_time: tuple[int, int], expected: Outcome
) -> None:
    report = judge(home, "provision.scale.deployment", policies=paris_policies, now=at(0, *utc_time), **PROD_SCALE)
    assert result_of(report, "production-change-windows") is expected


def test_an_e_mail_in_production_from_a_requester_without_mfa_is_denied_as_the_seed_says(home: Path) -> None:
    report = judge(home, "provision.create.email", email="john@acme.org", environment="production", text=ROLLBACK)
    assert report.decision is Decision.DENIED
    [denial] = report.denials
    assert (denial.policy, denial.message) == (
        "mfa-for-privileged-operations",
        "provision.create.email needs an approval, so its requester needs MFA: be in the group opsgate-mfa "
        "or sign in with MFA (amr)",
    )


def policies_with(tmp_path: Path, **mfa: str) -> PolicySet:
    directory = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, directory)
    config = yaml.safe_load((directory / "config.yaml").read_text())
    config["mfa"].update(mfa)
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    return PolicySet.load(directory)


MFA_REQUIREMENTS = [
    # (id, config.mfa.require, action, entities, result for a requester without MFA)
    ("approval-catalog", "approval", "provision.create.email", {"email": "x@acme.org"}, Outcome.DENY),
    ("approval-privileged", "approval", "security.rotate.secret", {"service": "web"}, Outcome.DENY),
    ("approval-routine", "approval", "provision.create.namespace", {"name": "web"}, Outcome.PASS),
    ("privileged-catalog", "privileged", "provision.create.email", {"email": "x@acme.org"}, Outcome.PASS),
    ("privileged-privileged", "privileged", "security.rotate.secret", {"service": "web"}, Outcome.DENY),
    ("never-privileged", "never", "provision.delete.namespace", {"name": "web"}, Outcome.PASS),
    ("never-catalog", "never", "provision.create.email", {"email": "x@acme.org"}, Outcome.PASS),
]


@pytest.mark.parametrize(
    ("require", "key", "entities", "expected"), [m[1:] for m in MFA_REQUIREMENTS], ids=[m[0] for m in MFA_REQUIREMENTS]
)
def test_the_configuration_says_when_mfa_is_required(
    home: Path, tmp_path: Path, require: str, key: str, entities: dict[str, Any], expected: Outcome
) -> None:
    report = judge(home, key, policies=policies_with(tmp_path, require=require), **entities)
    assert result_of(report, "mfa-for-privileged-operations") is expected


def test_an_unknown_mfa_requirement_fails_the_load(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match=r"mfa\.require"):
        policies_with(tmp_path, require="sometimes")
