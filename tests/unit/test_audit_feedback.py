"""Feedback annotations, the learning loop and the reports, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from tests.unit import audit_helpers as helpers

from opsgate import catalog as catalog_module
from opsgate.adapters.auditdb import reads
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool
from opsgate.audit import feedback, learning
from opsgate.catalog import Catalog
from opsgate.cli import main as cli_main
from opsgate.parsing import prompt, rules

pytestmark = pytest.mark.timeout(120)
RUNNER = CliRunner()


async def _cli(*args: str) -> Any:
    """``opsgate ARGS`` in a thread: the commands run their own event loop."""
    return await asyncio.to_thread(RUNNER.invoke, cli_main, list(args))


MISREAD = "mint a mailbox for john@acme.org"
CORRECTED = {"action": "provision.create.email", "entities": {"email": "john@acme.org"}}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_module.load_catalog()


# --- validation (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "error"),
    [
        ({feedback.SCORE: "6"}, "must be an integer from 1 to 5"),
        ({feedback.SCORE: "great"}, "must be an integer from 1 to 5"),
        ({feedback.INTENT_CORRECT: "maybe"}, "must be true or false"),
        ({feedback.CORRECTED_INTENT: "{not json"}, "is not a JSON object"),
        ({feedback.CORRECTED_INTENT: '["a"]'}, "is not a JSON object"),
        ({feedback.CORRECTED_INTENT: '{"action": "provision.launch.rocket"}'}, "not in the catalog"),
        ({feedback.CORRECTED_INTENT: json.dumps({**CORRECTED, "entities": "x"})}, "entities must be an object"),
        (
            {feedback.INTENT_CORRECT: "true", feedback.CORRECTED_INTENT: json.dumps(CORRECTED)},
            "gives another intent",
        ),
        ({feedback.SCORE: "4", feedback.TEXT: "x" * 5000}, "longer than"),
    ],
    ids=["score-high", "score-word", "bool", "json", "not-object", "unknown-action", "entities", "contradict", "long"],
)
def test_bad_feedback_is_refused_whole_with_the_reason(
    catalog: Catalog, annotations: dict[str, str], error: str
) -> None:
    with pytest.raises(feedback.FeedbackError, match=error):
        feedback.read(annotations, catalog=catalog)


def test_good_feedback_is_read_and_a_correction_means_the_reading_was_wrong(catalog: Catalog) -> None:
    given = feedback.read(
        {feedback.SCORE: "2", feedback.CORRECTED_INTENT: json.dumps(CORRECTED), feedback.TEXT: "token=abc123secret"},
        catalog=catalog,
    )
    assert given.score == 2
    assert given.intent_correct is False
    assert given.key == "provision.create.email"
    assert "abc123secret" not in (given.text or "")
    assert feedback.read({feedback.SCORE: " 5 "}, catalog=catalog).digest != given.digest
    assert not feedback.present({"other": "x"})


# --- the learning loop -------------------------------------------------------------------------


def _feedback_body(req: dict[str, Any], given: feedback.Feedback, *, intent: dict[str, Any] | None = None) -> dict:
    meta, spec = req["metadata"], req["spec"]
    return {
        "request_uid": meta["uid"],
        "name": meta["name"],
        "namespace": meta["namespace"],
        "requester": spec["requester"],
        "text": spec["request"],
        "created": meta["creationTimestamp"],
        "digest": given.digest,
        "score": given.score,
        "intent_correct": given.intent_correct,
        "corrected_intent": dict(given.corrected_intent) if given.corrected_intent else None,
        "comment": given.text,
        "intent": intent,
    }


async def _learned_catalog(url: str, base: Catalog) -> Catalog:
    conn = await asyncpg.connect(url)
    try:
        return learning.with_learned(base, await reads.active_phrases(conn), await reads.corrected_examples(conn))
    finally:
        await conn.close()


async def test_a_correction_fixes_a_misparse_and_rolling_it_back_restores_the_old_reading(
    database_url: str, tmp_path: Path, catalog: Catalog
) -> None:
    assert rules.parse(MISREAD, catalog).action is None  # misread before
    req = helpers.request("mint", text=MISREAD)
    given = feedback.read({feedback.CORRECTED_INTENT: json.dumps(CORRECTED), feedback.SCORE: "2"}, catalog=catalog)
    rec = Recorder(database_url, Spool(tmp_path / "spool.sqlite"))
    rec.submit(helpers.records_of(req, helpers.lifecycle()[:1]))
    rec.submit_feedback(_feedback_body(req, given))
    rec.submit_feedback(_feedback_body(req, given))  # the same annotations seen again
    await rec.drain()
    await rec.stop()

    learned = await _learned_catalog(database_url, catalog)
    assert learned.learned == {"mint a mailbox": "provision.create.email"}
    after = rules.parse("please mint a mailbox for jane@acme.org", learned)  # another request, same phrasing
    assert (after.category, after.action, after.resource_type) == ("provision", "create", "email")
    assert after.entities == {"email": "jane@acme.org"}
    # the plan's digest covers the entry: learning must not move it
    assert learned.entries["provision.create.email"] == catalog.entries["provision.create.email"]
    # the LLM parser is shown the correction as a few-shot example for a similar request
    shown = prompt.messages("mint a mailbox for bob@acme.org", catalog=learned)
    assert shown[1]["content"].endswith(f"{MISREAD}\nEND REQUEST")
    assert json.loads(shown[2]["content"])["key"] == "provision.create.email"

    listed = await _cli("learn", "list", "--json", "--database-url", database_url)
    (row,) = json.loads(listed.output)
    assert (row["phrase"], row["action_key"]) == ("mint a mailbox", "provision.create.email")
    rolled = await _cli("learn", "rollback", str(row["version"]), "--database-url", database_url)
    assert rolled.exit_code == 0, rolled.output
    restored = await _learned_catalog(database_url, catalog)
    assert restored.learned == {}
    assert rules.parse(MISREAD, restored).action is None  # the old reading is back
    again = await _cli("learn", "rollback", str(row["version"]), "--database-url", database_url)
    assert again.exit_code != 0


def test_a_learned_phrase_never_overrides_the_catalog(catalog: Catalog) -> None:
    text = "restart the checkout deployment"
    before = rules.parse(text, catalog)
    taught = learning.with_learned(catalog, [learning.Learned(1, "restart", "provision.create.email")])
    assert rules.parse(text, taught).action == before.action


@pytest.mark.parametrize(
    ("text", "entities", "phrase"),
    [
        ("mint a mailbox for john@acme.org", {"email": "john@acme.org"}, "mint a mailbox"),
        ("Please conjure an inbox, for jane@acme.org", {"email": "jane@acme.org"}, "conjure an inbox"),
        ("john@acme.org needs a mailbox", {"email": "john@acme.org"}, None),
        ("bump web to 5 pods", {"name": "web", "replicas": 5}, "bump"),
    ],
    ids=["verb-phrase", "polite", "value-first", "value-in-the-middle"],
)
def test_the_learned_phrase_is_what_precedes_the_first_value(text: str, entities: dict, phrase: str | None) -> None:
    assert learning.phrase_from(text, entities) == phrase


# --- reports and export ------------------------------------------------------------------------


async def _history(url: str, tmp_path: Path, catalog: Catalog) -> None:
    """Three requests: one read right (confirmed, score 5), one misread (corrected, 2), one unjudged."""
    rec = Recorder(url, Spool(tmp_path / "history.sqlite"))
    right, wrong, quiet = helpers.request("right"), helpers.request("wrong", text=MISREAD), helpers.request("quiet")
    for req in (right, wrong, quiet):
        rec.submit(helpers.records_of(req))
    ok = feedback.read({feedback.INTENT_CORRECT: "true", feedback.SCORE: "5"}, catalog=catalog)
    fix = feedback.read({feedback.CORRECTED_INTENT: json.dumps(CORRECTED), feedback.SCORE: "2"}, catalog=catalog)
    rec.submit_feedback(_feedback_body(right, ok, intent=helpers.INTENT))
    rec.submit_feedback(_feedback_body(wrong, fix))
    await rec.drain()
    await rec.stop()


async def test_analytics_report_what_happened(database_url: str, tmp_path: Path, catalog: Catalog) -> None:
    await _history(database_url, tmp_path, catalog)

    async def report(name: str) -> list[dict[str, Any]]:
        out = await _cli("analytics", name, "--json", "--database-url", database_url)
        assert out.exit_code == 0, out.output
        rows: list[dict[str, Any]] = json.loads(out.output)["rows"]
        return rows

    (accuracy,) = await report("accuracy")
    assert (accuracy["parser"], accuracy["requests"], accuracy["judged"], accuracy["correct"]) == ("rules", 3, 2, 1)
    assert accuracy["accuracy"] == 0.5
    policies = {r["policy"]: r for r in await report("policies")}
    assert policies["approval-for-email"]["approval"] == 3
    assert policies["no-production-deletion"]["passed"] == 3
    (approver,) = await report("approvals")
    assert (approver["approver"], approver["approved"], approver["rejected"]) == ("bob", 3, 0)
    (satisfaction,) = await report("satisfaction")
    assert (satisfaction["scored"], satisfaction["mean_score"], satisfaction["unhappy"]) == (2, 3.5, 1)
    assert await report("errors") == []  # every request succeeded
    table = (await _cli("analytics", "accuracy", "--database-url", database_url)).output
    assert table.splitlines()[0].split()[:3] == ["PARSER", "REQUESTS", "RECOGNISED"]


async def test_dataset_export_writes_chat_examples_once(database_url: str, tmp_path: Path, catalog: Catalog) -> None:
    await _history(database_url, tmp_path, catalog)
    high = await _cli("dataset", "export", "--min-quality", "0.9", "--database-url", database_url)
    (line,) = [json.loads(x) for x in high.output.splitlines()]
    roles = [m["role"] for m in line["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert json.loads(line["messages"][2]["content"])["action"] == "create"
    rest = await _cli("dataset", "export", "--format", "jsonl", "--database-url", database_url)
    (example,) = [json.loads(x) for x in rest.output.splitlines()]  # the one exported already is not again
    assert example["prompt"] == MISREAD
    assert json.loads(example["completion"])["entities"] == {"email": "john@acme.org"}
    assert (await _cli("dataset", "export", "--database-url", database_url)).output == ""
