"""A platform team adds an action by editing the catalog alone: no Python names it, yet it is parsed,
planned, judged by the policies and shown by ``opsgate plan``."""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from opsgate import catalog, paths, pipeline
from opsgate.cli import main
from opsgate.parsing import parse_request, rules
from opsgate.plan import RequestContext, Requester
from opsgate.policy import Decision, PolicySet

KEY = "operations.purge.cdn_cache"
REQUEST = "purge the CDN cache for shop.acme.org"
MONDAY_10 = datetime.datetime(2025, 1, 6, 10, 0, tzinfo=datetime.UTC)
PLAYBOOK = "playbooks/operations/purge-cdn-cache.yml"
PLAYBOOK_TEXT = """\
- name: Purge the CDN cache for a hostname
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Purge
      ansible.builtin.debug:
        msg: "purging {{ hostname }}"
"""
DNS_NAME = {"type": "string", "maxLength": 253, "pattern": "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$"}
PURGE_ENTRY: dict[str, Any] = {
    "description": "Purge the CDN cache for a hostname",
    "parameters": {
        "type": "object",
        "additionalProperties": False,
        "required": ["hostname"],
        "properties": {"hostname": DNS_NAME},
    },
    "executor": {"kind": "ansible", "playbook": PLAYBOOK},
    "requiresApproval": False,
    "risk": "low",
    "rateClass": "provision",
    "phrases": {
        "verbs": ["delete"],
        "nouns": {"cdn_cache": "strong"},
        "values": {"hostname": "domain"},
    },
}
CDN_CACHE_NOUN = {"words": ["cdn cache", "cdn", "edge cache"]}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An OpsGate home: the shipped policies, playbooks and modules, and a catalog with one more action."""
    for folder in ("policies", "playbooks", "terraform"):
        shutil.copytree(paths.home() / folder, tmp_path / folder)
    (tmp_path / PLAYBOOK).parent.mkdir(parents=True)
    (tmp_path / PLAYBOOK).write_text(PLAYBOOK_TEXT)
    path = tmp_path / "policies" / "actions.yaml"
    document = yaml.safe_load(path.read_text())
    document["nouns"]["cdn_cache"] = CDN_CACHE_NOUN
    document["actions"][KEY] = PURGE_ENTRY
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path))
    return tmp_path


@pytest.fixture
def extended(home: Path) -> catalog.Catalog:
    return catalog.load_catalog(home / "policies" / "actions.yaml")


def test_no_parsing_code_names_a_catalog_key() -> None:
    shipped = catalog.load_catalog(check_executors=False)
    categories = {entry.category for entry in shipped.entries.values()}
    sources = (Path(__file__).parents[2] / "operator" / "opsgate" / "parsing").rglob("*.py")
    for source in sources:
        code = source.read_text(encoding="utf-8")
        assert not [c for c in categories if f'"{c}.' in code or f"'{c}." in code], source


def test_the_rule_parser_reads_the_new_action_from_its_phrases(extended: catalog.Catalog) -> None:
    intent = rules.parse(REQUEST, extended)
    assert (intent.key, intent.entities) == (KEY, {"hostname": "shop.acme.org"})
    assert intent.confidence >= rules.CONFIDENCE_VERB_NOUN - 0.01


@pytest.mark.parametrize(
    "text",
    ["please clean up the edge cache of shop.acme.org", "Purge the cdn for shop.acme.org now"],
    ids=["another-delete-word-and-noun-word", "short-noun-word"],
)
def test_the_new_action_is_read_through_the_languages_verbs_and_its_noun_words(
    text: str, extended: catalog.Catalog
) -> None:
    assert rules.parse(text, extended).entities == {"hostname": "shop.acme.org"}


def test_parse_request_reads_the_new_action_without_a_model(extended: catalog.Catalog) -> None:
    intent = asyncio.run(parse_request(REQUEST, catalog=extended))
    assert intent.key == KEY


def test_the_shipped_catalog_does_not_know_the_new_action() -> None:
    assert rules.parse(REQUEST, catalog.load_catalog(check_executors=False)).key != KEY


def test_the_pipeline_plans_and_judges_the_new_action(home: Path, extended: catalog.Catalog) -> None:
    outcome = pipeline.decide(
        text=REQUEST,
        intent=None,
        catalog=extended,
        policies=PolicySet.load(home / "policies"),
        context=RequestContext(text="", requester=Requester(username="alice"), namespace="team-a"),
        now=MONDAY_10,
        history={},
        home=home,
        executor_image="img:1",
        parse=lambda text: rules.parse(text, extended),
    )
    assert outcome.plan is not None
    assert (outcome.plan.action, outcome.plan.parameters) == (KEY, {"hostname": "shop.acme.org"})
    assert outcome.decision in set(Decision)
    assert outcome.policy.results


@pytest.mark.usefixtures("home")
def test_opsgate_plan_shows_the_new_action() -> None:
    result = CliRunner().invoke(
        main, ["plan", REQUEST, "--now", MONDAY_10.isoformat(), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["plan"]["action"] == KEY
    assert document["plan"]["parameters"] == {"hostname": "shop.acme.org"}
    assert document["policy"]["decision"] in {d.value for d in Decision}
