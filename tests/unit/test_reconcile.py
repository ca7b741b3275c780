"""The LLM may fill a value the rules missed, never overrule one, and only with a whole token of the text."""

from __future__ import annotations

from typing import Any

import pytest

from opsgate.catalog import Catalog, load_catalog
from opsgate.intent import Intent, Parser, unrecognised
from opsgate.parsing import reconcile


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(check_executors=False)


def _intent(key: str, parser: Parser, **entities: Any) -> Intent:
    category, action, resource_type = key.split(".")
    return Intent(
        category=category,
        action=action,
        resource_type=resource_type,
        entities=entities,
        confidence=0.92 if parser is Parser.RULES else 0.85,
        parser=parser,
    )


def rules(key: str, **entities: Any) -> Intent:
    return _intent(key, Parser.RULES, **entities)


def model(key: str, **entities: Any) -> Intent:
    return _intent(key, Parser.LLM, **entities)


NAMESPACE = "provision.create.namespace"
SCALE = "provision.scale.deployment"
LOGS = "observability.query.logs"

MERGES = [
    (
        "create namespace tools and post it to the devops channel",
        rules(NAMESPACE, name="tools"),
        model(NAMESPACE, name="tools", environment="dev"),
        {"name": "tools"},
    ),
    (
        "create namespace tools in dev",
        rules(NAMESPACE, name="tools"),
        model(NAMESPACE, name="tools", environment="dev"),
        {"name": "tools", "environment": "dev"},
    ),
    (
        "create namespace tools for prod",
        rules(NAMESPACE, name="tools"),
        model(NAMESPACE, name="tools", environment="production"),
        {"name": "tools", "environment": "production"},
    ),
    (
        "create namespace tools for the tool team",
        rules(NAMESPACE, name="tools"),
        model(NAMESPACE, name="tool"),
        {"name": "tools"},
    ),
    (
        "create namespace tools-prod",
        rules(NAMESPACE, name="tools-prod"),
        model(NAMESPACE, name="tools-prod", environment="production"),
        {"name": "tools-prod"},
    ),
    (
        "scale web to 30",
        rules(SCALE, name="web", replicas=30),
        model(SCALE, name="web", replicas=3),
        {"name": "web", "replicas": 30},
    ),
    (
        "scale web, make it 30 copies",
        rules(SCALE, name="web"),
        model(SCALE, name="web", replicas=3),
        {"name": "web"},
    ),
    (
        "show the checkout logs of the last 5 minutes",
        rules(LOGS, service="checkout"),
        model(LOGS, service="checkout", since="5m"),
        {"service": "checkout", "since": "5m"},
    ),
    (
        "show the checkout logs of the last 15 minutes",
        rules(LOGS, service="checkout"),
        model(LOGS, service="checkout", since="1m"),
        {"service": "checkout"},
    ),
    (
        "show the logs of checkout-api",
        rules(LOGS, service="checkout-api"),
        model(LOGS, service="checkout"),
        {"service": "checkout-api"},
    ),
]


@pytest.mark.parametrize(
    ("text", "from_rules", "from_model", "entities"),
    MERGES,
    ids=[
        "substring-of-a-word-refused",
        "whole-token-fills-what-the-rules-missed",
        "alias-as-a-whole-token-fills-too",
        "rules-value-kept-when-both-read-one",
        "substring-of-a-name-refused",
        "number-inside-a-number-refused",
        "number-inside-a-number-refused-where-the-rules-read-none",
        "duration-written-out-accepted",
        "duration-inside-a-number-refused",
        "model-value-inside-the-rules-value-refused",
    ],
)
def test_the_model_fills_only_empty_values_with_whole_tokens_of_the_text(
    text: str, from_rules: Intent, from_model: Intent, entities: dict[str, Any], catalog: Catalog
) -> None:
    merged = reconcile.reconcile(text, rule_intent=from_rules, llm_intent=from_model, catalog=catalog)
    assert merged.key == from_rules.key
    assert merged.entities == entities


def test_a_value_the_rules_and_the_model_read_differently_is_noted_and_costs_confidence(catalog: Catalog) -> None:
    text = "create namespace tools for the tool team"
    agreed = reconcile.reconcile(
        text, rule_intent=rules(NAMESPACE, name="tools"), llm_intent=model(NAMESPACE, name="tools"), catalog=catalog
    )
    differing = reconcile.reconcile(
        text, rule_intent=rules(NAMESPACE, name="tools"), llm_intent=model(NAMESPACE, name="tool"), catalog=catalog
    )
    assert differing.confidence < agreed.confidence
    assert "name: the rule parser read 'tools', the LLM read 'tool'; kept the rule parser's" in differing.notes


def test_where_only_the_model_reads_an_action_its_substring_values_are_dropped(catalog: Catalog) -> None:
    text = "set up namespace sandbox and tell the devops channel"
    merged = reconcile.reconcile(
        text,
        rule_intent=unrecognised(),
        llm_intent=model(NAMESPACE, name="sandbox", environment="dev"),
        catalog=catalog,
    )
    assert (merged.key, merged.entities) == (NAMESPACE, {"name": "sandbox"})
    assert "dropped the LLM's environment: not in the request text" in merged.notes
