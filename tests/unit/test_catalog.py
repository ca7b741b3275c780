"""The action catalog loads the shipped file and refuses malformed ones with the entry named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgate import catalog

GOOD_ENTRY: dict[str, Any] = {
    "description": "Scale a deployment",
    "parameters": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "replicas": {"type": "integer", "maximum": 10}},
    },
    "defaults": {"replicas": 1},
    "executor": {"kind": "ansible", "playbook": "playbooks/scale.yml"},
    "requiresApproval": False,
    "risk": "low",
    "rateClass": "provision",
}


def _document(**changes: Any) -> dict[str, Any]:
    entry = {**GOOD_ENTRY, **changes}
    return {"version": 1, "actions": {"provision.scale.deployment": entry}}


def test_the_shipped_catalog_has_the_twenty_six_actions_of_the_design() -> None:
    shipped = catalog.load_catalog(check_executors=False)
    assert len(shipped.entries) == 26
    assert "provision.create.email" in shipped
    assert shipped.entries["observability.query.logs"].informational


def test_an_entry_exposes_its_key_parts() -> None:
    parsed = catalog.parse_catalog(_document(), source="t.yaml")
    entry = parsed.entries["provision.scale.deployment"]
    assert (entry.category, entry.action, entry.resource_type) == ("provision", "scale", "deployment")
    assert entry.parameter_names == ("name", "replicas")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"actions": {}}, "unsupported catalog version"),
        ({"version": 1, "actions": {}}, "the catalog has no actions"),
        (
            {"version": 1, "actions": {"provision.scale": GOOD_ENTRY}},
            "key must be category.action.resource_type",
        ),
        (_document(risk="extreme"), "action 'provision.scale.deployment': risk"),
        (_document(executor={"kind": "ansible"}), "an ansible executor needs `playbook`"),
        (_document(parameters={"type": "object"}), "additionalProperties: false"),
        (
            _document(parameters={**GOOD_ENTRY["parameters"], "properties": {"name": {"type": "strin"}}}),
            "invalid parameter schema",
        ),
        (_document(defaults={"colour": "red"}), "defaults for unknown parameters ['colour']"),
        (_document(defaults={"replicas": 50}), "default replicas=50 is invalid"),
        (_document(informational=True), "an informational action runs nothing"),
        (_document(surprise=True), "surprise"),
    ],
    ids=[
        "no-version",
        "empty",
        "two-part-key",
        "unknown-risk",
        "playbook-missing",
        "open-parameters",
        "bad-json-schema",
        "default-for-unknown-parameter",
        "default-violates-schema",
        "informational-with-executor",
        "unknown-field",
    ],
)
def test_a_malformed_catalog_is_refused_with_the_reason(document: dict[str, Any], message: str) -> None:
    with pytest.raises(catalog.CatalogError, match=r"t\.yaml") as raised:
        catalog.parse_catalog(document, source="t.yaml")
    assert message in str(raised.value)


def test_an_executor_outside_the_home_is_refused(tmp_path: Path) -> None:
    document = _document(executor={"kind": "ansible", "playbook": "../../etc/passwd"})
    with pytest.raises(catalog.CatalogError, match=r"leaves the OpsGate home"):
        catalog.parse_catalog(document, source="t.yaml", home=tmp_path)


def test_a_missing_executor_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(catalog.CatalogError, match=r"'playbooks/scale\.yml' does not exist"):
        catalog.parse_catalog(_document(), source="t.yaml", home=tmp_path)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    path = tmp_path / "policies" / "actions.yaml"
    path.write_text("version: 1\nactions: [unclosed\n")
    with pytest.raises(catalog.CatalogError, match="not valid YAML"):
        catalog.load_catalog(path)


def test_a_catalog_round_trips_through_yaml(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "scale.yml").write_text("- hosts: localhost\n")
    path = tmp_path / "policies" / "actions.yaml"
    path.write_text(yaml.safe_dump(_document()))
    loaded = catalog.load_catalog(path)
    assert loaded.keys == ("provision.scale.deployment",)
