"""The audit store's commands: ``db migrate``, ``audit verify``, ``analytics``, ``dataset export``, ``learn``.

All read ``--database-url`` (default ``OPSGATE_DATABASE_URL`` or ``DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from opsgate.adapters.auditdb import database_url, reads, schema
from opsgate.adapters.auditdb.recorder import connect
from opsgate.audit import chain, exchanges, learning
from opsgate.parsing import prompt

T = TypeVar("T")

_url = click.option(
    "--database-url", "url", default=None, help="PostgreSQL URL (env OPSGATE_DATABASE_URL / DATABASE_URL)."
)


def _run(url: str | None, work: Callable[[Any], Awaitable[T]]) -> T:
    url = url or database_url()
    if not url:
        raise click.ClickException("no audit store: set OPSGATE_DATABASE_URL (or DATABASE_URL) or pass --database-url")

    async def main() -> T:
        try:
            conn = await connect(url)
        except (OSError, TimeoutError) as exc:
            raise click.ClickException(f"cannot reach the audit store: {exc}") from exc
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


# --- opsgate db migrate -------------------------------------------------------------------------


@click.group("db")
def db() -> None:
    """The audit store's schema."""


@db.command("migrate")
@_url
@click.option("--to", "target", type=int, default=None, help="Stop at this schema version (default: the latest).")
def migrate(url: str | None, target: int | None) -> None:
    """Apply the migrations not applied yet (forward only; safe beside a starting operator)."""

    async def work(conn: Any) -> tuple[list[int], int]:
        applied = await schema.migrate(conn, target=target)
        return applied, await schema.current_version(conn)

    applied, version = _run(url, work)
    done = ", ".join(str(v) for v in applied) or "none"
    click.echo(f"applied migrations: {done}; schema version {version} (latest {schema.LATEST})")


# --- opsgate audit verify -----------------------------------------------------------------------


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail."""


# chains by request uid, exchange rows by request uid (None: naming none), rows from before the chain, names
_Stored = tuple[
    dict[str, list[chain.StoredRow]],
    dict[str | None, list[exchanges.Stored]],
    int,
    dict[str, tuple[str, str]],
]


@audit.command("verify")
@_url
@click.option("--request", "request_name", default=None, help="Only this OpsRequest (by name).")
@click.option("-n", "--namespace", default=None, help="The request's namespace (with --request).")
@click.option(
    "--cluster/--no-cluster",
    default=True,
    show_default=True,
    help="Compare each chain's head with the OpsRequest's status.audit (needs the API server).",
)
def verify(url: str | None, request_name: str | None, namespace: str | None, cluster: bool) -> None:
    """Check every request's hash chain and the LLM exchanges it lists; name each edited, deleted,
    reordered or inserted record or exchange."""

    async def work(conn: Any) -> _Stored:
        known = await reads.names(conn)
        if request_name is None:
            every, unchained = await reads.exchanges_of(conn)
            return await reads.chains(conn), every, unchained, known
        found: dict[str, list[chain.StoredRow]] = {}
        llm: dict[str | None, list[exchanges.Stored]] = {}
        unchained = 0
        matches = await reads.request_uid(conn, request_name, namespace)
        if not matches:
            raise click.ClickException(f"no recorded request named {request_name}")
        for uid, _name, _ns in matches:
            found.update(await reads.chains(conn, request_uid=uid))
            found.setdefault(uid, [])
            theirs, before = await reads.exchanges_of(conn, request_uid=uid)
            llm.update(theirs)
            unchained += before
        return found, llm, unchained, known

    rows, llm, unchained, known = _run(url, work)
    heads = _heads(known) if cluster else {}
    findings: list[chain.Finding | exchanges.Finding] = []
    for uid in sorted(rows.keys() | {u for u in llm if u is not None}):
        chain_rows = rows.get(uid, [])
        findings += chain.verify(chain_rows, head=heads.get(uid))
        findings += exchanges.verify(chain_rows, llm.get(uid, []), request_uid=uid)
    findings += exchanges.verify([], llm.get(None, []), request_uid=None)
    for finding in findings:
        where = known.get(finding.request_uid, ("?", finding.request_uid))
        name = "/".join(reversed(where)) if finding.request_uid != "-" else "(no request)"
        click.echo(f"TAMPERED {name}: {finding}")
    checked = sum(len(r) for r in rows.values())
    listed = sum(len(r) for r in llm.values())
    against = f", {len(heads)} heads compared with the API server" if cluster else ""
    click.echo(
        f"{len(rows)} requests, {checked} records and {listed} LLM exchanges checked{against}: {len(findings)} problems"
    )
    if unchained:
        click.echo(
            f"note: {unchained} LLM exchanges were recorded before exchanges were chained (schema version 5);"
            " no record lists them, so they are not checked"
        )
    if findings:
        sys.exit(1)


def _heads(known: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """status.audit of every OpsRequest the API server has, by uid."""
    from opsgate import kube, resources  # the Kubernetes client, only when asked

    try:
        kube.configure()
        items = kube.list_objects(resources.API_VERSION, "OpsRequest", None)
    except Exception as exc:  # no cluster: say so, check the database alone
        click.echo(f"note: OpsRequest statuses not read ({exc}); checking the database alone", err=True)
        return {}
    return {
        item["metadata"]["uid"]: {**(item.get("status") or {}).get("audit", {}), "uid": item["metadata"]["uid"]}
        for item in items
        if (item.get("status") or {}).get("audit")
    }


# --- opsgate analytics --------------------------------------------------------------------------


@click.command("analytics")
@click.argument("report", type=click.Choice(sorted(reads.REPORTS)))
@_url
@click.option("--days", type=float, default=30.0, show_default=True, help="Look back this many days.")
@click.option("--json", "as_json", is_flag=True, help="JSON for tools (default: a table).")
def analytics(report: str, url: str | None, days: float, as_json: bool) -> None:
    """Intent accuracy, error patterns, policy trends, approvals, satisfaction."""

    async def work(conn: Any) -> list[dict[str, Any]]:
        return await reads.report(conn, report, days=days)

    rows = _run(url, work)
    click.echo(json.dumps({"report": report, "days": days, "rows": rows}) if as_json else reads.table(rows))


# --- opsgate dataset export ---------------------------------------------------------------------


@click.group("dataset")
def dataset() -> None:
    """Fine-tuning data from corrected and confirmed intents."""


@dataset.command("export")
@_url
@click.option("--format", "fmt", type=click.Choice(["chat-jsonl", "jsonl"]), default="chat-jsonl", show_default=True)
@click.option(
    "--min-quality", type=float, default=0.0, show_default=True, help="Only examples at least this good (0-1)."
)
@click.option("-o", "--output", type=click.File("w"), default="-", help="Where to write (default: stdout).")
def export(url: str | None, fmt: str, min_quality: float, output: Any) -> None:
    """Write the examples not exported yet, and mark them exported."""
    system = prompt.SYSTEM.split("\nCatalog:")[0].replace("{{", "{").replace("}}", "}")

    async def work(conn: Any) -> list[dict[str, Any]]:
        return await reads.export(conn, min_quality=min_quality, system=system)

    for example in _run(url, work):
        intent = json.dumps(example["intent"], sort_keys=True)
        if fmt == "chat-jsonl":
            line: dict[str, Any] = {
                "messages": [
                    {"role": "system", "content": example["system"]},
                    {"role": "user", "content": example["prompt"]},
                    {"role": "assistant", "content": intent},
                ]
            }
        else:
            line = {"prompt": example["prompt"], "completion": intent, "quality": example["quality"]}
        output.write(json.dumps(line) + "\n")


# --- opsgate learn ------------------------------------------------------------------------------


@click.group("learn")
def learn() -> None:
    """Phrases learned from corrections: review them, roll one back."""


@learn.command("list")
@_url
@click.option("--all", "all_versions", is_flag=True, help="Also the ones rolled back.")
@click.option("--json", "as_json", is_flag=True)
def list_learned(url: str | None, all_versions: bool, as_json: bool) -> None:
    """The learned phrases the rule parser reads, by version."""

    async def work(conn: Any) -> list[dict[str, Any]]:
        return await reads.learned(conn, all_versions=all_versions)

    rows = _run(url, work)
    click.echo(json.dumps(rows) if as_json else reads.table(rows))


@learn.command("rollback")
@_url
@click.argument("version", type=int)
def rollback(url: str | None, version: int) -> None:
    """Stop reading learned phrase VERSION (the operator drops it within 30 s)."""

    async def work(conn: Any) -> Any:
        return await reads.rollback(conn, version)

    row = _run(url, work)
    if row is None:
        raise click.ClickException(f"no active learned phrase with version {version}")
    click.echo(f"rolled back version {row['version']}: {row['phrase']!r} -> {row['action_key']}")


__all__ = ["analytics", "audit", "dataset", "db", "learn", "learning"]
