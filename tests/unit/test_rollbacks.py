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
from opsgate.execute import rollback

SCALE = "provision.scale.deployment"


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
