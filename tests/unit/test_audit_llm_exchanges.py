"""LLM exchanges land in the audit store (real PostgreSQL): as sent (masked), redacted, linked, once.

The exchange comes from the real OpenAI-compatible parser talking to the OpenAI-API test server,
through the recorder's spool, as in the operator.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import asyncpg
import pytest
from tests.fakes.openai_server import Behaviour, FakeOpenAI
from tests.unit import audit_helpers as helpers

from opsgate.adapters.auditdb import reads
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool
from opsgate.adapters.openai_parser import ApiKey, OpenAIParser
from opsgate.audit import exchanges
from opsgate.catalog import load_catalog
from opsgate.parsing import parse_request

pytestmark = pytest.mark.timeout(120)
KEY = "sk-audit-test-key"


async def _rows(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _exchange_for(request: dict[str, object], text: str, *, behaviour: Behaviour) -> exchanges.Exchange:
    seen: list[exchanges.Exchange] = []
    with FakeOpenAI(api_key=KEY, behaviour=behaviour) as server:
        catalog = load_catalog(check_executors=False)
        parser = OpenAIParser(
            base_url=server.url, model="gpt-4o-mini", catalog=catalog, api_key=ApiKey(KEY), on_exchange=seen.append
        )
        token = exchanges.CURRENT.set(exchanges.RequestRef.of(request))
        try:
            await parse_request(text, catalog=catalog, llm=parser)
        finally:
            exchanges.CURRENT.reset(token)
        assert server.leaks == []
    return seen[-1]


async def test_an_exchange_is_kept_as_sent_linked_to_its_request_and_written_once(
    database_url: str, tmp_path: Path
) -> None:
    request = helpers.request("email", text="create an email for jane@acme.org")
    exchange = await _exchange_for(request, "create an email for jane@acme.org", behaviour=Behaviour.VALID)
    recorder = Recorder(database_url, Spool(tmp_path / "spool.sqlite"), interval=0.05)
    try:
        recorder.submit_exchange(exchange)
        recorder.submit_exchange(exchange)  # the spool sent it again after a crash
        await recorder.drain()
        recorder.submit(helpers.records_of(request))  # the request's own records come after
        await recorder.drain()
    finally:
        await recorder.stop(grace=2)
        recorder.spool.close()
    rows = await _rows(
        database_url,
        "SELECT e.*, q.requester, q.phase FROM llm_exchanges e JOIN queries q USING (request_uid)"
        " WHERE request_uid = $1",
        request["metadata"]["uid"],  # type: ignore[index]
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["provider"], row["model"], row["outcome"], row["detail"]) == ("openai", "gpt-4o-mini", "ok", None)
    assert "<EMAIL_1>" in row["prompt"]
    assert "jane@acme.org" not in row["prompt"]
    assert json.loads(row["reply"])["key"] == "provision.create.email"
    assert row["latency_ms"] > 0
    assert row["prompt_tokens"] > 0
    assert (row["requester"], row["phase"]) == ("alice", "Succeeded")  # the request's row, filled by its records


async def test_a_failed_exchange_is_kept_with_why_and_a_secret_never_is(database_url: str, tmp_path: Path) -> None:
    request = helpers.request("scale")
    exchange = await _exchange_for(request, "scale checkout to 3 in staging", behaviour=Behaviour.ERROR)
    # a provider whose reply echoed a credential: what is kept is redacted
    leaked = exchanges.exchange(
        provider="openai",
        model="m",
        messages=[{"role": "user", "content": "api_key=sk-live-abcdef123456"}],
        reply='{"note": "password=hunter2"}',
        latency_s=0.1,
        outcome="ok",
        now=datetime.datetime.now(datetime.UTC),
    )
    recorder = Recorder(database_url, Spool(tmp_path / "spool.sqlite"), interval=0.05)
    try:
        recorder.submit_exchange(exchange)
        recorder.submit_exchange(leaked)
        await recorder.drain()
    finally:
        await recorder.stop(grace=2)
        recorder.spool.close()
    failed = await _rows(
        database_url,
        "SELECT outcome, detail, reply FROM llm_exchanges WHERE request_uid = $1",
        request["metadata"]["uid"],  # type: ignore[index]
    )
    assert [(r["outcome"], r["reply"]) for r in failed] == [("http", None)]
    assert "answered HTTP 500" in failed[0]["detail"]
    conn = await asyncpg.connect(database_url)
    try:
        by_model = {row["model"]: row for row in await reads.report(conn, "llm", days=1)}
    finally:
        await conn.close()
    assert (by_model["gpt-4o-mini"]["exchanges"], by_model["gpt-4o-mini"]["ok"]) == (1, 0)
    assert by_model["gpt-4o-mini"]["failures"] == "http"
    assert (by_model["m"]["exchanges"], by_model["m"]["ok"], by_model["m"]["p50_ms"]) == (1, 1, 100.0)
    kept = await _rows(database_url, "SELECT prompt, reply, request_uid FROM llm_exchanges WHERE model = 'm'")
    assert kept[0]["request_uid"] is None
    assert "sk-live-abcdef123456" not in kept[0]["prompt"]
    assert "hunter2" not in kept[0]["reply"]


async def test_the_ollama_parser_reports_its_exchanges_too() -> None:
    """Ollama runs on the cluster's own nodes: its prompt is kept as sent (unmasked), still redacted."""
    from tests.fakes.ollama_server import FakeOllama

    from opsgate.adapters.ollama_parser import OllamaParser

    seen: list[exchanges.Exchange] = []
    catalog = load_catalog(check_executors=False)
    with FakeOllama() as server:
        parser = OllamaParser(host=server.url, model="llama3.1:8b", catalog=catalog, on_exchange=seen.append)
        await parse_request("create an email for jane@acme.org, token=abcdef123456", catalog=catalog, llm=parser)
    (exchange,) = seen
    assert (exchange.provider, exchange.model, exchange.outcome) == ("ollama", "llama3.1:8b", "ok")
    assert "jane@acme.org" in exchange.prompt
    assert "abcdef123456" not in exchange.prompt
    assert exchange.prompt_tokens
    assert exchange.reply_tokens
    assert json.loads(exchange.reply or "")["key"] == "provision.create.email"
