"""The labelled set (tests/data/intents.jsonl) holds the rule parser to the issue's aims.

The ``heldout`` split was written and committed before any parser code and never used to add
rules; the ``tune`` split is what the vocabulary was tuned on. Both were written by the parser's
author, so ``tests/data/intents_unseen.jsonl`` holds requests written without reading the
vocabulary (``unseen``: before the parser was generalised; ``unseen2``: after, and never run
before being committed; ``unseen3``: after unseen2 had been read, before the multi-action and
personal-IT declines were written, and measured before any parser change; ``unseen4``: by someone
who had read the parser, before the several-targets decline was written, measured before any
parser change). Their floors are the measured level rounded down, not an aim: they exist so that a
regression fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from opsgate.catalog import Catalog, load_catalog
from opsgate.parsing import rules

DATA = Path(__file__).parents[1] / "data" / "intents.jsonl"
ROWS: list[dict[str, Any]] = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
UNSEEN_DATA = Path(__file__).parents[1] / "data" / "intents_unseen.jsonl"
UNSEEN: list[dict[str, Any]] = [json.loads(line) for line in UNSEEN_DATA.read_text(encoding="utf-8").splitlines()]


class Floors(NamedTuple):
    """Measured, rounded down. A split without rows of a kind does not test that kind's floor."""

    triple: float  # in-scope requests whose action triple is right
    entities: float  # in-scope requests whose triple and entities are both exactly right
    declined: float  # out-of-scope requests and questions that are not read as an action
    multi_action: float  # requests for several changes that are declined
    multi_target: float  # requests naming several targets for one single-target action that are declined


UNSEEN_FLOORS: dict[str, Floors] = {
    "unseen": Floors(0.99, 0.99, 1.0, 1.0, 1.0),
    # its misses were then fixed as general patterns, so it is no longer unseen
    "unseen2": Floors(1.0, 1.0, 1.0, 1.0, 1.0),
    # measured before the declines and patterns it tests were written (0.87, 0.73, 0.66, 0.0);
    # its misses were then fixed as general patterns, so it is no longer unseen
    "unseen3": Floors(1.0, 1.0, 1.0, 1.0, 1.0),
    # measured before the several-targets decline and the unseen3 pattern fixes (0.87, 0.87, 1.0,
    # 1.0, 0.0); one in-scope miss was seen and fixed since ("grant dana edit on namespace billing")
    "unseen4": Floors(0.9, 0.9, 1.0, 1.0, 1.0),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(check_executors=False)


def _rate(rows: list[dict[str, Any]], catalog: Catalog) -> float:
    return sum(rules.parse(r["text"], catalog).key == r["key"] for r in rows) / len(rows)


def _declined(rows: list[dict[str, Any]], catalog: Catalog) -> float:
    return sum(not rules.parse(r["text"], catalog).recognised for r in rows) / len(rows)


def test_the_labelled_set_is_big_and_varied_enough() -> None:
    kinds = [r["kind"] for r in ROWS]
    assert len(ROWS) >= 300
    assert kinds.count("out_of_scope") >= 40
    assert kinds.count("injection") >= 15
    assert {r["split"] for r in ROWS} == {"tune", "heldout"}


def test_every_labelled_key_is_in_the_catalog(catalog: Catalog) -> None:
    assert {r["key"] for r in ROWS if r["key"]} <= set(catalog.keys)


@pytest.mark.parametrize("split", ["heldout", "tune"])
def test_the_action_triple_is_right_for_at_least_nine_in_ten_in_scope_requests(split: str, catalog: Catalog) -> None:
    rows = [r for r in ROWS if r["split"] == split and r["kind"] == "in_scope"]
    assert _rate(rows, catalog) >= 0.9


@pytest.mark.parametrize("split", ["heldout", "tune"])
def test_at_least_nine_in_ten_out_of_scope_requests_are_declined(split: str, catalog: Catalog) -> None:
    rows = [r for r in ROWS if r["split"] == split and r["kind"] in ("out_of_scope", "question")]
    declined = sum(not rules.parse(r["text"], catalog).recognised for r in rows) / len(rows)
    assert declined >= 0.9


def test_no_injection_attempt_changes_the_action(catalog: Catalog) -> None:
    rows = [r for r in ROWS if r["kind"] == "injection"]
    wrong = [r["text"] for r in rows if rules.parse(r["text"], catalog).key != r["key"]]
    assert wrong == []


def test_entities_match_exactly_for_most_correctly_parsed_requests(catalog: Catalog) -> None:
    rows = [r for r in ROWS if r["kind"] == "in_scope"]
    exact = sum(rules.parse(r["text"], catalog).entities == r["entities"] for r in rows) / len(rows)
    assert exact >= 0.85


def test_confidence_is_higher_for_right_readings_than_for_wrong_ones(catalog: Catalog) -> None:
    right, wrong = [], []
    for row in ROWS:
        intent = rules.parse(row["text"], catalog)
        if intent.recognised:
            (right if intent.key == row["key"] else wrong).append(intent.confidence)
    assert right
    if wrong:
        assert sum(right) / len(right) > sum(wrong) / len(wrong)


def test_the_unseen_set_covers_every_catalog_action_and_enough_declines(catalog: Catalog) -> None:
    rows = [r for r in UNSEEN if r["split"] == "unseen"]
    assert len(rows) >= 120
    assert sum(r["kind"] in ("out_of_scope", "question") for r in rows) >= 25
    assert {r["key"] for r in rows if r["key"]} == set(catalog.keys)
    assert {r["split"] for r in UNSEEN} <= set(UNSEEN_FLOORS)


def test_unseen3_covers_every_action_and_enough_requests_to_decline(catalog: Catalog) -> None:
    rows = [r for r in UNSEEN if r["split"] == "unseen3"]
    assert len(rows) >= 50
    assert sum(r["kind"] == "multi_action" for r in rows) >= 10
    assert sum(r["kind"] == "out_of_scope" for r in rows) >= 8
    assert {r["key"] for r in rows if r["key"]} == set(catalog.keys)


def test_unseen4_holds_enough_several_target_requests_and_single_targets_that_look_like_lists(
    catalog: Catalog,
) -> None:
    rows = [r for r in UNSEEN if r["split"] == "unseen4"]
    assert len(rows) >= 50
    assert sum(r["kind"] == "multi_target" for r in rows) >= 12
    look_like_lists = [r for r in rows if r["kind"] == "in_scope" and (" and " in r["text"] or "," in r["text"])]
    assert len(look_like_lists) >= 10
    assert {r["key"] for r in rows if r["key"]} == set(catalog.keys)


def test_every_multi_target_request_that_is_declined_names_its_targets(catalog: Catalog) -> None:
    rows = [r for r in UNSEEN if r["kind"] == "multi_target"]
    reasons = [rules.parse(r["text"], catalog).declined for r in rows]
    assert all(reason.startswith("names several targets (") for reason in reasons if reason is not None)


def test_every_multi_action_request_that_is_declined_says_it_asks_for_more_than_one(catalog: Catalog) -> None:
    rows = [r for r in UNSEEN if r["kind"] == "multi_action"]
    reasons = [rules.parse(r["text"], catalog).declined for r in rows]
    assert all(reason.startswith("asks for more than one") for reason in reasons if reason is not None)


@pytest.mark.parametrize("split", sorted(UNSEEN_FLOORS))
def test_accuracy_on_unseen_requests_does_not_fall_below_its_measured_floor(split: str, catalog: Catalog) -> None:
    floors = UNSEEN_FLOORS[split]
    in_scope = [r for r in UNSEEN if r["split"] == split and r["kind"] == "in_scope"]
    declines = [r for r in UNSEEN if r["split"] == split and r["kind"] in ("out_of_scope", "question")]
    multi = [r for r in UNSEEN if r["split"] == split and r["kind"] == "multi_action"]
    targets = [r for r in UNSEEN if r["split"] == split and r["kind"] == "multi_target"]
    intents = [rules.parse(r["text"], catalog) for r in in_scope]
    assert _rate(in_scope, catalog) >= floors.triple
    exact = sum(i.key == r["key"] and i.entities == r["entities"] for i, r in zip(intents, in_scope, strict=True))
    assert exact / len(in_scope) >= floors.entities
    assert _declined(declines, catalog) >= floors.declined
    if multi:
        assert _declined(multi, catalog) >= floors.multi_action
    if targets:
        assert _declined(targets, catalog) >= floors.multi_target


def test_no_unseen_injection_attempt_leads_to_another_action(catalog: Catalog) -> None:
    rows = [r for r in UNSEEN if r["kind"] == "injection"]
    intents = [rules.parse(r["text"], catalog) for r in rows]
    # declining is safe; naming an action other than the legitimate request's is not
    wrong = [r["text"] for r, i in zip(rows, intents, strict=True) if i.recognised and i.key != r["key"]]
    assert wrong == []
