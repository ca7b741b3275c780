"""``opsgate parse``: the fixed CLI contract other tools call."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tests.fakes.ollama_server import refused_url

from opsgate.cli import main

CONTRACT = {"category", "action", "resource_type", "entities", "confidence"}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)


def test_parse_prints_exactly_the_contract_keys() -> None:
    result = CliRunner().invoke(main, ["parse", "create an email for john@acme.org"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == CONTRACT
    assert (printed["action"], printed["entities"]) == ("create", {"email": "john@acme.org"})


def test_jsonl_answers_one_line_per_request_in_order_blank_lines_included() -> None:
    stdin = "order pizza\n\nrestart deployment web\n"
    result = CliRunner().invoke(main, ["parse", "--jsonl"], input=stdin)
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["action"] for line in lines] == [None, None, "restart"]


def test_with_ollama_down_parse_still_answers_from_the_rules() -> None:
    with refused_url() as url:
        result = CliRunner().invoke(main, ["parse", "--llm", "--ollama-host", url, "create namespace tools"])
    assert json.loads(result.output)["resource_type"] == "namespace"


def test_text_and_jsonl_together_is_a_usage_error() -> None:
    assert CliRunner().invoke(main, ["parse", "--jsonl", "x"]).exit_code == 2


def test_semantic_adds_the_matcher_over_the_catalogs_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSGATE_SEMANTIC_MATCHER", raising=False)
    request = "give kim view on namespace reports"  # no access noun: the rules find nothing
    plain = json.loads(CliRunner().invoke(main, ["parse", request]).output)
    assert plain["action"] is None
    result = CliRunner().invoke(main, ["parse", "--semantic", request])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == CONTRACT
    assert (printed["category"], printed["action"], printed["resource_type"]) == ("identity", "grant", "access")
    assert printed["entities"] == {"username": "kim", "role": "view", "namespace": "reports"}
