"""The audit store against a real PostgreSQL (tests/real_postgres.py): schema, recorder, chain, outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner
from tests.real_postgres import RealPostgres
from tests.unit import audit_helpers as helpers

from opsgate.adapters.auditdb import reads, recorder, schema
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool, SpoolFullError
from opsgate.audit import chain
from opsgate.cli import main as cli_main

pytestmark = pytest.mark.timeout(120)


async def _migrated(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await schema.migrate(conn)
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


_OPEN: list[Recorder] = []


def _recorder(url: str, tmp_path: Path, name: str = "spool") -> Recorder:
    rec = Recorder(url, Spool(tmp_path / f"{name}.sqlite"), interval=0.05)
    _OPEN.append(rec)
    return rec


@pytest.fixture(autouse=True)
async def _close_recorders() -> AsyncIterator[None]:
    yield
    while _OPEN:
        rec = _OPEN.pop()
        await rec.stop(grace=2)
        rec.spool.close()


# --- schema ------------------------------------------------------------------------------------


async def test_migrating_an_empty_database_creates_every_table_with_indexes_and_foreign_keys(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await schema.migrate(conn) == [1, 2, 3, 4, 5]
        assert await schema.migrate(conn) == []  # forward only, once
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        indexes = {
            r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname='public'")
        }
        fks = {
            r["conrelid"]
            for r in await conn.fetch(
                "SELECT conrelid::regclass::text AS conrelid FROM pg_constraint WHERE contype='f'"
            )
        }
    finally:
        await conn.close()
    assert {
        "queries",
        "executions",
        "outcomes",
        "feedback",
        "policy_results",
        "finetune_examples",
        "approvals",
        "llm_exchanges",
        "audit_records",
        "learned_phrases",
        "schema_migrations",
    } <= tables
    assert {
        "queries_created_at",
        "approvals_approver",
        "policy_results_decided_at",
        "audit_records_recorded_at",
    } <= indexes
    assert {"audit_records", "approvals", "policy_results", "feedback", "outcomes", "executions"} <= fks


async def test_migrating_from_the_previous_version_keeps_its_rows(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await schema.migrate(conn, target=1) == [1]
        await conn.execute(
            "INSERT INTO queries (request_uid, name, namespace, created_at, updated_at)"
            " VALUES ('u1', 'old', 'ns', now(), now())"
        )
        await conn.execute("INSERT INTO feedback (request_uid, digest, score) VALUES ('u1', 'd', 4)")
        await conn.execute(
            "INSERT INTO policy_results (request_uid, seq, policy, result, decided_at)"
            " VALUES ('u1', 1, 'approval-for-email', 'approval', '2026-12-01T10:00:00Z')"
        )
        assert await schema.migrate(conn) == [2, 3, 4, 5]
        assert await schema.current_version(conn) == schema.LATEST
        assert await conn.fetchval("SELECT score FROM feedback WHERE request_uid = 'u1'") == 4
        assert await conn.fetchval("SELECT audit_seq FROM queries WHERE request_uid = 'u1'") == 0
        rollup = await conn.fetchrow("SELECT day::text AS day, policy, result, n FROM policy_daily")
        assert dict(rollup) == {"day": "2026-12-01", "policy": "approval-for-email", "result": "approval", "n": 1}
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        applied = await asyncio.gather(*(schema.migrate(c) for c in conns))
        assert sorted(applied, key=len) == [[], [1, 2, 3, 4, 5]]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == 5
    finally:
        for c in conns:
            await c.close()


# --- the recorder ------------------------------------------------------------------------------


async def test_a_request_s_life_lands_in_every_table(database_url: str, tmp_path: Path) -> None:
    req = helpers.request("email-jane")
    rec = _recorder(database_url, tmp_path)
    rec.submit(helpers.records_of(req))
    await rec.drain()
    uid = req["metadata"]["uid"]
    (query,) = await _fetch(database_url, "SELECT * FROM queries")
    assert (query["action"], query["phase"], query["decision"], query["requester"]) == (
        "provision.create.email",
        "Succeeded",
        "ApprovalRequired",
        "alice",
    )
    assert len(await _fetch(database_url, "SELECT * FROM policy_results WHERE request_uid = $1", uid)) == 2
    (approval,) = await _fetch(database_url, "SELECT * FROM approvals")
    assert (approval["approver"], approval["decision"], approval["digest"], approval["message"]) == (
        "bob",
        "Approve",
        "sha256:abc",
        "quota checked",
    )
    assert [r["job_name"] for r in await _fetch(database_url, "SELECT * FROM executions")] == ["opsgate-job-1"]
    (outcome,) = await _fetch(database_url, "SELECT * FROM outcomes")
    assert outcome["succeeded"]
    assert json.loads(outcome["result"])["summary"] == "mailbox created"
    stored = await _fetch(database_url, "SELECT seq, stage FROM audit_records ORDER BY seq")
    assert [(r["seq"], r["stage"]) for r in stored] == [
        (1, "AwaitingApproval"),
        (2, "Approved"),
        (3, "Running"),
        (4, "Succeeded"),
    ]


async def test_a_replay_inserts_nothing_twice(database_url: str, tmp_path: Path) -> None:
    req = helpers.request("replayed")
    produced = helpers.records_of(req)
    rec = _recorder(database_url, tmp_path)
    rec.submit(produced[:3])
    await rec.drain()
    rec.submit(produced)  # after a crash: the spool is sent again, and the last stage too
    rec.submit(produced[1:])
    await rec.drain()
    counts = {}
    for table in ("audit_records", "policy_results", "approvals", "executions", "outcomes", "queries"):
        counts[table] = (await _fetch(database_url, f"SELECT count(*) AS n FROM {table}"))[0]["n"]  # noqa: S608
    assert counts == {
        "audit_records": 4,
        "policy_results": 2,
        "approvals": 1,
        "executions": 1,
        "outcomes": 1,
        "queries": 1,
    }


async def test_two_recorders_at_once_write_every_record_once(database_url: str, tmp_path: Path) -> None:
    await _migrated(database_url)
    requests = [helpers.request(f"r{i}") for i in range(40)]
    produced = [helpers.records_of(r) for r in requests]
    one, two = _recorder(database_url, tmp_path, "one"), _recorder(database_url, tmp_path, "two")
    for i, rs in enumerate(produced):  # each sees half on its own, and both see a quarter
        if i % 4 != 0:
            (one if i % 2 else two).submit(rs)
        else:
            one.submit(rs)
            two.submit(rs)
    await asyncio.gather(one.drain(), two.drain())
    rows = await _fetch(database_url, "SELECT request_uid, count(*) AS n FROM audit_records GROUP BY 1")
    assert len(rows) == 40
    assert {r["n"] for r in rows} == {4}


async def test_a_database_crash_mid_run_loses_no_record(
    postgres_server: RealPostgres, database_url: str, tmp_path: Path
) -> None:
    await _migrated(database_url)
    rec = _recorder(database_url, tmp_path)
    behind: dict[str, tuple[str, str]] = {}
    caught_up: set[str] = set()

    async def fell_behind(requests: dict[str, tuple[str, str]]) -> None:
        behind.update(requests)

    async def caught(uids: set[str]) -> None:
        caught_up.update(uids)

    rec.on_behind, rec.on_caught_up = fell_behind, caught
    rec.start()
    try:
        before = [helpers.records_of(helpers.request(f"before-{i}")) for i in range(20)]
        for rs in before:
            rec.submit(rs)
        for _ in range(100):
            if not len(rec.spool):
                break
            await asyncio.sleep(0.05)
        assert not len(rec.spool)
        postgres_server.stop(mode="immediate")  # a crash, not a shutdown
        during = [helpers.records_of(helpers.request(f"during-{i}")) for i in range(20)]
        for rs in during:
            rec.submit(rs)  # never blocks
        for _ in range(100):
            if not rec.healthy:
                break
            await asyncio.sleep(0.05)
        assert not rec.healthy
        assert len(rec.spool) == 80
        postgres_server.start()
        for _ in range(400):
            if not len(rec.spool):
                break
            await asyncio.sleep(0.05)
        assert rec.healthy
        assert not len(rec.spool)
    finally:
        await rec.stop()
    # the requests whose records waited were told (their Audited condition), and told again once written
    assert sorted(name for _ns, name in behind.values()) == sorted(f"during-{i}" for i in range(20))
    assert caught_up == set(behind)
    rows = await _fetch(database_url, "SELECT count(*) AS n, count(DISTINCT request_uid) AS r FROM audit_records")
    assert (rows[0]["n"], rows[0]["r"]) == (160, 40)


async def test_records_survive_the_operator_process_in_the_spool(database_url: str, tmp_path: Path) -> None:
    """What a dead process left in its spool is sent by the next one; held records wait for settling."""
    spool = Spool(tmp_path / "spool.sqlite")
    produced = helpers.records_of(helpers.request("left-behind"))
    spool.put(recorder.Kind.RECORD, [r.to_json() for r in produced[:3]])
    held = spool.put(recorder.Kind.RECORD, [produced[3].to_json()], ready=False)
    spool.close()
    rec = _recorder(database_url, tmp_path)
    await rec.drain()
    assert [i.id for i in rec.spool.held()] == held
    rec.release(held)
    await rec.drain()
    assert (await _fetch(database_url, "SELECT count(*) AS n FROM audit_records"))[0]["n"] == 4


def test_a_full_spool_refuses_rather_than_filling_the_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", capacity=3)
    spool.put(recorder.Kind.RECORD, [{"n": 1}, {"n": 2}, {"n": 3}])
    with pytest.raises(SpoolFullError):
        spool.put(recorder.Kind.RECORD, [{"n": 4}])
    assert len(spool) == 3


# --- secrets never reach the store -------------------------------------------------------------


async def test_secrets_in_a_request_never_reach_the_audit_store(database_url: str, tmp_path: Path) -> None:
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    req = helpers.request("leaky", text=f"create an email for jane@acme.org, my token is {secret} password=hunter22")
    writes = helpers.lifecycle()
    writes[-1] = ({"phase": "Succeeded", "result": {"summary": f"used {secret}", "password": "hunter22"}}, None)
    rec = _recorder(database_url, tmp_path)
    rec.submit(helpers.records_of(req, writes))
    await rec.drain()
    dump = ""
    for table in ("queries", "audit_records", "outcomes", "approvals", "policy_results"):
        dump += "".join(r["t"] for r in await _fetch(database_url, f"SELECT {table}::text AS t FROM {table}"))  # noqa: S608
    assert "jane@acme.org" in dump  # the request is there ...
    assert secret not in dump
    assert "hunter22" not in dump


# --- tamper evidence ---------------------------------------------------------------------------


async def _stored(url: str, tmp_path: Path, count: int = 3) -> list[dict]:
    reqs = [helpers.request(f"chain-{i}") for i in range(count)]
    rec = Recorder(url, Spool(tmp_path / "chain.sqlite"))
    for r in reqs:
        rec.submit(helpers.records_of(r))
    await rec.drain()
    await rec.stop()
    rec.spool.close()
    return reqs


async def _findings(url: str, heads: dict | None = None) -> list[chain.Finding]:
    conn = await asyncpg.connect(url)
    try:
        found = await reads.chains(conn)
    finally:
        await conn.close()
    return [f for uid, rows in found.items() for f in chain.verify(rows, head=(heads or {}).get(uid))]


@pytest.mark.parametrize(
    ("tamper", "problem", "seq"),
    [
        ("UPDATE audit_records SET payload = jsonb_set(payload, '{phase}', '\"Failed\"') WHERE seq = 4", "edited", 4),
        ("DELETE FROM audit_records WHERE seq = 2", "missing", 3),
        (
            "UPDATE audit_records SET seq = 99 WHERE seq = 2; UPDATE audit_records SET seq = 2 WHERE seq = 3;"
            " UPDATE audit_records SET seq = 3 WHERE seq = 99",
            "edited",
            2,
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
async def test_verify_names_the_tampered_record(
    database_url: str, tmp_path: Path, tamper: str, problem: str, seq: int
) -> None:
    reqs = await _stored(database_url, tmp_path)
    assert await _findings(database_url) == []
    victim = reqs[1]["metadata"]["uid"]
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(tamper.replace("WHERE", f"WHERE request_uid = '{victim}' AND"))
    finally:
        await conn.close()
    findings = await _findings(database_url)
    assert findings
    assert {f.request_uid for f in findings} == {victim}
    assert any(f.problem == problem and f.seq == seq for f in findings), findings


async def test_verify_compares_the_last_record_with_the_head_in_status(database_url: str, tmp_path: Path) -> None:
    reqs = await _stored(database_url, tmp_path, count=1)
    uid = reqs[0]["metadata"]["uid"]
    heads = {uid: reqs[0]["status"]["audit"]}
    assert await _findings(database_url, heads) == []
    await _fetch(database_url, "DELETE FROM audit_records WHERE seq = 4")  # the tail, cleanly cut
    assert await _findings(database_url) == []  # the database alone can't tell
    (finding,) = await _findings(database_url, heads)
    assert finding.problem == "head-mismatch"
    assert finding.seq == 4


def test_opsgate_audit_verify_exits_non_zero_and_names_the_request(database_url: str, tmp_path: Path) -> None:
    reqs = asyncio.run(_stored(database_url, tmp_path, count=2))
    runner = CliRunner()
    ok = runner.invoke(cli_main, ["audit", "verify", "--no-cluster", "--database-url", database_url])
    assert ok.exit_code == 0, ok.output
    assert "2 requests, 8 records and 0 LLM exchanges checked: 0 problems" in ok.output
    asyncio.run(
        _fetch(
            database_url,
            'UPDATE audit_records SET payload = payload || \'{"phase": "Denied"}\' WHERE request_uid = $1 AND seq = 1',
            reqs[0]["metadata"]["uid"],
        )
    )
    bad = runner.invoke(cli_main, ["audit", "verify", "--no-cluster", "--database-url", database_url])
    assert bad.exit_code == 1
    assert "TAMPERED team-a/chain-0" in bad.output
    assert "record 1 (AwaitingApproval): edited" in bad.output
    one = runner.invoke(
        cli_main, ["audit", "verify", "--no-cluster", "--request", "chain-1", "--database-url", database_url]
    )
    assert one.exit_code == 0
    assert "1 requests, 4 records and 0 LLM exchanges checked: 0 problems" in one.output
