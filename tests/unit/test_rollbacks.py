"""Validation and rollback declarations in the catalog, and the inverse request ``opsgate rollback`` makes.

Real catalog and files; the executor's side (capture, validate, undo) runs in tests/unit/test_execute.py
through ansible-runner and in tests/e2e/test_rollback.py on the cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate import catalog, paths, plan
from opsgate.controller import rollbacks
from opsgate.execute import rollback, verify
from opsgate.execute.result import Reason
from opsgate.intent import Intent, Parser

SCALE = "provision.scale.deployment"
RESTART = "provision.restart.deployment"
IMAGE = "ghcr.io/opsgate/opsgate:test"


@pytest.fixture(scope="module")
def actions() -> catalog.Catalog:
    return catalog.load_catalog()


def shipped_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(paths.catalog_file().read_text())
    return document


def test_the_scale_entry_declares_its_validation_and_its_inverse(actions: catalog.Catalog) -> None:
    entry = actions.entries[SCALE]
    assert entry.validation is not None
    assert entry.validation.timeout_seconds == 60
    assert entry.rollback_action == SCALE
    assert entry.step_playbooks == (
        "playbooks/capture/deployment-replicas.yml",
        "playbooks/validate/deployment-rollout.yml",
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"rollback": {"capture": "playbooks/capture/deployment-replicas.yml", "action": "provision.reboot.moon"}},
         "rollback action 'provision.reboot.moon' is not an ansible entry"),
        ({"validation": {"playbook": "playbooks/validate/missing.yml"}}, "does not exist"),
        ({"validation": {"playbook": "/etc/passwd"}}, "validation.playbook"),
        ({"validation": {"playbook": "playbooks/validate/deployment-rollout.yml", "timeoutSeconds": 0}},
         "timeoutSeconds"),
    ],
    ids=["unknown-inverse", "missing-playbook", "outside-playbooks", "no-time-at-all"],
)  # fmt: skip
def test_a_malformed_validation_or_rollback_fails_at_load(change: dict[str, Any], says: str) -> None:
    document = shipped_document()
    document["actions"][SCALE].update(change)
    with pytest.raises(catalog.CatalogError, match=says):
        catalog.parse_catalog(document, source="test", home=paths.home())


def test_the_digest_covers_the_validation_and_capture_playbooks(tmp_path: Path, actions: catalog.Catalog) -> None:
    entry = actions.entries[SCALE]
    home = paths.home()
    before = plan.entry_content_hash(home, entry)
    copy = tmp_path / "home"
    for folder in ("policies", "playbooks"):
        shutil.copytree(home / folder, copy / folder)
    assert plan.entry_content_hash(copy, entry) == before
    validation = copy / "playbooks/validate/deployment-rollout.yml"
    validation.write_text(validation.read_text().replace("--timeout=", "--timeout=9999s --ignored="))
    assert plan.entry_content_hash(copy, entry) != before
    restart = actions.entries["provision.restart.deployment"]  # no steps: its digest does not move
    assert plan.entry_content_hash(home, restart) == plan.content_hash(home, str(restart.executor.path))


def home_copy(folder: Path) -> Path:
    """The shipped catalog and playbooks in a folder of the test's own, to change them in."""
    for part in ("policies", "playbooks", "terraform"):
        shutil.copytree(paths.home() / part, folder / part)
    return folder


def undone_by_another_entry(home: Path) -> catalog.Catalog:
    """The shipped catalog, but scaling is undone by another entry (a restart), as a platform team may write."""
    document = shipped_document()
    document["actions"][SCALE]["rollback"]["action"] = RESTART
    return catalog.parse_catalog(document, source="test", home=home)


def scale_plan(actions: catalog.Catalog, home: Path, *, cover_rollback: bool = True) -> plan.Plan:
    entry = actions.entries[SCALE]
    wanted = Intent(
        category="provision",
        action="scale",
        resource_type="deployment",
        entities={"name": "checkout", "replicas": 3},
        parser=Parser.RULES,
        confidence=0.9,
    )
    context = plan.RequestContext(text="", requester=plan.Requester(username="alice"), namespace="team-a")
    built = plan.build_plan(
        wanted,
        entry,
        context=context,
        home=home,
        executor_image=IMAGE,
        inverse=plan.inverse_entry(entry, actions) if cover_rollback else None,
    )
    assert isinstance(built, plan.Plan), built
    return built


def test_an_entry_that_is_its_own_inverse_has_no_other_entry_to_cover(actions: catalog.Catalog) -> None:
    assert plan.inverse_entry(actions.entries[SCALE], actions) is None
    assert plan.inverse_entry(actions.entries[RESTART], actions) is None  # no rollback at all


def test_the_digest_covers_the_playbook_of_the_entry_a_rollback_names(tmp_path: Path) -> None:
    home = home_copy(tmp_path / "home")
    actions = undone_by_another_entry(home)
    entry, inverse = actions.entries[SCALE], actions.entries[RESTART]
    assert plan.inverse_entry(entry, actions) == inverse
    assert plan.step_files(entry, inverse=inverse)[-1] == inverse.executor.path
    before = scale_plan(actions, home)
    assert before.digest != plan.recompute_digest(before, entry, home=home)  # the inverse left out: not this plan
    assert plan.recompute_digest(before, entry, home=home, inverse=inverse) == before.digest

    undo = home / str(inverse.executor.path)
    undo.write_text(undo.read_text() + "\n# the way back changed after planning\n")
    after = scale_plan(actions, home)
    assert after.digest != before.digest
    assert after.executor.content_hash != before.executor.content_hash


def test_the_digest_covers_the_inverse_entry_itself(tmp_path: Path) -> None:
    home = home_copy(tmp_path / "home")
    actions = undone_by_another_entry(home)
    document = shipped_document()
    document["actions"][SCALE]["rollback"]["action"] = RESTART
    document["actions"][RESTART]["risk"] = "low" if document["actions"][RESTART]["risk"] != "low" else "high"
    changed = catalog.parse_catalog(document, source="test", home=home)
    assert scale_plan(changed, home).digest != scale_plan(actions, home).digest


def test_the_executor_refuses_a_plan_whose_rollback_playbook_differs_from_its_own(tmp_path: Path) -> None:
    planned_home, image_home = home_copy(tmp_path / "planned"), home_copy(tmp_path / "image")
    planned = scale_plan(undone_by_another_entry(planned_home), planned_home).to_status()
    actions = undone_by_another_entry(image_home)
    verified = verify.verify(planned, actions=actions, home=image_home, executor_image=IMAGE)  # same files: runs
    assert verified.entry.key == SCALE

    undo = image_home / str(actions.entries[RESTART].executor.path)
    undo.write_text(undo.read_text() + "\n# not the way back that was approved\n")
    with pytest.raises(verify.RefusalError) as refused:
        verify.verify(planned, actions=actions, home=image_home, executor_image=IMAGE)
    assert refused.value.reason is Reason.DIGEST_MISMATCH
    assert planned["digest"] in refused.value.message
    assert str(actions.entries[RESTART].executor.path) in refused.value.message


def test_the_executor_refuses_a_plan_made_without_the_rollbacks_entry(tmp_path: Path) -> None:
    home = home_copy(tmp_path / "home")
    actions = undone_by_another_entry(home)
    uncovered = scale_plan(actions, home, cover_rollback=False)  # a planner that left the inverse out
    with pytest.raises(verify.RefusalError) as refused:
        verify.verify(uncovered.to_status(), actions=actions, home=home, executor_image=IMAGE)
    assert refused.value.reason is Reason.DIGEST_MISMATCH


@pytest.mark.parametrize(
    ("published", "says"),
    [
        ({}, "published no rollback_parameters"),
        ({"rollback_parameters": {"name": "web", "namespace": "shop", "replicas": "many"}}, "replicas"),
        ({"rollback_parameters": {"name": "web", "replicas": 1, "command": "rm -rf /"}}, "Additional properties"),
    ],
    ids=["nothing", "not-a-count", "smuggled-parameter"],
)
def test_captured_parameters_the_inverse_cannot_take_stop_the_change_before_it_runs(
    actions: catalog.Catalog, published: dict[str, Any], says: str
) -> None:
    entry = actions.entries[SCALE]
    with pytest.raises(rollback.CaptureError, match=says):
        rollback.inverse_parameters(published, entry=entry, inverse=entry)


def test_captured_digits_become_the_count_the_schema_asks_for(actions: catalog.Catalog) -> None:
    entry = actions.entries[SCALE]
    published = {"rollback_parameters": {"name": "web", "namespace": "shop", "replicas": "3"}}
    assert rollback.inverse_parameters(published, entry=entry, inverse=entry) == {
        "name": "web",
        "namespace": "shop",
        "replicas": 3,
    }


def ran(state: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"summary": "scaled"}
    if state:
        result["rollback"] = {
            "action": SCALE,
            "parameters": {"name": "web", "namespace": "shop", "replicas": 1},
            "state": state,
        }
    return {
        "metadata": {"name": "grow", "namespace": "shop", "labels": {"opsgate.dev/project": "p", "team": "x"}},
        "status": {"phase": "Succeeded", "result": result},
    }


def test_a_rollback_is_a_new_structured_request_as_the_person_asking() -> None:
    made = rollbacks.inverse_request(ran("Available"), requester="alice", groups=["system:authenticated", "ops"])
    assert made["metadata"]["name"] == "grow-rollback"
    assert made["metadata"]["labels"] == {"opsgate.dev/project": "p", rollbacks.LABEL_ROLLBACK_OF: "grow"}
    assert made["spec"]["requester"] == "alice"
    assert made["spec"]["requesterGroups"] == ["ops", "system:authenticated"]
    assert made["spec"]["intent"] == {
        "category": "provision",
        "action": "scale",
        "resource_type": "deployment",
        "entities": {"name": "web", "namespace": "shop", "replicas": 1},
    }
    assert (
        made["spec"]["request"]
        == "roll back grow: provision.scale.deployment with name web, namespace shop, replicas 1"
    )


@pytest.mark.parametrize(
    ("state", "says"),
    [(None, "recorded no rollback"), ("RolledBack", "already rolled back")],
    ids=["nothing-recorded", "undone-already"],
)
def test_a_request_that_cannot_be_rolled_back_says_why(state: str | None, says: str) -> None:
    with pytest.raises(rollbacks.RollbackError, match=says):
        rollbacks.inverse_request(ran(state), requester="alice", groups=[])
