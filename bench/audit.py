"""Benchmark the audit store: records/s through the recorder against raw COPY, analytics at 100k.

Run: ``PYTHONPATH=operator python bench/audit.py [--records 20000] [--requests 100000]
[--database-url URL]``. Without a URL it starts a throwaway PostgreSQL (Debian's package, as
the tests do: tests/real_postgres.py). In one run:

* **recorder**: ``--records`` audit records (a request's four stages each: awaiting approval,
  approved, running, succeeded) built by :func:`opsgate.audit.records.for_write` (hash chain,
  redaction), put into the on-disk spool and written by the recorder in batches (queries upsert,
  records, policy results, approvals, executions, outcomes) - records/s from the first put to
  the last commit (target >= 2,000/s);
* **floor**: the same rows through asyncpg ``copy_records_to_table`` into a bare table of the
  same columns, nothing derived: records/s;
* **analytics**: ``--requests`` requests with their policy results, outcomes, approvals and
  feedback generated in SQL, then each ``opsgate analytics`` report (``--days 30``) run 5 times:
  median and max ms (target <= 200 ms each).

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsgate.adapters.auditdb import reads, schema  # noqa: E402
from opsgate.adapters.auditdb.recorder import Recorder  # noqa: E402
from opsgate.adapters.auditdb.spool import Spool  # noqa: E402
from opsgate.audit import records  # noqa: E402

TARGET_RECORDS_PER_S = 2000
TARGET_QUERY_MS = 200
INTENT = {
    "category": "provision",
    "action": "create",
    "resource_type": "email",
    "entities": {"email": "jane@acme.org"},
    "confidence": 0.92,
    "parser": "rules",
}
POLICY = {
    "decision": "ApprovalRequired",
    "results": [
        {"policy": "no-production-deletion", "result": "pass", "severity": "critical", "category": "safety"},
        {"policy": "mfa-for-privileged-operations", "result": "pass", "severity": "high", "category": "security"},
        {"policy": "approval-for-email", "result": "approval", "severity": "medium", "category": "approval"},
    ],
}


def _lifecycle(i: int) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    approval = {"name": f"approval-{i}", "state": "Pending"}
    decided = {
        "approvalName": f"approval-{i}",
        "decisions": [{"approver": "bob", "decision": "Approve", "digest": "d"}],
    }
    return [
        ({"phase": "AwaitingApproval", "intent": INTENT, "policy": POLICY, "approval": approval}, None),
        ({"phase": "Approved", "approval": {**approval, "state": "Approved"}}, decided),
        ({"phase": "Running", "job": {"name": f"job-{i}"}}, None),
        ({"phase": "Succeeded", "result": {"ok": 3, "summary": "mailbox created"}}, None),
    ]


def build(count: int) -> list[records.Record]:
    out: list[records.Record] = []
    for i in range(count // 4):
        req: dict[str, Any] = {
            "metadata": {"name": f"req-{i}", "namespace": "bench", "uid": str(uuid.uuid4())},
            "spec": {"request": f"create an email for user{i}@acme.org", "requester": f"user{i % 50}"},
            "status": {},
        }
        for n, (status, extra) in enumerate(_lifecycle(i)):
            record = records.for_write(req, status, at=f"2026-12-03T20:00:{n:02d}Z", extra=extra)
            req["status"] = {**req["status"], **status, "audit": records.status_field(record)}
            out.append(record)
    return out


async def bench_recorder(url: str, produced: list[records.Record], scratch: Path) -> float:
    rec = Recorder(url, Spool(scratch / "spool.sqlite"), batch=2000)
    await rec.flush()  # connect and migrate outside the timing
    started = time.perf_counter()
    for start in range(0, len(produced), 500):  # as the controller does: many small puts
        rec.submit(produced[start : start + 500])
    await rec.drain()
    elapsed = time.perf_counter() - started
    await rec.stop()
    return len(produced) / elapsed


async def bench_copy(url: str, produced: list[records.Record]) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE raw_records (request_uid text, seq int, stage text, at text, payload jsonb,"
            " prev_hash text, hash text)"
        )
        rows = [(r.request_uid, r.seq, r.stage, r.at, json.dumps(r.payload), r.prev_hash, r.hash) for r in produced]
        started = time.perf_counter()
        await conn.copy_records_to_table("raw_records", records=rows)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


GENERATE = """
INSERT INTO queries (request_uid, name, namespace, requester, request_text, intent, action, parser, confidence,
                     decision, phase, created_at, updated_at, audit_seq)
SELECT 'u' || g, 'r' || g, 'ns' || (g % 20), 'user' || (g % 500), 'request ' || g, '{}'::jsonb,
       (ARRAY['provision.create.email', 'provision.scale.deployment', 'provision.restart.deployment', NULL])[1 + g % 4],
       (ARRAY['rules', 'llm+rules'])[1 + g % 2], 0.5 + (g % 50) / 100.0,
       (ARRAY['Allowed', 'ApprovalRequired', 'Denied'])[1 + g % 3],
       (ARRAY['Succeeded', 'Failed', 'Denied', 'NeedsInfo'])[1 + g % 4],
       now() - (g % 60) * interval '1 day', now(), 4
FROM generate_series(1, $1) AS g;
INSERT INTO policy_results (request_uid, seq, policy, result, severity, category, message, decided_at)
SELECT 'u' || g, 1, 'policy-' || p, (ARRAY['pass', 'pass', 'deny', 'approval'])[1 + (g + p) % 4], 'high', 'safety',
       'message', now() - (g % 60) * interval '1 day'
FROM generate_series(1, $1) AS g, generate_series(1, 3) AS p;
INSERT INTO policy_daily (day, policy, result, n)
SELECT (decided_at AT TIME ZONE 'UTC')::date, policy, result, count(*) FROM policy_results GROUP BY 1, 2, 3;
INSERT INTO outcomes (request_uid, phase, succeeded, message, result, finished_at, action)
SELECT 'u' || g, (ARRAY['Succeeded', 'Failed', 'Denied', 'NeedsInfo'])[1 + g % 4], g % 4 = 0,
       'outcome ' || (g % 7), NULL, now() - (g % 60) * interval '1 day',
       (ARRAY['provision.create.email', 'provision.scale.deployment', 'provision.restart.deployment', NULL])[1 + g % 4]
FROM generate_series(1, $1) AS g;
INSERT INTO approvals (request_uid, approval_name, approver, decision, digest, message, seen_at)
SELECT 'u' || g, 'a' || g, 'approver' || (g % 30), (ARRAY['Approve', 'Reject'])[1 + g % 2], 'd', 'ok',
       now() - (g % 60) * interval '1 day'
FROM generate_series(1, $1, 5) AS g;
INSERT INTO feedback (request_uid, digest, score, intent_correct, received_at)
SELECT 'u' || g, 'f', 1 + g % 5, g % 3 <> 0, now() - (g % 60) * interval '1 day'
FROM generate_series(1, $1, 5) AS g;
"""


async def bench_analytics(url: str, requests: int) -> dict[str, dict[str, float]]:
    conn = await asyncpg.connect(url)
    try:
        await schema.migrate(conn)
        async with conn.transaction():
            for statement in GENERATE.strip().split(";\n"):
                await conn.execute(statement, *([requests] if "$1" in statement else []))
        await conn.execute("ANALYZE")
        figures: dict[str, dict[str, float]] = {}
        for name in sorted(reads.REPORTS):
            times = []
            for _ in range(5):
                started = time.perf_counter()
                await reads.report(conn, name, days=30)
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
        return figures
    finally:
        await conn.close()


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[tuple[str, Any]]:
    if url:
        yield url, None
        return
    from tests import real_postgres  # the throwaway server the tests use

    binaries = real_postgres.bin_dir()
    if binaries is None:
        raise SystemExit("PostgreSQL binaries not found: run hack/setup.sh or pass --database-url")
    with real_postgres.serve(binaries) as server:
        yield server.admin_url, server


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with _server(args.database_url) as (url, server), tempfile.TemporaryDirectory() as scratch:
        fresh = (lambda: server.create_database()) if server is not None else (lambda: url)
        started = time.perf_counter()
        produced = build(args.records)
        build_per_s = len(produced) / (time.perf_counter() - started)
        recorder_per_s = await bench_recorder(fresh(), produced, Path(scratch))
        copy_per_s = await bench_copy(fresh(), produced)
        analytics = await bench_analytics(fresh(), args.requests)
    print(f"records built (hash chain, redaction): {build_per_s:,.0f}/s")
    print(f"through the recorder (spool -> batches -> PostgreSQL): {recorder_per_s:,.0f} records/s")
    print(f"raw asyncpg copy_records_to_table, same rows: {copy_per_s:,.0f} records/s")
    print(f"analytics at {args.requests:,} requests (median / max of 5, --days 30):")
    for name, figure in analytics.items():
        print(f"  {name:13} {figure['median_ms']:7.1f} ms  {figure['max_ms']:7.1f} ms")
    worst = max(f["max_ms"] for f in analytics.values())
    return {
        "records": len(produced),
        "build_records_per_s": round(build_per_s),
        "recorder_records_per_s": round(recorder_per_s),
        "copy_records_per_s": round(copy_per_s),
        "recorder_vs_copy": round(recorder_per_s / copy_per_s, 3),
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "analytics_requests": args.requests,
        "analytics_ms": analytics,
        "analytics_worst_ms": worst,
        "target_query_ms": TARGET_QUERY_MS,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=100000)
    parser.add_argument("--database-url", default=None, help="An existing PostgreSQL (default: start one).")
    figures = asyncio.run(main(parser.parse_args()))
    print(json.dumps(figures))
