"""The recorder: moves audit records and feedback from the spool into PostgreSQL, in batches.

The controller never waits for the database: it puts a record into the on-disk spool
(:mod:`.spool`) and goes on; one background task takes up to ``batch`` items at a time and
writes them in one transaction. Writes are idempotent - a record's key is (request uid, sequence
number), feedback's is (request uid, digest of its values) - so an item sent twice (the process
died after the commit, before removing it from the spool) is inserted once, and the projections
(queries, policy results, approvals, executions, outcomes) are derived only from rows inserted
now. When PostgreSQL is away, items wait and the task retries with backoff until it is back.
The LLM exchanges a record lists ride in its item and are written in its transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from opsgate.adapters.auditdb import schema
from opsgate.adapters.auditdb.spool import Item, Kind, Spool
from opsgate.audit import learning
from opsgate.audit.exchanges import Exchange
from opsgate.audit.records import Record

log = logging.getLogger("opsgate.audit")

BACKOFF = (0.5, 1, 2, 5, 10, 15)  # seconds between attempts while the database is away
TERMINAL = frozenset({"Denied", "NeedsInfo", "Succeeded", "Failed", "Rejected", "Expired", "Answered"})


def _time(raw: str | None) -> datetime.datetime:
    if not raw:
        return datetime.datetime.now(datetime.UTC)
    return datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))


async def connect(url: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(url, timeout=10)
    return conn


class Recorder:
    """One per process. ``start()`` it in a running loop; ``stop()`` flushes what it can."""

    def __init__(
        self,
        url: str,
        spool: Spool,
        *,
        batch: int = 1000,
        interval: float = 0.2,
        migrate: bool = True,
        on_caught_up: Callable[[set[str]], Awaitable[None]] | None = None,
        on_behind: Callable[[dict[str, tuple[str, str]]], Awaitable[None]] | None = None,
    ) -> None:
        self.url, self.spool, self.batch, self.interval, self.migrate = url, spool, batch, interval, migrate
        self.on_caught_up, self.on_behind = on_caught_up, on_behind
        self.healthy = True  # the last attempt to write succeeded (or none was made yet)
        self.down_since: float | None = None
        self.last_error: str | None = None
        self.written = 0
        self.behind: set[str] = set()  # requests whose records waited while the database was away
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # --- what the controller calls --------------------------------------------------------------

    def hold(self, records: Sequence[Record], *, exchanges: Sequence[Exchange] = ()) -> list[int]:
        """Keep ``records`` on disk, not yet to be sent (their status write is under way).

        ``exchanges`` (one record only) are the LLM exchanges the record lists: they travel in the
        record's item, so they are sent, dropped and written with it, in the same transaction.
        """
        assert not exchanges or len(records) == 1, "exchanges ride with one record"
        bodies = [r.to_json() for r in records]
        if exchanges:
            bodies[0]["exchanges"] = [e.to_json() for e in exchanges]
        return self.spool.put(Kind.RECORD, bodies, ready=False)

    def release(self, ids: Iterable[int]) -> None:
        self.spool.release(ids)
        self._wake.set()

    def drop(self, ids: Iterable[int]) -> None:
        self.spool.remove(ids)

    def submit(self, records: Sequence[Record]) -> None:
        self.spool.put(Kind.RECORD, (r.to_json() for r in records))
        self._wake.set()

    def submit_feedback(self, body: Mapping[str, Any]) -> None:
        self.spool.put(Kind.FEEDBACK, [body])
        self._wake.set()

    def submit_exchange(self, exchange: Exchange) -> None:
        """Keep one LLM exchange on its own, listed by no record (the operator's exchanges about a
        request ride with its next record instead: :meth:`hold`, :mod:`.hook`)."""
        self.spool.put(Kind.EXCHANGE, [exchange.to_json()])
        self._wake.set()

    # --- the background task --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="opsgate-audit-recorder")

    async def stop(self, *, grace: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.wait_for(self.drain(), grace)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("the audit store did not take everything before stopping (%s); the spool keeps it", exc)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def drain(self) -> None:
        """Write until the spool has nothing ready (raises if the database is away)."""
        while await self.flush():
            pass

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                if self.written == 0 and self._pool is None:  # at start: migrate before the first record,
                    await self._connection_pool()  # so analytics and verify read a store with its tables
                    self.healthy, self.down_since, self.last_error = True, None, None
                moved = await self.flush()
                attempt = 0
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                self._failed(exc)
                await self._note_behind()
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except Exception:  # a bug must not stop the recorder: the items stay in the spool
                log.exception("writing audit records failed")
                await asyncio.sleep(BACKOFF[-1])
                continue
            if moved < self.batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval * 10)
                await asyncio.sleep(self.interval)  # let a batch gather

    def _failed(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("the audit store is unreachable (%s); records wait in %s", exc, self.spool.path)
            self.down_since = time.monotonic()
        self.healthy, self.last_error = False, str(exc) or type(exc).__name__
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    async def _note_behind(self) -> None:
        """Requests whose records could not be written: their ``Audited`` condition should say so."""
        waiting: dict[str, tuple[str, str]] = {}
        for item in self.spool.ready(self.batch):
            uid = str(item.body.get("request_uid"))
            if item.kind is Kind.RECORD and uid not in self.behind:
                waiting[uid] = (str(item.body.get("namespace")), str(item.body.get("name")))
        self.behind.update(waiting)
        if waiting and self.on_behind is not None:
            try:
                await self.on_behind(waiting)
            except Exception:  # saying so is best effort; the records wait either way
                log.exception("could not mark %d requests as waiting for the audit store", len(waiting))

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(self.url, min_size=1, max_size=2, timeout=10, command_timeout=30)
            assert pool is not None
            if self.migrate:
                async with pool.acquire() as conn:
                    await schema.migrate(conn)
            self._pool = pool
        return self._pool

    async def flush(self) -> int:
        """Write one batch of ready items; how many were taken from the spool."""
        items = self.spool.ready(self.batch)
        if not items:
            return 0
        pool = await self._connection_pool()
        async with pool.acquire() as conn, conn.transaction():
            await write(conn, items)
        self.spool.remove(i.id for i in items)
        self.written += len(items)
        if not self.healthy:
            log.warning("the audit store is back; %d records were waiting", self.spool.count_ready() + len(items))
            self.healthy, self.down_since, self.last_error = True, None, None
        uids = {str(i.body.get("request_uid")) for i in items}
        if self.behind & uids and self.spool.count_ready() == 0:
            caught_up, self.behind = set(self.behind), set()
            if self.on_caught_up is not None:
                await self.on_caught_up(caught_up)
        return len(items)


# --- one batch, in one transaction --------------------------------------------------------------


async def write(conn: asyncpg.Connection, items: Sequence[Item]) -> None:
    records = [Record.from_json(i.body) for i in items if i.kind is Kind.RECORD]
    feedback = [i.body for i in items if i.kind is Kind.FEEDBACK]
    llm: list[tuple[Exchange, int | None]] = [
        (Exchange.from_json(i.body), None) for i in items if i.kind is Kind.EXCHANGE
    ]
    llm += [  # the exchanges a record lists, with the record's number
        (Exchange.from_json(e), int(i.body["seq"]))
        for i in items
        if i.kind is Kind.RECORD
        for e in i.body.get("exchanges") or ()
    ]
    if records:
        await _write_records(conn, records)
    for body in feedback:
        await _write_feedback(conn, body)
    if llm:
        await _write_exchanges(conn, llm)


async def _write_exchanges(conn: asyncpg.Connection, llm: Sequence[tuple[Exchange, int | None]]) -> None:
    """LLM exchanges, each once (its key), with the number of the record listing it (None: none);
    the request's row is made if its first record is yet to come."""
    refs = {e.request.uid: e.request for e, _seq in llm if e.request is not None}
    if refs:
        await conn.execute(
            "INSERT INTO queries (request_uid, name, namespace, created_at, updated_at)"
            " SELECT u, n, ns, c, c FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])"
            " AS r (u, n, ns, c) ON CONFLICT (request_uid) DO NOTHING",
            *_columns([(r.uid, r.name, r.namespace, _time(r.created)) for r in refs.values()]),
        )
    rows = []
    for exchange, seq in llm:
        e = exchange.stored()  # what the record's digests were computed over
        rows.append(
            (
                e.key,
                e.request_uid,
                e.provider,
                e.model,
                e.prompt,
                e.reply,
                e.latency_ms,
                e.prompt_tokens,
                e.reply_tokens,
                e.outcome,
                e.detail,
                _time(e.at),
                seq,
            )
        )
    await conn.execute(
        "INSERT INTO llm_exchanges (exchange_key, request_uid, provider, model, prompt, reply, latency_ms,"
        " prompt_tokens, reply_tokens, outcome, detail, at, record_seq)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::float8[], $8::int[], $9::int[], $10::text[], $11::text[], $12::timestamptz[], $13::int[])"
        " ON CONFLICT (exchange_key) DO NOTHING",
        *_columns(rows),
    )


_INSERT_QUERIES = """
INSERT INTO queries AS q (request_uid, name, namespace, requester, request_text, intent, action, parser,
                          confidence, decision, phase, created_at, updated_at, audit_seq)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[],
                     $8::text[], $9::float8[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[],
                     $14::int[])
ON CONFLICT (request_uid) DO UPDATE SET
    requester = coalesce(q.requester, EXCLUDED.requester),
    request_text = coalesce(q.request_text, EXCLUDED.request_text),
    intent = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.intent, q.intent) ELSE q.intent END,
    action = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.action, q.action) ELSE q.action END,
    parser = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.parser, q.parser) ELSE q.parser END,
    confidence = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.confidence, q.confidence)
                      ELSE q.confidence END,
    decision = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.decision, q.decision)
                    ELSE q.decision END,
    phase = CASE WHEN EXCLUDED.audit_seq > q.audit_seq THEN coalesce(EXCLUDED.phase, q.phase) ELSE q.phase END,
    created_at = least(q.created_at, EXCLUDED.created_at),
    updated_at = greatest(q.updated_at, EXCLUDED.updated_at),
    audit_seq = greatest(q.audit_seq, EXCLUDED.audit_seq)
"""

_INSERT_RECORDS = """
INSERT INTO audit_records (request_uid, seq, stage, at, payload, prev_hash, hash)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[])
ON CONFLICT DO NOTHING
RETURNING request_uid, seq
"""


def _query_row(records: Sequence[Record]) -> tuple[Any, ...]:
    """One ``queries`` row from all of a request's records in the batch (later ones win)."""
    first, last = records[0], records[-1]
    merged: dict[str, Any] = {}
    for record in records:
        merged.update({k: v for k, v in record.payload.items() if v is not None})
    request = merged.get("request") or {}
    intent = merged.get("intent")
    action = None
    if intent and intent.get("action"):
        action = f"{intent.get('category')}.{intent.get('action')}.{intent.get('resource_type')}"
    return (
        first.request_uid,
        first.name,
        first.namespace,
        request.get("requester"),
        request.get("text"),
        json.dumps(intent) if intent is not None else None,
        action,
        intent.get("parser") if intent else None,
        float(intent["confidence"]) if intent and intent.get("confidence") is not None else None,
        (merged.get("policy") or {}).get("decision"),
        merged.get("phase"),
        _time(request.get("created") or first.at),
        _time(last.at),
        last.seq,
    )


async def _write_records(conn: asyncpg.Connection, records: Sequence[Record]) -> None:
    by_request: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: (r.request_uid, r.seq)):
        by_request.setdefault(record.request_uid, []).append(record)
    rows = [_query_row(rs) for rs in by_request.values()]
    await conn.execute(_INSERT_QUERIES, *_columns(rows))
    unique = {(r.request_uid, r.seq): r for r in records}
    inserted = await conn.fetch(
        _INSERT_RECORDS,
        [r.request_uid for r in unique.values()],
        [r.seq for r in unique.values()],
        [r.stage for r in unique.values()],
        [r.at for r in unique.values()],
        [json.dumps(r.payload) for r in unique.values()],
        [r.prev_hash for r in unique.values()],
        [r.hash for r in unique.values()],
    )
    new = [unique[(row["request_uid"], row["seq"])] for row in inserted]
    await _project(conn, new)


async def _project(conn: asyncpg.Connection, records: Sequence[Record]) -> None:
    """The typed tables, from records inserted just now (a replayed record adds nothing)."""
    policies: list[tuple[Any, ...]] = []
    approvals: list[tuple[Any, ...]] = []
    executions: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    for r in records:
        at, p = _time(r.at), r.payload
        for result in (p.get("policy") or {}).get("results") or ():
            policies.append(
                (
                    r.request_uid,
                    r.seq,
                    str(result.get("policy")),
                    str(result.get("result")),
                    result.get("severity"),
                    result.get("category"),
                    result.get("message"),
                    at,
                )
            )
        approval = p.get("approval") or {}
        for decision in p.get("decisions") or ():
            approvals.append(
                (
                    r.request_uid,
                    str(approval.get("name") or p.get("approvalName") or ""),
                    str(decision.get("approver")),
                    str(decision.get("decision")),
                    str(decision.get("digest")),
                    decision.get("message"),
                    at,
                )
            )
        job = p.get("job") or {}
        if job.get("name"):
            plan = p.get("plan") or {}
            executions.append((r.request_uid, str(job["name"]), plan.get("action"), plan.get("digest"), at))
        phase = p.get("phase")
        if phase in TERMINAL:
            ready: dict[str, Any] = next((c for c in p.get("conditions") or () if c.get("type") == "Ready"), {})
            result_value = p.get("result")
            outcomes.append(
                (
                    r.request_uid,
                    phase,
                    phase in ("Succeeded", "Answered"),
                    ready.get("message"),
                    json.dumps(result_value) if result_value is not None else None,
                    at,
                )
            )
    # one statement per table, over arrays: a batch costs a handful of round trips, not one per row
    if policies:
        await conn.execute(
            "INSERT INTO policy_results (request_uid, seq, policy, result, severity, category, message, decided_at)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],"
            " $7::text[], $8::timestamptz[]) ON CONFLICT DO NOTHING",
            *_columns(policies),
        )
    if policies:  # the daily rollup the policies report reads (only new records get here: no double count)
        daily: dict[tuple[Any, ...], int] = {}
        for row in policies:
            key = (row[7].astimezone(datetime.UTC).date(), row[2], row[3])
            daily[key] = daily.get(key, 0) + 1
        await conn.execute(
            "INSERT INTO policy_daily AS d (day, policy, result, n)"
            " SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[])"
            " ON CONFLICT (day, policy, result) DO UPDATE SET n = d.n + EXCLUDED.n",
            *_columns([(*key, n) for key, n in daily.items()]),
        )
    if approvals:
        await conn.execute(
            "INSERT INTO approvals (request_uid, approval_name, approver, decision, digest, message, seen_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
            " $7::timestamptz[]) ON CONFLICT DO NOTHING",
            *_columns(approvals),
        )
    if executions:
        await conn.execute(
            "INSERT INTO executions (request_uid, job_name, action, digest, started_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])"
            " ON CONFLICT DO NOTHING",
            *_columns(executions),
        )
    if outcomes:
        await conn.execute(
            "INSERT INTO outcomes (request_uid, phase, succeeded, message, result, finished_at, action)"
            " SELECT o.*, q.action FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::jsonb[],"
            " $6::timestamptz[]) AS o (request_uid, phase, succeeded, message, result, finished_at)"
            " JOIN queries q USING (request_uid) ON CONFLICT DO NOTHING",
            *_columns(outcomes),
        )


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


async def _write_feedback(conn: asyncpg.Connection, body: Mapping[str, Any]) -> None:
    """One validated feedback (see :func:`opsgate.adapters.auditdb.hook.feedback_body`)."""
    uid = str(body["request_uid"])
    await conn.execute(
        "INSERT INTO queries (request_uid, name, namespace, requester, request_text, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (request_uid) DO NOTHING",
        uid,
        body["name"],
        body["namespace"],
        body.get("requester"),
        body.get("text"),
        _time(body.get("created")),
    )
    corrected = body.get("corrected_intent")
    inserted = await conn.fetchval(
        "INSERT INTO feedback (request_uid, digest, score, intent_correct, corrected_intent, comment)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (request_uid, digest) DO NOTHING RETURNING id",
        uid,
        body["digest"],
        body.get("score"),
        body.get("intent_correct"),
        json.dumps(corrected) if corrected is not None else None,
        body.get("comment"),
    )
    if inserted is None:
        return  # seen before
    score = body.get("score")
    quality = (score / 5.0) if score else 1.0
    text = body.get("text") or ""
    if corrected is not None:
        await conn.execute(
            "INSERT INTO finetune_examples (request_uid, source, prompt, intent, quality)"
            " VALUES ($1, 'correction', $2, $3::jsonb, $4) ON CONFLICT (request_uid, source)"
            " DO UPDATE SET intent = EXCLUDED.intent, quality = EXCLUDED.quality, exported_at = NULL",
            uid,
            text,
            learning.intent_json(corrected),
            quality,
        )
        phrase = learning.phrase_from(text, corrected.get("entities") or {})
        key = f"{corrected['category']}.{corrected['action']}.{corrected['resource_type']}"
        if phrase and body.get("learn", True):
            await conn.execute(
                "INSERT INTO learned_phrases (phrase, action_key, request_uid) VALUES ($1, $2, $3)"
                " ON CONFLICT (phrase) WHERE rolled_back_at IS NULL DO NOTHING",
                phrase,
                key,
                uid,
            )
    elif body.get("intent_correct") is True and body.get("intent"):
        await conn.execute(
            "INSERT INTO finetune_examples (request_uid, source, prompt, intent, quality)"
            " VALUES ($1, 'confirmed', $2, $3::jsonb, $4) ON CONFLICT (request_uid, source) DO NOTHING",
            uid,
            text,
            learning.intent_json(body["intent"]),
            quality,
        )
