"""The action catalog loads the shipped file and refuses malformed ones with the entry (or noun) named."""

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


PHRASES: dict[str, Any] = {"verbs": ["scale"], "nouns": {"deployment": "strong", "namespace": "weak"}}
NOUNS: dict[str, Any] = {"deployment": {"words": ["deployment", "pods"]}, "namespace": {"words": ["namespace", "ns"]}}


def _with_phrases(phrases: dict[str, Any], nouns: Any = NOUNS) -> dict[str, Any]:
    return {**_document(phrases=phrases), "nouns": nouns}


def test_the_shipped_catalog_gives_every_entry_its_phrases() -> None:
    shipped = catalog.load_catalog(check_executors=False)
    assert [key for key, entry in shipped.entries.items() if entry.phrases is None] == []


def test_an_entry_reads_its_phrases_and_the_shared_nouns() -> None:
    parsed = catalog.parse_catalog(_with_phrases({**PHRASES, "implies": ["Scale  Up"]}), source="t.yaml")
    phrases = parsed.entries["provision.scale.deployment"].phrases
    assert phrases is not None
    assert (phrases.verbs, phrases.strong_nouns, phrases.implies) == (
        (catalog.Verb.SCALE,),
        ("deployment",),
        ("scale up",),
    )
    assert parsed.nouns["namespace"].words == ("namespace", "ns")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_with_phrases({**PHRASES, "verbs": ["scael"]}), "action 'provision.scale.deployment': phrases.verbs.0: Input"),
        (
            _with_phrases({**PHRASES, "verbs": []}),
            "action 'provision.scale.deployment': phrases.verbs: Tuple should have at least 1 item",
        ),
        (_with_phrases({**PHRASES, "verbs": ["unsupported"]}), "an entry cannot name it"),
        (_with_phrases({**PHRASES, "nouns": {}}), "action 'provision.scale.deployment': phrases.nouns: Dictionary"),
        (_with_phrases({**PHRASES, "nouns": {"pods": "strong"}}), "phrases.nouns: unknown noun 'pods'"),
        (_with_phrases({**PHRASES, "nouns": {"deployment": "loud"}}), "phrases.nouns.deployment: Input"),
        (_with_phrases({**PHRASES, "nouns": {"namespace": "weak"}}), "phrases.nouns: at least one noun must be strong"),
        (_with_phrases({**PHRASES, "implies": ["restart"]}), "phrases.implies: 'restart' is no verb word"),
        (_with_phrases({**PHRASES, "idioms": [""]}), "phrases.idioms.0: Value error, a phrase cannot be empty"),
        (_with_phrases({**PHRASES, "idioms": ["a b c d e"]}), "has more than 4 words"),
        (_with_phrases({**PHRASES, "values": {"colour": "name"}}), "phrases.values: 'colour' is not a parameter"),
        (_with_phrases({**PHRASES, "values": {"name": "shoe_size"}}), "phrases.values.name: Input"),
        (_with_phrases({**PHRASES, "surprise": 1}), "phrases.surprise"),
        (
            _with_phrases(PHRASES, nouns={"deployment": {"words": []}}),
            "noun 'deployment': words: Tuple should have at least 1 item",
        ),
        (
            _with_phrases(PHRASES, nouns={"deployment": {"words": ["x"], "values": ["email"]}}),
            "noun 'deployment': values",
        ),
        (_with_phrases(PHRASES, nouns=["deployment"]), "`nouns` must map each noun to its words"),
    ],
    ids=[
        "unknown-verb-class",
        "no-verbs",
        "unsupported-verb-class",
        "no-nouns",
        "undefined-noun",
        "unknown-strength",
        "only-weak-nouns",
        "implying-word-of-another-verb-class",
        "empty-idiom",
        "idiom-too-long",
        "value-for-unknown-parameter",
        "unknown-value-kind",
        "unknown-phrases-field",
        "noun-without-words",
        "noun-standing-for-an-unsupported-value",
        "nouns-not-a-mapping",
    ],
)
def test_bad_phrases_are_refused_with_the_entry_and_field_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(catalog.CatalogError, match=r"^t\.yaml: ") as raised:
        catalog.parse_catalog(document, source="t.yaml")
    assert message in str(raised.value)


def test_one_noun_alone_names_one_entry_only() -> None:
    alone = {**PHRASES, "alone": True}
    document = _with_phrases(alone)
    document["actions"]["provision.restart.deployment"] = {**GOOD_ENTRY, "phrases": alone}
    with pytest.raises(catalog.CatalogError, match=r"phrases\.alone: the noun 'deployment' alone already names"):
        catalog.parse_catalog(document, source="t.yaml")


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
