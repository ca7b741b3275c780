"""Plans: validated parameters, the environment and tags, and a digest bound to what runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from opsgate import catalog
from opsgate.intent import Intent, Parser
from opsgate.plan import (
    ANNOTATION_ROLLBACK_PLAN,
    NeedsInfo,
    Plan,
    PlanError,
    RequestContext,
    Requester,
    build_plan,
    content_hash,
    recompute_digest,
    resolve_environment,
)

CATALOG = catalog.load_catalog(Path(__file__).parents[2] / "policies" / "actions.yaml", check_executors=False)
IMAGE = "ghcr.io/opsgate/opsgate:test"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An OpsGate home holding a small file or directory for every executor of the catalog."""
    for entry in CATALOG.entries.values():
        if entry.executor.path is None:
            continue
        target = tmp_path / entry.executor.path
        if entry.executor.kind is catalog.ExecutorKind.TERRAFORM:
            target.mkdir(parents=True, exist_ok=True)
            (target / "main.tf").write_text(f"# {entry.executor.path}\n")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"- hosts: localhost # {entry.key}\n")
    return tmp_path


def context(**changes: Any) -> RequestContext:
    base: dict[str, Any] = {"text": "", "requester": Requester(username="alice"), "namespace": "team-a"}
    return RequestContext(**{**base, **changes})


def intent(key: str, parser: Parser = Parser.RULES, **entities: Any) -> Intent:
    category, action, resource_type = key.split(".")
    return Intent(
        category=category,
        action=action,
        resource_type=resource_type,
        entities=entities,
        parser=parser,
        confidence=0.9,
    )


def plan_for(home: Path, key: str, *, ctx: RequestContext | None = None, image: str = IMAGE, **entities: Any) -> Plan:
    built = build_plan(
        intent(key, **entities),
        CATALOG.entries[key],
        context=ctx or context(),
        home=home,
        executor_image=image,
    )
    assert isinstance(built, Plan), built
    return built


def test_defaults_are_applied_and_the_executor_is_fixed_by_the_catalog(home: Path) -> None:
    plan = plan_for(home, "provision.create.email", email="x@acme.org")
    assert plan.parameters == {"email": "x@acme.org", "quota": "1Gi"}
    assert plan.executor.playbook == "playbooks/provision/create-email.yml"
    assert plan.executor.image == IMAGE
    assert plan.requires_approval
    assert plan.requester == "alice"


INVALID = [
    ("provision.create.email", {}, "missing required parameter `email`", ("email",)),
    (
        "provision.scale.deployment",
        {"name": "web", "replicas": 500},
        "`replicas` must be ≤ 100 (got 500)",
        ("replicas",),
    ),
    (
        "provision.scale.deployment",
        {"name": "web", "replicas": -1},
        "`replicas` must be ≥ 0 (got -1)",
        ("replicas",),
    ),
    (
        "identity.grant.access",
        {"username": "bob", "role": "root", "namespace": "ops"},
        "`role` must be one of view, edit, admin, cluster-admin (got 'root')",
        ("role",),
    ),
    (
        "provision.create.email",
        {"email": "not-an-email"},
        "`email` is not valid (got 'not-an-email')",
        ("email",),
    ),
    ("security.enable.mtls", {}, "one of `namespace`, `service` is required", ("namespace",)),
    (
        "provision.scale.deployment",
        {"name": "web", "replicas": "many"},
        "`replicas` must be of type integer",
        ("replicas",),
    ),
]


@pytest.mark.parametrize(
    ("key", "entities", "message", "fields"),
    INVALID,
    ids=["missing", "above-maximum", "below-minimum", "not-in-enum", "bad-pattern", "any-of", "wrong-type"],
)
def test_invalid_parameters_need_info_naming_the_field(
    home: Path, key: str, entities: dict[str, Any], message: str, fields: tuple[str, ...]
) -> None:
    outcome = build_plan(
        intent(key, **entities), CATALOG.entries[key], context=context(), home=home, executor_image=IMAGE
    )
    assert isinstance(outcome, NeedsInfo)
    assert message in outcome.message
    assert outcome.fields == fields


def test_a_parser_s_stray_entity_is_dropped_but_a_structured_intent_s_is_refused(home: Path) -> None:
    parsed = plan_for(home, "provision.create.email", email="x@acme.org", region="us-east-1")
    assert "region" not in parsed.parameters
    structured = build_plan(
        intent("provision.create.email", Parser.SPEC, email="x@acme.org", quot="2Gi"),
        CATALOG.entries["provision.create.email"],
        context=context(),
        home=home,
        executor_image=IMAGE,
    )
    assert isinstance(structured, NeedsInfo)
    assert structured.message.startswith("unknown parameter `quot` (provision.create.email takes `email`")


LABELLED = "opsgate.dev/environment"
ENVIRONMENTS: list[tuple[str, dict[str, str], dict[str, str], dict[str, str], str | None, tuple[str, ...]]] = [
    # (id, entities, spec, namespace labels, planned, warnings)
    ("label-alone", {}, {}, {LABELLED: "dev"}, "dev", ()),
    ("entity-alone", {"environment": "staging"}, {}, {}, "staging", ()),
    ("spec-alone", {}, {"environment": "production"}, {}, "production", ()),
    ("nothing", {}, {}, {}, None, ()),
    ("entity-agrees-with-label", {"environment": "production"}, {}, {LABELLED: "production"}, "production", ()),
    ("label-overrules-a-laxer-entity", {"environment": "dev"}, {}, {LABELLED: "production"}, "production",
     ("the request says dev but namespace team-a is labelled production: planned as production",)),
    ("label-overrules-a-laxer-spec", {}, {"environment": "staging"}, {LABELLED: "production"}, "production",
     ("spec.environment says staging but namespace team-a is labelled production: planned as production",)),
    ("a-stricter-entity-raises-the-label", {"environment": "production"}, {}, {LABELLED: "dev"}, "production",
     ("the request says production but namespace team-a is labelled dev: planned as production",)),
    ("both-stated-both-laxer", {"environment": "dev"}, {"environment": "staging"}, {LABELLED: "production"},
     "production",
     ("the request says dev but namespace team-a is labelled production: planned as production",
      "spec.environment says staging but namespace team-a is labelled production: planned as production")),
    ("entity-and-spec-disagree-without-label", {"environment": "staging"}, {"environment": "dev"}, {}, "staging",
     ("the request says staging but spec.environment is dev: planned as staging",)),
    ("spec-stricter-than-entity", {"environment": "dev"}, {"environment": "production"}, {}, "production",
     ("the request says dev but spec.environment is production: planned as production",)),
    ("label-spelt-prod", {"environment": "dev"}, {}, {LABELLED: "prod"}, "production",
     ("the request says dev but namespace team-a is labelled production: planned as production",)),
    ("unknown-label-never-laxer", {"environment": "dev"}, {}, {LABELLED: "qa"}, "qa",
     ("the request says dev but namespace team-a is labelled qa: planned as qa",)),
    ("unknown-label-loses-to-production", {"environment": "production"}, {}, {LABELLED: "qa"}, "production",
     ("the request says production but namespace team-a is labelled qa: planned as production",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entities", "spec", "namespace_labels", "expected", "warnings"),
    [e[1:] for e in ENVIRONMENTS],
    ids=[e[0] for e in ENVIRONMENTS],
)
def test_the_environment_is_the_strictest_of_the_namespace_label_and_what_the_request_states(
    entities: dict[str, str],
    spec: dict[str, str],
    namespace_labels: dict[str, str],
    expected: str | None,
    warnings: tuple[str, ...],
) -> None:
    resolved = resolve_environment(
        intent("provision.create.namespace", name="web", **entities), context(namespace_labels=namespace_labels, **spec)
    )
    assert (resolved.value, resolved.warnings) == (expected, warnings)


@pytest.mark.parametrize(
    ("entities", "spec", "namespace_labels", "expected"),
    [e[1:5] for e in ENVIRONMENTS if e[4] in ("dev", "staging", "production", None)],
    ids=[e[0] for e in ENVIRONMENTS if e[4] in ("dev", "staging", "production", None)],
)
def test_the_plan_its_tags_and_its_environment_parameter_carry_the_resolved_environment(
    home: Path,
    entities: dict[str, str],
    spec: dict[str, str],
    namespace_labels: dict[str, str],
    expected: str | None,
) -> None:
    ctx = context(namespace_labels=namespace_labels, **spec)
    plan = plan_for(home, "provision.create.namespace", ctx=ctx, name="web", **entities)
    assert plan.environment == expected
    assert plan.tags.environment == expected
    assert plan.parameters.get("environment") == expected


def test_tags_come_from_the_requester_and_labels_with_the_request_label_winning(home: Path) -> None:
    ctx = context(
        labels={"opsgate.dev/project": "shop"},
        namespace_labels={"opsgate.dev/project": "platform", "opsgate.dev/cost-center": "cc-42"},
    )
    tags = plan_for(home, "provision.create.namespace", ctx=ctx, name="web").tags
    assert tags.model_dump() == {
        "owner": "alice",
        "project": "shop",
        "environment": None,
        "cost_center": "cc-42",
    }


def test_the_digest_names_its_algorithm_like_an_oci_digest(home: Path) -> None:
    digest = plan_for(home, "provision.create.cluster", name="web").digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


def test_the_digest_is_stable_and_changes_with_everything_that_decides_what_runs(home: Path) -> None:
    base = plan_for(home, "provision.create.cluster", name="web")
    assert plan_for(home, "provision.create.cluster", name="web").digest == base.digest
    assert plan_for(home, "provision.create.cluster", name="web", node_count=4).digest != base.digest
    assert plan_for(home, "provision.create.cluster", name="web", image="other:1").digest != base.digest
    (home / "terraform/modules/cluster/variables.tf").write_text('variable "x" {}\n')
    assert plan_for(home, "provision.create.cluster", name="web").digest != base.digest


def test_the_digest_covers_the_catalog_entry(home: Path) -> None:
    plan = plan_for(home, "provision.create.cluster", name="web")
    entry = CATALOG.entries["provision.create.cluster"]
    assert recompute_digest(plan, entry, home=home) == plan.digest
    riskier = entry.model_copy(update={"risk": catalog.Risk.LOW})
    assert recompute_digest(plan, riskier, home=home) != plan.digest


def test_the_content_hash_covers_sorted_relative_paths_and_bytes(tmp_path: Path) -> None:
    module = tmp_path / "terraform" / "m"
    (module / "sub").mkdir(parents=True)
    (module / "main.tf").write_text("a")
    (module / "sub" / "x.tf").write_text("b")
    first = content_hash(tmp_path, "terraform/m")
    (module / "sub" / "x.tf").rename(module / "sub" / "y.tf")
    assert content_hash(tmp_path, "terraform/m") != first
    (module / "sub" / "y.tf").rename(module / "sub" / "x.tf")
    assert content_hash(tmp_path, "terraform/m") == first


@pytest.mark.parametrize(
    ("relative", "message"),
    [("../outside.yml", "leaves the OpsGate home"), ("playbooks/missing.yml", "does not exist")],
    ids=["escapes-home", "missing"],
)
def test_an_executor_outside_the_home_or_missing_is_a_plan_error(tmp_path: Path, relative: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        content_hash(tmp_path / "home", relative)


def test_an_informational_plan_runs_nothing_so_has_no_content_hash(home: Path) -> None:
    plan = plan_for(home, "observability.query.logs", service="payments")
    assert plan.informational
    assert plan.executor.content_hash == ""
    assert plan.parameters == {"service": "payments", "since": "1h"}


def test_the_status_form_is_camel_case_and_reads_back_into_the_same_plan(home: Path) -> None:
    plan = plan_for(home, "provision.create.email", email="x@acme.org")
    status = plan.to_status()
    assert set(status) >= {"action", "parameters", "executor", "digest", "requiresApproval", "rateClass"}
    assert status["executor"] == {
        "kind": "ansible",
        "playbook": "playbooks/provision/create-email.yml",
        "image": IMAGE,
        "contentHash": plan.executor.content_hash,
    }
    assert Plan.model_validate(status) == plan


@pytest.mark.parametrize(
    ("text", "annotations", "expected"),
    [
        ("scale web to 5 in production. Rollback: scale back to 3", {}, "scale back to 3"),
        ("scale web to 5, rollback plan: redeploy v1", {}, "redeploy v1"),
        ("scale web to 5", {ANNOTATION_ROLLBACK_PLAN: "kubectl rollout undo"}, "kubectl rollout undo"),
        ("scale web to 5 and roll back if needed", {}, ""),
    ],
    ids=["text", "text-plan", "annotation", "none"],
)
def test_a_rollback_plan_is_read_from_the_text_or_the_annotation(
    text: str, annotations: dict[str, str], expected: str
) -> None:
    assert context(text=text, annotations=annotations).rollback_plan == expected
