"""The controller's side of the audit: the record held around a status write, head and condition stamped."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from tests.unit import audit_helpers as helpers

from opsgate.adapters.auditdb.hook import Auditor
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Kind, Spool
from opsgate.audit import chain, exchanges
from opsgate.controller.planning import Note

NOW = datetime.datetime(2026, 12, 3, 20, 0, tzinfo=datetime.UTC)
STATUS = {"phase": "AwaitingApproval", "intent": helpers.INTENT, "policy": helpers.POLICY, "conditions": []}


def _auditor(tmp_path: Path) -> Auditor:
    return Auditor(Recorder("postgresql://nowhere.invalid/x", Spool(tmp_path / "spool.sqlite")))


async def test_a_status_write_carries_the_chain_head_and_its_record_waits_for_it(tmp_path: Path) -> None:
    auditor, req = _auditor(tmp_path), helpers.request("stamped")
    notes = [Note("Normal", "AwaitingApproval", "bob must approve")]
    async with auditor.writing(req, STATUS, notes=notes, now=NOW) as stamped:
        assert auditor.recorder.spool.count_ready() == 0  # held: the write may still fail
        (held,) = auditor.recorder.spool.held()
    assert stamped["audit"] == {"head": held.body["hash"], "seq": 1}
    assert held.body["prev_hash"] == chain.GENESIS
    (audited,) = [c for c in stamped["conditions"] if c["type"] == "Audited"]
    assert (audited["status"], audited["reason"]) == ("True", "Recorded")
    assert auditor.recorder.spool.count_ready() == 1  # released once the write went through
    assert held.body["payload"]["notes"] == [
        {"type": "Normal", "reason": "AwaitingApproval", "message": "bob must approve"}
    ]


async def test_a_failed_status_write_leaves_no_record(tmp_path: Path) -> None:
    auditor = _auditor(tmp_path)
    with pytest.raises(RuntimeError, match="409"):
        async with auditor.writing(helpers.request("conflict"), STATUS, notes=[], now=NOW):
            raise RuntimeError("409 Conflict")
    assert len(auditor.recorder.spool) == 0


async def test_while_the_store_is_away_the_condition_says_records_wait(tmp_path: Path) -> None:
    auditor = _auditor(tmp_path)
    auditor.recorder.healthy, auditor.recorder.last_error = False, "connection refused"
    req = helpers.request("queued")
    async with auditor.writing(req, STATUS, notes=[], now=NOW) as stamped:
        pass
    (audited,) = [c for c in stamped["conditions"] if c["type"] == "Audited"]
    assert (audited["status"], audited["reason"]) == ("False", "Queued")
    assert "connection refused" in audited["message"]
    assert req["metadata"]["uid"] in auditor.recorder.behind


async def test_the_next_write_follows_the_head_in_status(tmp_path: Path) -> None:
    auditor, req = _auditor(tmp_path), helpers.request("chained")
    async with auditor.writing(req, STATUS, notes=[], now=NOW) as first:
        pass
    req["status"] = first
    async with auditor.writing(req, {"phase": "Rejected", "conditions": []}, notes=[], now=NOW) as second:
        pass
    assert second["audit"]["seq"] == 2
    bodies = [i.body for i in auditor.recorder.spool.ready(10)]
    assert bodies[1]["prev_hash"] == first["audit"]["head"]
    assert bodies[1]["stage"] == "Rejected"


# --- LLM exchanges ride with the request's next record ------------------------------------------


def _exchange(req: dict, reply: str = "{}") -> exchanges.Exchange:
    token = exchanges.CURRENT.set(exchanges.RequestRef.of(req))
    try:
        return exchanges.exchange(
            provider="ollama", model="m", messages=[], reply=reply, latency_s=0.2, outcome="ok", now=NOW
        )
    finally:
        exchanges.CURRENT.reset(token)


async def test_the_exchanges_of_a_planning_are_listed_by_its_record_and_travel_with_it(tmp_path: Path) -> None:
    auditor, req = _auditor(tmp_path), helpers.request("planned")
    made = [_exchange(req), _exchange(req, reply='{"key": "x"}')]
    for exchange in [*made, made[0]]:  # the parser reporting one twice lists it once
        auditor.exchange(exchange)
    assert len(auditor.recorder.spool) == 0  # nothing is sent before the record that lists it
    async with auditor.writing(req, STATUS, notes=[], now=NOW) as stamped:
        pass
    (item,) = auditor.recorder.spool.ready(10)
    assert [e["key"] for e in item.body["exchanges"]] == [e.key for e in made]
    assert item.body["payload"]["llm"] == [e.stored().link() for e in made]
    assert stamped["audit"]["head"] == item.body["hash"]  # the status anchors the listing
    assert auditor.exchanges == {}
    req["status"] = stamped
    async with auditor.writing(req, {"phase": "Rejected", "conditions": []}, notes=[], now=NOW):
        pass
    later = auditor.recorder.spool.ready(10)[1]
    assert "llm" not in later.body["payload"]
    assert "exchanges" not in later.body


async def test_exchanges_whose_status_write_failed_are_listed_by_the_next_one(tmp_path: Path) -> None:
    auditor, req = _auditor(tmp_path), helpers.request("retried")
    first = _exchange(req)
    auditor.exchange(first)
    with pytest.raises(RuntimeError, match="409"):
        async with auditor.writing(req, STATUS, notes=[], now=NOW):
            raise RuntimeError("409 Conflict")
    assert len(auditor.recorder.spool) == 0
    second = _exchange(req)  # planned again
    auditor.exchange(second)
    async with auditor.writing(req, STATUS, notes=[], now=NOW):
        pass
    (item,) = auditor.recorder.spool.ready(10)
    assert [link["key"] for link in item.body["payload"]["llm"]] == [first.key, second.key]


async def test_an_exchange_naming_no_request_is_kept_on_its_own(tmp_path: Path) -> None:
    auditor = _auditor(tmp_path)
    loose = exchanges.exchange(
        provider="ollama", model="m", messages=[], reply="{}", latency_s=0.1, outcome="ok", now=NOW
    )
    auditor.exchange(loose)
    (item,) = auditor.recorder.spool.ready(10)
    assert (item.kind, item.body["key"]) == (Kind.EXCHANGE, loose.key)


async def test_the_exchanges_of_a_request_deleted_before_its_record_are_let_go(tmp_path: Path) -> None:
    auditor, req, other = _auditor(tmp_path), helpers.request("deleted"), helpers.request("kept")
    auditor.exchange(_exchange(req))
    kept = _exchange(other)
    auditor.exchange(kept)
    auditor.forget(req["metadata"]["uid"])
    assert auditor.exchanges == {other["metadata"]["uid"]: {kept.key: kept}}  # only the deleted one's go
    assert len(auditor.recorder.spool) == 0  # nothing stored that verify would call inserted
