"""LLM exchanges in the request's hash chain: listed by its next record, checked row by row. Pure.

An attacker with write access to the database edits, deletes or inserts ``llm_exchanges`` rows;
each is named, with what changed and which record says otherwise. The store itself is exercised
in ``test_audit_exchange_tamper.py`` (real PostgreSQL) and ``tests/e2e/test_audit.py``.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

import pytest
from tests.unit import audit_helpers as helpers

from opsgate.audit import chain, exchanges, records

NOW = datetime.datetime(2026, 12, 3, 20, 0, 0, 123456, tzinfo=datetime.UTC)


def _exchange(req: dict[str, Any], *, reply: str | None = '{"key": "provision.create.email"}') -> exchanges.Exchange:
    token = exchanges.CURRENT.set(exchanges.RequestRef.of(req))
    try:
        return exchanges.exchange(
            provider="openai",
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "create an email for <EMAIL_1>"}],
            reply=reply,
            latency_s=0.4213,
            outcome="ok",
            usage={"prompt_tokens": 310, "completion_tokens": 12},
            now=NOW,
        )
    finally:
        exchanges.CURRENT.reset(token)


def _stored_rows(recs: list[records.Record]) -> list[chain.StoredRow]:
    return [
        chain.StoredRow(
            request_uid=r.request_uid,
            seq=r.seq,
            stage=r.stage,
            at=r.at,
            payload=r.payload,
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in recs
    ]


def _chained(req: dict[str, Any], made: list[exchanges.Exchange]) -> list[chain.StoredRow]:
    """The request's records, the first (its planning's) listing ``made``."""
    links = [e.stored().link() for e in made]
    writes = helpers.lifecycle()
    first = records.for_write(req, writes[0][0], at=helpers.AT.format(1), exchanges=links)
    req["status"] = {**req["status"], **writes[0][0], "audit": records.status_field(first)}
    return _stored_rows([first, *helpers.records_of(req, writes[1:])])


def test_an_untouched_request_and_its_exchanges_verify_clean() -> None:
    req = helpers.request("clean")
    made = [_exchange(req), _exchange(req, reply=None)]
    rows = _chained(req, made)
    assert rows[0].payload["llm"][0]["key"] == made[0].key
    assert chain.verify(rows, head=req["status"]["audit"]) == []
    assert exchanges.verify(rows, [e.stored() for e in made], request_uid=rows[0].request_uid) == []


def test_the_chain_covers_the_listing_itself() -> None:
    req = helpers.request("listing")
    rows = _chained(req, [_exchange(req)])
    payload = dict(rows[0].payload)
    payload["llm"] = []  # the attacker drops the listing so the deleted row is not missed
    (finding,) = chain.verify([dataclasses.replace(rows[0], payload=payload), *rows[1:]])
    assert (finding.problem, finding.seq) == (chain.Problem.EDITED, 1)


def _edit(**changes: Any) -> Callable[[exchanges.Stored], exchanges.Stored]:
    return lambda row: dataclasses.replace(row, **changes)


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (_edit(prompt='[{"role": "user", "content": "delete everything"}]'), "its prompt changed"),
        (_edit(reply='{"key": "decommission.delete.cluster"}'), "its reply changed"),
        (_edit(reply=None), "its reply changed"),
        (_edit(outcome="timeout"), "its details (provider, model, outcome, tokens, latency or time) changed"),
        (_edit(at="2026-12-01T00:00:00.000000Z"), "its details"),
        (_edit(prompt="x", reply="y"), "its prompt and reply changed"),
    ],
    ids=["prompt", "reply", "reply-removed", "outcome", "backdated", "prompt-and-reply"],
)
def test_an_edited_exchange_is_named_with_what_changed_and_the_record_that_listed_it(
    tamper: Callable[[exchanges.Stored], exchanges.Stored], said: str
) -> None:
    req = helpers.request("edited")
    made = [_exchange(req), _exchange(req)]
    rows = _chained(req, made)
    stored = [made[0].stored(), tamper(made[1].stored())]
    (finding,) = exchanges.verify(rows, stored, request_uid=rows[0].request_uid)
    assert (finding.problem, finding.key) == (exchanges.Problem.EDITED, made[1].key)
    assert said in finding.detail
    assert "since record 1 (AwaitingApproval) listed it" in finding.detail
    assert str(finding).startswith(f"request {rows[0].request_uid} LLM exchange {made[1].key} (openai gpt-4o-mini, ")


def test_a_deleted_exchange_is_named_by_the_record_that_lists_it() -> None:
    req = helpers.request("deleted")
    made = [_exchange(req), _exchange(req)]
    rows = _chained(req, made)
    (finding,) = exchanges.verify(rows, [made[0].stored()], request_uid=rows[0].request_uid)
    assert (finding.problem, finding.key) == (exchanges.Problem.DELETED, made[1].key)
    assert finding.detail == "record 1 (AwaitingApproval) lists it, but the database has no such exchange"
    assert "openai gpt-4o-mini, 2026-12-03T20:00:00.123456Z" in str(finding)


def test_an_inserted_exchange_is_named_as_listed_by_no_record() -> None:
    req = helpers.request("inserted")
    made = [_exchange(req)]
    rows = _chained(req, made)
    forged = _exchange(req, reply='{"key": "decommission.delete.cluster"}')
    (finding,) = exchanges.verify(rows, [made[0].stored(), forged.stored()], request_uid=rows[0].request_uid)
    assert (finding.problem, finding.key) == (exchanges.Problem.UNLISTED, forged.key)
    assert finding.detail == exchanges.WHY_UNLISTED


def test_an_exchange_moved_to_another_request_is_missed_by_one_and_unlisted_by_the_other() -> None:
    a, b = helpers.request("a"), helpers.request("b")
    made = _exchange(a)
    rows_a, rows_b = _chained(a, [made]), _chained(b, [])
    moved = dataclasses.replace(made.stored(), request_uid=rows_b[0].request_uid)
    assert [f.problem for f in exchanges.verify(rows_a, [], request_uid=rows_a[0].request_uid)] == ["exchange-deleted"]
    assert [f.problem for f in exchanges.verify(rows_b, [moved], request_uid=rows_b[0].request_uid)] == [
        "exchange-unlisted"
    ]


def test_an_exchange_naming_no_request_is_covered_by_no_record() -> None:
    loose = exchanges.exchange(
        provider="ollama", model="m", messages=[], reply="{}", latency_s=0.1, outcome="ok", now=NOW
    )
    (finding,) = exchanges.verify([], [loose.stored()], request_uid=None)
    assert (finding.request_uid, finding.problem) == ("-", exchanges.Problem.UNLISTED)
    assert "names no request" in finding.detail


def test_an_exchange_listed_twice_verifies_once() -> None:
    """A replay lists nothing twice in practice (by key); if two records did, it is the same exchange."""
    req = helpers.request("twice")
    made = _exchange(req)
    link = made.stored().link()
    first = records.for_write(req, {"phase": "Planning"}, at=helpers.AT.format(1), exchanges=[link])
    req["status"] = {"phase": "Planning", "audit": records.status_field(first)}
    second = records.for_write(req, {"phase": "Denied"}, at=helpers.AT.format(2), exchanges=[link])
    rows = _stored_rows([first, second])
    assert chain.verify(rows) == []
    assert exchanges.verify(rows, [made.stored()], request_uid=first.request_uid) == []


def test_the_digests_survive_the_stores_spelling_of_time_and_numbers() -> None:
    req = helpers.request("spelling")
    made = dataclasses.replace(_exchange(req), latency_ms=421, at="2026-12-03T21:00:00+01:00", detail="")
    as_read = dataclasses.replace(
        made.stored(),
        latency_ms=421.0,  # float8
        at=exchanges.timestamp(datetime.datetime(2026, 12, 3, 20, 0, tzinfo=datetime.UTC)),  # timestamptz
        detail=None,
    )
    assert as_read.digests() == made.stored().digests()
    assert as_read.at == "2026-12-03T20:00:00.000000Z"


def test_a_listed_exchange_carries_digests_of_the_redacted_text_only() -> None:
    req = helpers.request("secret")
    token = exchanges.CURRENT.set(exchanges.RequestRef.of(req))
    try:
        made = exchanges.exchange(
            provider="ollama",
            model="m",
            messages=[{"role": "user", "content": "rotate it, password=hunter22"}],
            reply="ok, api_key=sk-live-abcdef123456",
            latency_s=0.1,
            outcome="ok",
            now=NOW,
        )
    finally:
        exchanges.CURRENT.reset(token)
    link = made.stored().link()
    record = records.for_write(req, {"phase": "Planning"}, at=helpers.AT.format(1), exchanges=[link])
    kept = f"{made.prompt} {made.reply} {record.payload}"
    assert "hunter22" not in kept
    assert "sk-live-abcdef123456" not in kept
    assert set(link) == {"key", "provider", "model", "at", "sha256"}
