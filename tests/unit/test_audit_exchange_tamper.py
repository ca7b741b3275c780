"""An attacker with SQL access edits, deletes and inserts LLM exchanges; ``opsgate audit verify`` names each.

Real PostgreSQL (tests/real_postgres.py). The exchanges go the operator's way: the parser's sink
(:meth:`Auditor.exchange`), listed by the request's next status write's record, through the
spool and the recorder. The tampering is raw SQL, as from ``psql``.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner, Result
from tests.unit import audit_helpers as helpers

from opsgate.adapters.auditdb import schema
from opsgate.adapters.auditdb.hook import Auditor
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool
from opsgate.audit import exchanges
from opsgate.cli import main as cli_main

pytestmark = pytest.mark.timeout(120)
NOW = datetime.datetime(2026, 12, 3, 20, 0, tzinfo=datetime.UTC)
PENDING = {"phase": "AwaitingApproval", "intent": helpers.INTENT, "policy": helpers.POLICY, "conditions": []}


def _exchange(req: dict[str, Any], reply: str) -> exchanges.Exchange:
    token = exchanges.CURRENT.set(exchanges.RequestRef.of(req))
    try:
        return exchanges.exchange(
            provider="openai",
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "create an email for <EMAIL_1>, password=hunter22"}],
            reply=reply,
            latency_s=0.25,
            outcome="ok",
            usage={"prompt_tokens": 300, "completion_tokens": 9},
            now=NOW,
        )
    finally:
        exchanges.CURRENT.reset(token)


async def _planned_and_decided(url: str, tmp_path: Path, name: str) -> dict[str, Any]:
    """A request planned with two LLM exchanges, then rejected: two records, the first listing both."""
    auditor = Auditor(Recorder(url, Spool(tmp_path / f"{name}.sqlite"), interval=0.05))
    req = helpers.request(name)
    try:
        for reply in ('{"key": "provision.create.email"}', '{"key": "provision.create.email", "fixed": true}'):
            auditor.exchange(_exchange(req, reply))
        async with auditor.writing(req, PENDING, notes=[], now=NOW) as status:
            req["status"] = status
        async with auditor.writing(req, {"phase": "Rejected", "conditions": []}, notes=[], now=NOW) as status:
            req["status"] = status
        replayed = auditor.recorder.spool.ready(10)
        await auditor.recorder.drain()
        # the process died after the commit, before the spool forgot: the same items are sent again
        auditor.recorder.spool.put(replayed[0].kind, [item.body for item in replayed])
        await auditor.recorder.drain()
    finally:
        await auditor.recorder.stop(grace=2)
        auditor.recorder.spool.close()
    return req


async def _sql(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def _verify(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli_main, ["audit", "verify", "--no-cluster", "--database-url", url, *args])


@pytest.fixture
def stored(database_url: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The database with one untouched request (``kept``) and one for the attacker (``victim``)."""
    asyncio.run(_planned_and_decided(database_url, tmp_path, "kept"))
    return database_url, asyncio.run(_planned_and_decided(database_url, tmp_path, "victim"))


def test_untouched_exchanges_verify_clean_stored_once_and_redacted(stored: tuple[str, dict[str, Any]]) -> None:
    url, victim = stored
    rows = asyncio.run(
        _sql(url, "SELECT prompt, record_seq FROM llm_exchanges WHERE request_uid = $1", victim["metadata"]["uid"])
    )
    assert [r["record_seq"] for r in rows] == [1, 1]  # replayed, still once each; listed by record 1
    assert all("hunter22" not in r["prompt"] for r in rows)
    result = _verify(url)
    assert result.exit_code == 0, result.output
    assert "2 requests, 4 records and 4 LLM exchanges checked: 0 problems" in result.output
    one = _verify(url, "--request", "victim", "-n", "team-a")
    assert "1 requests, 2 records and 2 LLM exchanges checked: 0 problems" in one.output


TAMPERING = [
    (
        'UPDATE llm_exchanges SET prompt = \'[{"role": "user", "content": "nothing to see"}]\''
        " WHERE id = (SELECT min(id) FROM llm_exchanges WHERE request_uid = $1)",
        "exchange-edited: its prompt changed since record 1 (AwaitingApproval) listed it",
    ),
    (
        'UPDATE llm_exchanges SET reply = \'{"key": "decommission.delete.cluster"}\''
        " WHERE id = (SELECT max(id) FROM llm_exchanges WHERE request_uid = $1)",
        "exchange-edited: its reply changed since record 1 (AwaitingApproval) listed it",
    ),
    (
        "UPDATE llm_exchanges SET outcome = 'timeout', latency_ms = 20000"
        " WHERE id = (SELECT max(id) FROM llm_exchanges WHERE request_uid = $1)",
        "exchange-edited: its details (provider, model, outcome, tokens, latency or time) changed",
    ),
    (
        "DELETE FROM llm_exchanges WHERE id = (SELECT min(id) FROM llm_exchanges WHERE request_uid = $1)",
        "exchange-deleted: record 1 (AwaitingApproval) lists it, but the database has no such exchange",
    ),
    (
        "INSERT INTO llm_exchanges (exchange_key, request_uid, provider, model, prompt, reply, outcome, at,"
        " record_seq) VALUES ('forged', $1, 'openai', 'gpt-4o-mini', '[]', '{}', 'ok', now(), 1)",
        "LLM exchange forged (openai gpt-4o-mini, ",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "said"), TAMPERING, ids=["prompt-edited", "reply-edited", "outcome-edited", "deleted", "inserted"]
)
def test_each_tampered_exchange_is_named_and_verify_exits_non_zero(
    stored: tuple[str, dict[str, Any]], tamper: str, said: str
) -> None:
    url, victim = stored
    asyncio.run(_sql(url, tamper, victim["metadata"]["uid"]))
    result = _verify(url)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("TAMPERED")]
    assert line.startswith(f"TAMPERED team-a/victim: request {victim['metadata']['uid']} LLM exchange ")
    assert said in line
    assert result.output.rstrip().endswith("1 problems")
    untouched = _verify(url, "--request", "kept")
    assert untouched.exit_code == 0, untouched.output


def test_a_forged_exchange_naming_no_request_is_caught(stored: tuple[str, dict[str, Any]]) -> None:
    url, _victim = stored
    asyncio.run(
        _sql(
            url,
            "INSERT INTO llm_exchanges (exchange_key, provider, model, prompt, reply, outcome, at)"
            " VALUES (NULL, 'ollama', 'llama3.1:8b', '[]', '{}', 'ok', now())",
        )
    )
    result = _verify(url)
    assert result.exit_code == 1, result.output
    assert "TAMPERED (no request): request - LLM exchange (no key; row id " in result.output
    assert "it names no request, so no audit record covers it" in result.output


def test_an_exchange_moved_to_another_request_is_caught_on_both(stored: tuple[str, dict[str, Any]]) -> None:
    url, victim = stored
    asyncio.run(
        _sql(
            url,
            "UPDATE llm_exchanges SET request_uid = (SELECT request_uid FROM queries WHERE name = 'kept')"
            " WHERE id = (SELECT min(id) FROM llm_exchanges WHERE request_uid = $1)",
            victim["metadata"]["uid"],
        )
    )
    result = _verify(url)
    assert result.exit_code == 1
    said = sorted(line.split(": ")[0] + " " + line.split(": ")[2] for line in result.output.splitlines()[:-1])
    assert said == ["TAMPERED team-a/kept exchange-unlisted", "TAMPERED team-a/victim exchange-deleted"]


def test_exchanges_recorded_before_the_chain_are_noted_not_called_forged(database_url: str, tmp_path: Path) -> None:
    async def before_and_after() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            assert await schema.migrate(conn, target=4) == [1, 2, 3, 4]
            await conn.execute(
                "INSERT INTO llm_exchanges (exchange_key, provider, model, prompt, outcome) VALUES"
                " ('old-1', 'ollama', 'm', '[]', 'ok')"
            )
            assert await schema.migrate(conn) == [5]
        finally:
            await conn.close()

    asyncio.run(before_and_after())
    result = _verify(database_url)
    assert result.exit_code == 0, result.output
    assert "note: 1 LLM exchanges were recorded before exchanges were chained" in result.output
