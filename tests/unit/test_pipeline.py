"""One request through redaction, intent, plan and policy: the phase and messages a requester sees."""

from __future__ import annotations

import datetime
import json
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
    (
        "email-needs-approval",
        intent("provision.create.email", email="x@acme.org"),
        Phase.AWAITING_APPROVAL,
    ),
    ("namespace-is-approved", intent("provision.create.namespace", name="web"), Phase.APPROVED),
    ("logs-are-answered", intent("observability.query.logs", service="web"), Phase.ANSWERED),
    (
        "production-deletion-is-denied",
        intent("provision.delete.cluster", name="payments-prod", environment="production"),
        Phase.DENIED,
    ),
    (
        "invalid-parameters-need-info",
        intent("provision.scale.deployment", name="web", replicas=500),
        Phase.NEEDS_INFO,
    ),
]


@pytest.mark.parametrize(("spec_intent", "phase"), [p[1:] for p in PHASES], ids=[p[0] for p in PHASES])
def test_the_outcome_suggests_the_phase(home: Path, spec_intent: Intent, phase: Phase) -> None:
    assert decide(home, "a request", spec_intent).phase is phase


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
