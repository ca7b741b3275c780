"""The controller's side of the audit: the record held around a status write, head and condition stamped."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from tests.unit import audit_helpers as helpers

from opsgate.adapters.auditdb.hook import Auditor
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool
from opsgate.audit import chain
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
