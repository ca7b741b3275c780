"""One request through redaction, intent, plan and policy: the phase and messages a requester sees."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from opsgate import catalog, paths, pipeline
from opsgate.intent import Intent, Parser, declined
from opsgate.parsing import rules
from opsgate.plan import RequestContext, Requester
from opsgate.policy import Decision, PolicySet
from opsgate.resources import Phase

POLICY_DIR = Path(__file__).parents[2] / "policies"
CATALOG = catalog.load_catalog(POLICY_DIR / "actions.yaml", check_executors=False)
POLICIES = PolicySet.load(POLICY_DIR)
MONDAY_10 = datetime.datetime(2025, 1, 6, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def home() -> Path:
    """The repository itself: the shipped playbooks and modules the plans hash."""
    return paths.home()


def intent(key: str, **entities: Any) -> Intent:
    category, action, resource_type = key.split(".")
    return Intent(category=category, action=action, resource_type=resource_type, entities=entities, confidence=1.0)


def decide(home: Path, text: str | None, spec_intent: Intent | None = None, **options: Any) -> pipeline.Outcome:
    context = RequestContext(text="", requester=Requester(username="alice"), namespace="team-a")
    arguments: dict[str, Any] = {
        "text": text,
        "intent": spec_intent,
        "catalog": CATALOG,
        "policies": POLICIES,
        "context": context,
        "now": MONDAY_10,
        "history": {},
        "home": home,
        "executor_image": "img:1",
        "parse": None,
    }
    return pipeline.decide(**{**arguments, **options})


def everything_visible(outcome: pipeline.Outcome) -> str:
    """All an outcome can show: text, intent, plan, policy and messages."""
    plan = outcome.plan.to_status() if outcome.plan is not None else None
    return json.dumps(
        [
            outcome.text,
            outcome.intent.model_dump(mode="json"),
            plan,
            outcome.policy.to_status(),
            outcome.messages,
        ],
        ensure_ascii=False,
    ) + repr(outcome)


PHASES = [
    # (id, spec.intent, the requester's groups, phase)
    ("email-needs-approval", intent("provision.create.email", email="x@acme.org"), ("opsgate-mfa",),
     Phase.AWAITING_APPROVAL),
    ("email-without-mfa-is-denied", intent("provision.create.email", email="x@acme.org"), (), Phase.DENIED),
    ("namespace-is-approved", intent("provision.create.namespace", name="web"), (), Phase.APPROVED),
    ("logs-are-answered", intent("observability.query.logs", service="web"), (), Phase.ANSWERED),
    ("production-deletion-is-denied",
     intent("provision.delete.cluster", name="payments-prod", environment="production"), ("opsgate-mfa",),
     Phase.DENIED),
    ("invalid-parameters-need-info", intent("provision.scale.deployment", name="web", replicas=500), (),
     Phase.NEEDS_INFO),
]  # fmt: skip


@pytest.mark.parametrize(("spec_intent", "groups", "phase"), [p[1:] for p in PHASES], ids=[p[0] for p in PHASES])
def test_the_outcome_suggests_the_phase(home: Path, spec_intent: Intent, groups: tuple[str, ...], phase: Phase) -> None:
    context = RequestContext(text="", requester=Requester(username="alice", groups=groups), namespace="team-a")
    assert decide(home, "a request", spec_intent, context=context).phase is phase


def test_invalid_parameters_say_which_field_in_the_messages(home: Path) -> None:
    outcome = decide(home, "scale web", intent("provision.scale.deployment", name="web", replicas=500))
    assert outcome.plan is None
    assert outcome.messages == ("`replicas` must be ≤ 100 (got 500)",)


def test_an_unrecognised_request_needs_info(home: Path) -> None:
    outcome = decide(home, "make it better", parse=lambda text: Intent())
    assert outcome.phase is Phase.NEEDS_INFO
    assert outcome.messages[0].startswith("could not tell which action this request asks for")


def test_an_intent_outside_the_catalog_needs_info(home: Path) -> None:
    outcome = decide(home, None, intent("provision.launch.rocket"))
    assert outcome.phase is Phase.NEEDS_INFO
    assert outcome.messages == ("`provision.launch.rocket` is not an action in the catalog",)


def test_a_password_in_the_text_is_denied_and_appears_nowhere(home: Path) -> None:
    seen: list[str] = []

    def parse(text: str) -> Intent:
        seen.append(text)
        return intent("identity.create.user", username="bob")

    outcome = decide(home, "create user bob with password hunter2", parse=parse)
    assert outcome.phase is Phase.DENIED
    assert [r.policy for r in outcome.policy.denials] == ["no-plaintext-secrets"]
    assert seen == ["create user bob with password [REDACTED]"]
    assert "hunter2" not in everything_visible(outcome)
    assert outcome.messages[0] == "plaintext secrets were found and redacted: password"


def test_a_password_in_a_structured_intent_is_denied_and_redacted(home: Path) -> None:
    spec = intent("identity.create.user", username="bob", password="hunter2")
    outcome = decide(home, None, spec.model_copy(update={"parser": Parser.SPEC}))
    assert outcome.decision is Decision.DENIED
    assert outcome.intent.entities["password"] == "[REDACTED]"
    assert "hunter2" not in everything_visible(outcome)


def test_a_secret_denies_even_a_request_that_could_not_be_planned(home: Path) -> None:
    outcome = decide(home, "here is the token: abc123xyz", parse=lambda text: Intent())
    assert outcome.phase is Phase.DENIED
    assert "abc123xyz" not in everything_visible(outcome)


def test_a_structured_intent_wins_over_parsing(home: Path) -> None:
    outcome = decide(
        home,
        "something else entirely",
        intent("provision.create.namespace", name="web"),
        parse=lambda text: intent("provision.create.email", email="x@acme.org"),
    )
    assert outcome.plan is not None
    assert outcome.plan.action == "provision.create.namespace"


def test_a_declined_request_needs_info_says_why_and_is_never_planned(home: Path) -> None:
    reason = "asks for more than one change: restart deployment a, delete namespace b; submit one request per change"
    outcome = decide(home, "restart a and delete namespace b", parse=lambda text: declined(reason))
    assert outcome.phase is Phase.NEEDS_INFO
    assert outcome.plan is None
    assert outcome.messages == (reason,)


def test_one_change_over_several_targets_is_declined_with_the_reason_and_no_plan(home: Path) -> None:
    outcome = decide(home, "restart web and api in staging", parse=lambda text: rules.parse(text, CATALOG))
    assert outcome.phase is Phase.NEEDS_INFO
    assert outcome.plan is None
    assert not outcome.intent.recognised
    assert outcome.messages == (
        "names several targets (web, api) for one change (restart deployment): submit one request per target",
    )


def test_a_request_for_two_changes_ends_declined_with_both_named_through_the_rule_parser(home: Path) -> None:
    outcome = decide(
        home, "bounce billing-api, then drop namespace billing-old", parse=lambda text: rules.parse(text, CATALOG)
    )
    assert outcome.phase is Phase.NEEDS_INFO
    assert outcome.plan is None
    assert not outcome.intent.recognised
    assert outcome.messages == (
        "asks for more than one change: restart deployment billing-api, delete namespace billing-old; "
        "submit one request per change",
    )


SATURDAY_3 = datetime.datetime(2025, 1, 4, 3, 0, tzinfo=datetime.UTC)
MFA = ("opsgate-mfa",)
IN_DEV = "scale checkout to 0 replicas in dev"
PRODUCTION_NAMESPACE = {"opsgate.dev/environment": "production"}
LABELLED_PRODUCTION = [
    # (id, namespace labels, now, decision, the production rule that decides it)
    ("monday-needs-the-rollback-approval", PRODUCTION_NAMESPACE, MONDAY_10, Decision.APPROVAL_REQUIRED,
     "rollback-plan-for-production"),
    ("saturday-is-outside-the-change-window", PRODUCTION_NAMESPACE, SATURDAY_3, Decision.DENIED,
     "production-change-windows"),
    ("unlabelled-namespace-plans-dev-and-allows", {}, SATURDAY_3, Decision.ALLOWED, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("namespace_labels", "now", "expected", "deciding_rule"),
    [case[1:] for case in LABELLED_PRODUCTION],
    ids=[case[0] for case in LABELLED_PRODUCTION],
)
def test_a_request_saying_dev_in_a_namespace_labelled_production_is_judged_by_the_production_rules(
    home: Path,
    namespace_labels: dict[str, str],
    now: datetime.datetime,
    expected: Decision,
    deciding_rule: str | None,
) -> None:
    context = RequestContext(
        text="", requester=Requester(username="alice", groups=MFA), namespace="shop", namespace_labels=namespace_labels
    )
    outcome = decide(home, IN_DEV, context=context, now=now, parse=lambda text: rules.parse(text, CATALOG))
    assert outcome.intent.entities["environment"] == "dev"
    assert outcome.decision is expected
    assert outcome.plan is not None
    if deciding_rule is None:
        assert (outcome.plan.environment, outcome.warnings) == ("dev", ())
        return
    assert (outcome.plan.environment, outcome.plan.parameters["environment"]) == ("production", "production")
    warning = "the request says dev but namespace shop is labelled production: planned as production"
    assert outcome.warnings == (warning,)
    assert outcome.messages[0] == warning
    assert deciding_rule in {r.policy for r in outcome.policy.results if r.result.value != "pass"}


UNSTATED = [
    # (id, request text, spec.intent, unstated)
    ("another-mailbox", "delete old test mailbox t1@acme.org",
     intent("provision.delete.email", email="ceo@acme.org"), ("email=ceo@acme.org",)),
    ("the-same-mailbox-in-other-case", "delete old test mailbox CEO@Acme.org.",
     intent("provision.delete.email", email="ceo@acme.org"), ()),
    ("a-number-as-written", "scale web to 5 replicas in staging",
     intent("provision.scale.deployment", name="web", replicas=5, environment="staging"), ()),
    ("a-number-not-written", "scale web up a bit",
     intent("provision.scale.deployment", name="web", replicas=50), ("replicas=50",)),
    ("a-part-of-a-token-is-not-a-mention", "create namespace web-old",
     intent("provision.create.namespace", name="web"), ("name=web",)),
    ("no-text-at-all", None,
     intent("provision.create.namespace", name="web"), ("name=web",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "spec_intent", "unstated"), [case[1:] for case in UNSTATED], ids=[case[0] for case in UNSTATED]
)
def test_a_structured_intent_naming_values_the_text_does_not_mention_is_flagged_but_not_denied(
    home: Path, text: str | None, spec_intent: Intent, unstated: tuple[str, ...]
) -> None:
    outcome = decide(home, text, spec_intent.model_copy(update={"parser": Parser.SPEC}))
    assert outcome.unstated == unstated
    flagged = tuple(f"spec.intent names {entity}, which the request text does not mention" for entity in unstated)
    assert outcome.warnings == flagged
    assert set(flagged) <= set(outcome.messages)
    assert all(r.result.value == "pass" or "mention" not in r.message for r in outcome.policy.results)


def test_a_parsed_intent_is_never_flagged_for_unstated_values(home: Path) -> None:
    outcome = decide(home, "mailbox please", parse=lambda text: intent("provision.create.email", email="x@acme.org"))
    assert (outcome.unstated, outcome.warnings) == ((), ())


def test_policies_see_which_entities_a_structured_intent_leaves_unstated(home: Path, tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, directory)
    (directory / "zz-unstated.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - name: unstated-needs-approval\n"
        "    category: security\n"
        "    severity: medium\n"
        "    violation: size(intent.unstated) > 0\n"
        "    decision: approval\n"
        "    messageExpression: \"'not in the text: ' + intent.unstated.join(', ')\"\n"
    )
    spec = intent("provision.create.namespace", name="web").model_copy(update={"parser": Parser.SPEC})
    outcome = decide(home, "create namespace api", spec, policies=PolicySet.load(directory))
    [asked] = [r for r in outcome.policy.results if r.policy == "unstated-needs-approval"]
    assert (asked.result.value, asked.message) == ("approval", "not in the text: name")
