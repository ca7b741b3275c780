"""What is read back from the audit store: verification, analytics, export, learned phrases."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from opsgate.audit import chain, exchanges, learning

# --- verification -------------------------------------------------------------------------------


async def chains(conn: asyncpg.Connection, *, request_uid: str | None = None) -> dict[str, list[chain.StoredRow]]:
    """Every request's rows (or one request's), in sequence order."""
    where, args = ("WHERE request_uid = $1", [request_uid]) if request_uid else ("", [])
    rows = await conn.fetch(
        f"SELECT request_uid, seq, stage, at, payload::text AS payload, prev_hash, hash FROM audit_records {where}"  # noqa: S608 - fixed text
        " ORDER BY request_uid, seq",
        *args,
    )
    found: dict[str, list[chain.StoredRow]] = {}
    for row in rows:
        found.setdefault(row["request_uid"], []).append(
            chain.StoredRow(
                request_uid=row["request_uid"],
                seq=row["seq"],
                stage=row["stage"],
                at=row["at"],
                payload=json.loads(row["payload"]),
                prev_hash=row["prev_hash"],
                hash=row["hash"],
            )
        )
    return found


async def exchanges_of(
    conn: asyncpg.Connection, *, request_uid: str | None = None
) -> tuple[dict[str | None, list[exchanges.Stored]], int]:
    """Every exchange row (or one request's) by request uid (None: those naming no request), and
    how many rows predate migration 5 (listed by no record: nothing to check them against)."""
    where, args = ("AND request_uid = $1", [request_uid]) if request_uid else ("", [])
    if not await conn.fetchval("SELECT to_regclass('llm_exchanges_unchained') IS NOT NULL"):
        # a store not migrated to version 5 yet: no exchange is listed by a record
        before = await conn.fetchval(f"SELECT count(*) FROM llm_exchanges WHERE true {where}", *args)  # noqa: S608 - fixed text
        return {}, int(before)
    rows = await conn.fetch(
        "SELECT id, exchange_key, request_uid, provider, model, prompt, reply, latency_ms, prompt_tokens,"  # noqa: S608 - fixed text
        " reply_tokens, outcome, detail, at FROM llm_exchanges"
        f" WHERE id > (SELECT coalesce(max(up_to_id), 0) FROM llm_exchanges_unchained) {where}"
        " ORDER BY request_uid, at, id",
        *args,
    )
    unchained = await conn.fetchval(
        "SELECT count(*) FROM llm_exchanges"  # noqa: S608 - fixed text
        f" WHERE id <= (SELECT coalesce(max(up_to_id), 0) FROM llm_exchanges_unchained) {where}",
        *args,
    )
    found: dict[str | None, list[exchanges.Stored]] = {}
    for row in rows:
        found.setdefault(row["request_uid"], []).append(
            exchanges.Stored(
                key=row["exchange_key"] or f"(no key; row id {row['id']})",
                request_uid=row["request_uid"],
                provider=row["provider"],
                model=row["model"],
                prompt=row["prompt"],
                reply=row["reply"],
                latency_ms=row["latency_ms"],
                prompt_tokens=row["prompt_tokens"],
                reply_tokens=row["reply_tokens"],
                outcome=row["outcome"],
                detail=row["detail"],
                at=exchanges.timestamp(row["at"]),
            )
        )
    return found, int(unchained)


async def request_uid(conn: asyncpg.Connection, name: str, namespace: str | None) -> list[tuple[str, str, str]]:
    """(uid, name, namespace) of the requests recorded under ``name``."""
    rows = await conn.fetch(
        "SELECT request_uid, name, namespace FROM queries WHERE name = $1 AND ($2::text IS NULL OR namespace = $2)"
        " ORDER BY created_at",
        name,
        namespace,
    )
    return [(r["request_uid"], r["name"], r["namespace"]) for r in rows]


async def names(conn: asyncpg.Connection) -> dict[str, tuple[str, str]]:
    rows = await conn.fetch("SELECT request_uid, name, namespace FROM queries")
    return {r["request_uid"]: (r["name"], r["namespace"]) for r in rows}


# --- analytics ----------------------------------------------------------------------------------

REPORTS: dict[str, str] = {
    # How often the reading was right, by parser: feedback is the judge where there is some.
    "accuracy": """
        WITH judged AS (
            SELECT request_uid, bool_and(intent_correct) AS correct FROM feedback
            WHERE intent_correct IS NOT NULL GROUP BY request_uid
        )
        SELECT coalesce(q.parser, 'none') AS parser,
               count(*) AS requests,
               count(q.action) AS recognised,
               count(j.request_uid) AS judged,
               count(*) FILTER (WHERE j.correct) AS correct,
               round(avg(q.confidence)::numeric, 3) AS mean_confidence,
               round((count(*) FILTER (WHERE j.correct))::numeric / nullif(count(j.request_uid), 0), 3)
                   AS accuracy
        FROM queries q LEFT JOIN judged j USING (request_uid)
        WHERE q.created_at >= $1
        GROUP BY 1 ORDER BY requests DESC
    """,
    # What goes wrong: unreadable requests, failed runs, denials, by phase and reason.
    "errors": """
        SELECT phase, coalesce(action, '-') AS action, count(*) AS requests, left(min(message), 120) AS example
        FROM outcomes WHERE finished_at >= $1 AND NOT succeeded
        GROUP BY 1, 2 ORDER BY requests DESC LIMIT 50
    """,
    # Every policy result, not only violations: the trend per policy.
    "policies": """
        SELECT policy, sum(n)::bigint AS evaluated,
               coalesce(sum(n) FILTER (WHERE result = 'pass'), 0)::bigint AS passed,
               coalesce(sum(n) FILTER (WHERE result = 'deny'), 0)::bigint AS denied,
               coalesce(sum(n) FILTER (WHERE result = 'approval'), 0)::bigint AS approval
        FROM policy_daily WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date
        GROUP BY policy ORDER BY denied DESC, approval DESC, policy
    """,
    # Who approved or rejected what.
    "approvals": """
        SELECT a.approver, count(*) AS decisions,
               count(*) FILTER (WHERE a.decision = 'Approve') AS approved,
               count(*) FILTER (WHERE a.decision = 'Reject') AS rejected,
               max(a.seen_at) AS last_decision
        FROM approvals a WHERE a.seen_at >= $1
        GROUP BY a.approver ORDER BY decisions DESC
    """,
    # How satisfied requesters are, by action.
    "satisfaction": """
        SELECT coalesce(q.action, '-') AS action, count(f.score) AS scored,
               round(avg(f.score)::numeric, 2) AS mean_score,
               count(*) FILTER (WHERE f.score <= 2) AS unhappy
        FROM feedback f JOIN queries q USING (request_uid)
        WHERE f.received_at >= $1 AND f.score IS NOT NULL
        GROUP BY 1 ORDER BY scored DESC
    """,
    # The LLM exchanges, by provider and model: how many, how many usable, how fast, what they cost.
    "llm": """
        SELECT provider, model, count(*) AS exchanges,
               count(*) FILTER (WHERE outcome = 'ok') AS ok,
               round((percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p50_ms,
               round((percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p95_ms,
               coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens,
               coalesce(sum(reply_tokens), 0)::bigint AS reply_tokens,
               coalesce(string_agg(DISTINCT outcome, ', ') FILTER (WHERE outcome <> 'ok'), '') AS failures
        FROM llm_exchanges WHERE at >= $1
        GROUP BY 1, 2 ORDER BY exchanges DESC
    """,
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "is_finite"):  # Decimal
        return float(value)
    return value


async def report(conn: asyncpg.Connection, name: str, *, days: float) -> list[dict[str, Any]]:
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
    rows = await conn.fetch(REPORTS[name], since)
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


# --- the fine-tuning export ----------------------------------------------------------------------


async def export(conn: asyncpg.Connection, *, min_quality: float, system: str) -> list[dict[str, Any]]:
    """Examples not exported yet at or above ``min_quality``, each marked exported in the same transaction."""
    async with conn.transaction():
        rows = await conn.fetch(
            "UPDATE finetune_examples SET exported_at = now()"
            " WHERE exported_at IS NULL AND quality >= $1"
            " RETURNING id, request_uid, source, prompt, intent::text AS intent, quality",
            min_quality,
        )
    out = []
    for row in sorted(rows, key=lambda r: r["id"]):
        out.append(
            {
                "request_uid": row["request_uid"],
                "source": row["source"],
                "prompt": row["prompt"],
                "intent": json.loads(row["intent"]),
                "quality": row["quality"],
                "system": system,
            }
        )
    return out


# --- learned phrases ----------------------------------------------------------------------------


async def learned(conn: asyncpg.Connection, *, all_versions: bool = False) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, phrase, action_key, request_uid, created_at, rolled_back_at FROM learned_phrases"
        " WHERE $1 OR rolled_back_at IS NULL ORDER BY version",
        all_versions,
    )
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


async def active_phrases(conn: asyncpg.Connection) -> list[learning.Learned]:
    return [learning.Learned(r["version"], r["phrase"], r["action_key"]) for r in await learned(conn)]


async def corrected_examples(conn: asyncpg.Connection, *, limit: int = 500) -> list[tuple[str, str]]:
    """(request text, reply) of the newest corrections, for the LLM parser's few-shot examples."""
    rows = await conn.fetch(
        "SELECT prompt, intent::text AS intent FROM finetune_examples WHERE source = 'correction'"
        " ORDER BY created_at DESC LIMIT $1",
        limit,
    )
    return [(r["prompt"], learning.example_reply(json.loads(r["intent"]))) for r in rows]


async def rollback(conn: asyncpg.Connection, version: int) -> Mapping[str, Any] | None:
    """Roll the learned phrase ``version`` back; the row as it is now, or None if there is none active."""
    row = await conn.fetchrow(
        "UPDATE learned_phrases SET rolled_back_at = now() WHERE version = $1 AND rolled_back_at IS NULL"
        " RETURNING version, phrase, action_key",
        version,
    )
    return dict(row) if row is not None else None


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as an aligned text table (for a terminal)."""
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
