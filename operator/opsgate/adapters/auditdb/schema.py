"""The audit store's schema: versioned, forward-only migrations.

Each migration runs once, in its own transaction, and is recorded in ``schema_migrations``; all
of them run under a PostgreSQL advisory lock, so two operator replicas starting together (or
``opsgate db migrate`` beside a starting operator) never race. Migrations are never edited once
released: a change is a new migration.

Who approved what stays queryable after the Approval object is gone: ``approvals`` keeps the
decisions as the controller saw them, with no reference to the Kubernetes object.
"""

from __future__ import annotations

import dataclasses

import asyncpg

LOCK_KEY = 0x6F70_7367_6174_6501  # "opsgate" + 1: the advisory lock migrations take


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the seed schema: queries, executions, outcomes, policy results, feedback, fine-tuning examples",
        """
        CREATE TABLE queries (
            request_uid   text PRIMARY KEY,
            name          text NOT NULL,
            namespace     text NOT NULL,
            requester     text,
            request_text  text,
            intent        jsonb,
            action        text,
            parser        text,
            confidence    double precision,
            decision      text,
            phase         text,
            created_at    timestamptz NOT NULL,
            updated_at    timestamptz NOT NULL
        );
        CREATE INDEX queries_created_at ON queries (created_at);
        CREATE INDEX queries_action ON queries (action);
        CREATE INDEX queries_requester ON queries (requester);

        CREATE TABLE policy_results (
            request_uid text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            seq         integer NOT NULL,
            policy      text NOT NULL,
            result      text NOT NULL,
            severity    text,
            category    text,
            message     text,
            decided_at  timestamptz NOT NULL,
            PRIMARY KEY (request_uid, seq, policy)
        );
        CREATE INDEX policy_results_decided_at ON policy_results (decided_at, policy, result);

        CREATE TABLE executions (
            request_uid text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            job_name    text NOT NULL,
            action      text,
            digest      text,
            started_at  timestamptz NOT NULL,
            PRIMARY KEY (request_uid, job_name)
        );

        CREATE TABLE outcomes (
            request_uid text PRIMARY KEY REFERENCES queries (request_uid) ON DELETE RESTRICT,
            phase       text NOT NULL,
            succeeded   boolean NOT NULL,
            message     text,
            result      jsonb,
            finished_at timestamptz NOT NULL
        );
        CREATE INDEX outcomes_finished_at ON outcomes (finished_at, phase);

        CREATE TABLE feedback (
            id               bigserial PRIMARY KEY,
            request_uid      text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            digest           text NOT NULL,
            score            smallint CHECK (score BETWEEN 1 AND 5),
            intent_correct   boolean,
            corrected_intent jsonb,
            comment          text,
            received_at      timestamptz NOT NULL DEFAULT now(),
            UNIQUE (request_uid, digest)
        );
        CREATE INDEX feedback_received_at ON feedback (received_at);

        CREATE TABLE finetune_examples (
            id          bigserial PRIMARY KEY,
            request_uid text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            source      text NOT NULL CHECK (source IN ('correction', 'confirmed')),
            prompt      text NOT NULL,
            intent      jsonb NOT NULL,
            quality     double precision NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            exported_at timestamptz,
            UNIQUE (request_uid, source)
        );
        CREATE INDEX finetune_examples_quality ON finetune_examples (quality) WHERE exported_at IS NULL;
        """,
    ),
    Migration(
        2,
        "tamper-evident audit records, approvals, LLM exchanges, learned phrases",
        """
        CREATE TABLE audit_records (
            request_uid text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            seq         integer NOT NULL CHECK (seq >= 1),
            stage       text NOT NULL,
            at          text NOT NULL,
            payload     jsonb NOT NULL,
            prev_hash   char(64) NOT NULL,
            hash        char(64) NOT NULL UNIQUE,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (request_uid, seq)
        );
        CREATE INDEX audit_records_recorded_at ON audit_records (recorded_at);

        CREATE TABLE approvals (
            request_uid   text NOT NULL REFERENCES queries (request_uid) ON DELETE RESTRICT,
            approval_name text NOT NULL,
            approver      text NOT NULL,
            decision      text NOT NULL CHECK (decision IN ('Approve', 'Reject')),
            digest        text NOT NULL,
            message       text,
            seen_at       timestamptz NOT NULL,
            PRIMARY KEY (request_uid, approval_name, approver)
        );
        CREATE INDEX approvals_approver ON approvals (approver, seen_at);
        CREATE INDEX approvals_seen_at ON approvals (seen_at);

        CREATE TABLE llm_exchanges (
            id            bigserial PRIMARY KEY,
            request_uid   text REFERENCES queries (request_uid) ON DELETE RESTRICT,
            provider      text NOT NULL,
            model         text NOT NULL,
            prompt        text NOT NULL,
            reply         text,
            latency_ms    double precision,
            prompt_tokens integer,
            reply_tokens  integer,
            at            timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX llm_exchanges_request ON llm_exchanges (request_uid);

        CREATE TABLE learned_phrases (
            version        bigserial PRIMARY KEY,
            phrase         text NOT NULL,
            action_key     text NOT NULL,
            request_uid    text REFERENCES queries (request_uid) ON DELETE RESTRICT,
            created_at     timestamptz NOT NULL DEFAULT now(),
            rolled_back_at timestamptz
        );
        CREATE UNIQUE INDEX learned_phrases_active ON learned_phrases (phrase) WHERE rolled_back_at IS NULL;

        ALTER TABLE queries ADD COLUMN audit_seq integer NOT NULL DEFAULT 0;
        """,
    ),
    Migration(
        3,
        "daily policy rollup and a failed-outcomes index: analytics stay fast at 100k+ requests",
        """
        CREATE TABLE policy_daily (
            day    date NOT NULL,
            policy text NOT NULL,
            result text NOT NULL,
            n      bigint NOT NULL,
            PRIMARY KEY (day, policy, result)
        );
        INSERT INTO policy_daily (day, policy, result, n)
        SELECT (decided_at AT TIME ZONE 'UTC')::date, policy, result, count(*)
        FROM policy_results GROUP BY 1, 2, 3;
        ALTER TABLE outcomes ADD COLUMN action text;
        UPDATE outcomes o SET action = q.action FROM queries q WHERE q.request_uid = o.request_uid;
        CREATE INDEX outcomes_failed ON outcomes (finished_at) INCLUDE (phase, action, message) WHERE NOT succeeded;
        CREATE INDEX queries_created_parser ON queries (created_at) INCLUDE (parser, action, confidence, request_uid);
        CREATE INDEX feedback_judged ON feedback (request_uid) INCLUDE (intent_correct)
            WHERE intent_correct IS NOT NULL;
        CREATE INDEX feedback_scored ON feedback (received_at) INCLUDE (score, request_uid) WHERE score IS NOT NULL;
        CREATE INDEX queries_uid_action ON queries (request_uid) INCLUDE (action);
        """,
    ),
)

MIGRATIONS += (
    Migration(
        4,
        "LLM exchanges as the operator records them: an idempotency key, the outcome and why it failed",
        """
        ALTER TABLE llm_exchanges ADD COLUMN exchange_key text;
        ALTER TABLE llm_exchanges ADD COLUMN outcome text NOT NULL DEFAULT 'ok';
        ALTER TABLE llm_exchanges ADD COLUMN detail text;
        CREATE UNIQUE INDEX llm_exchanges_key ON llm_exchanges (exchange_key);
        CREATE INDEX llm_exchanges_at ON llm_exchanges (at, provider, outcome);
        """,
    ),
    Migration(
        5,
        "LLM exchanges in the request's hash chain: the record that lists each; the rows from before, marked",
        # An exchange is listed (key and digests) by its request's next audit record, and written in
        # that record's transaction; record_seq names the record. Rows already here were listed by
        # none: llm_exchanges_unchained keeps how far they go, so `opsgate audit verify` can say
        # they predate the chain instead of calling each one inserted.
        """
        ALTER TABLE llm_exchanges ADD COLUMN record_seq integer;
        CREATE TABLE llm_exchanges_unchained (up_to_id bigint NOT NULL, row_count bigint NOT NULL);
        INSERT INTO llm_exchanges_unchained SELECT coalesce(max(id), 0), count(*) FROM llm_exchanges;
        """,
    ),
)

LATEST = MIGRATIONS[-1].version


async def current_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate(conn: asyncpg.Connection, *, target: int | None = None) -> list[int]:
    """Apply the migrations not applied yet (up to ``target``); the versions applied now."""
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = await current_version(conn)
        for migration in MIGRATIONS:
            if migration.version <= done or (target is not None and migration.version > target):
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
                )
            applied.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied
