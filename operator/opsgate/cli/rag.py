"""``opsgate index`` and ``opsgate search``: build the context index and query it from a shell."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from opsgate import paths
from opsgate.rag import handoff, indexer
from opsgate.rag.chunks import SourceType
from opsgate.rag.embedding import default_embedder
from opsgate.rag.retriever import Mode, RetrievalError, Retriever
from opsgate.rag.store import ENV_URL, Store, StoreBusyError, default_path

_TYPES = click.Choice([member.value for member in SourceType])
SUMMARY = "indexed {indexed} files, skipped {unchanged} unchanged, removed {removed}, failed {failed}; "
SUMMARY_TAIL = "{chunks} chunks ({embedded} embedded) in {seconds:.1f}s ({rate:.0f} chunks/s) into {location}"
FAILED = "failed: {path}: {reason}"
NO_HITS = "no relevant sources"
HANDED_OVER = "the operator (pid {pid}) owns {folder}: it runs this index"
HANDOFF_TIMEOUT = 3600.0  # seconds a handed-over run may take


@click.command("index")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), help="Paths are stored relative to it.")
@click.option("--qdrant-path", envvar="QDRANT_PATH", help="Embedded store folder.")
@click.option("--qdrant-url", envvar="QDRANT_URL", help="Qdrant server (overrides --qdrant-path).")
def index(sources: tuple[Path, ...], root: Path | None, qdrant_path: str | None, qdrant_url: str | None) -> None:
    """Index SOURCES (default: the repository's docs/, playbooks/, terraform/, policies/, README.md).

    With the embedded store, a running operator owns the folder and indexes its own sources by
    itself; a run asked for here is then handed to it, and its summary printed here.
    """
    base = (root or _default_root()).resolve()
    chosen = list(sources) or [Path(source) for source in indexer.DEFAULT_SOURCES]
    if not (qdrant_url or os.environ.get(ENV_URL)):
        folder = Path(qdrant_path).expanduser() if qdrant_path else default_path()
        owner = handoff.owner_pid(folder)
        if owner is not None:
            click.echo(HANDED_OVER.format(pid=owner, folder=folder), err=True)
            _report(_handed_over(folder, chosen, base), location=f"{folder} (by the operator)")
            return
    try:
        store = Store.open(path=qdrant_path, url=qdrant_url)
    except StoreBusyError as error:
        raise click.ClickException(str(error)) from error
    try:
        summary = indexer.index(
            chosen, root=base, store=store, embedder=default_embedder(), progress=_progress_printer()
        )
    finally:
        store.close()
    _report(summary, location=store.location)


def _handed_over(folder: Path, sources: list[Path], root: Path) -> indexer.Summary:
    absolute = [str(source if source.is_absolute() else root / source) for source in sources]
    request = handoff.submit(folder, sources=absolute, root=str(root))
    try:
        answer = handoff.wait(folder, request, timeout=HANDOFF_TIMEOUT)
    except handoff.HandoffTimeoutError as error:
        raise click.ClickException(str(error)) from error
    if "error" in answer:
        raise click.ClickException(f"the operator's index run failed: {answer['error']}")
    failures = [indexer.Failure(**failure) for failure in answer.get("failures", [])]
    fields = {field: answer[field] for field in ("indexed", "unchanged", "removed", "chunks", "embedded", "seconds")}
    return indexer.Summary(**fields, failures=failures)


def _report(summary: indexer.Summary, *, location: str) -> None:
    for failure in summary.failures:
        click.echo(FAILED.format(path=failure.path, reason=failure.reason), err=True)
    click.echo(
        SUMMARY.format(
            indexed=summary.indexed,
            unchanged=summary.unchanged,
            removed=summary.removed,
            failed=len(summary.failures),
        )
        + SUMMARY_TAIL.format(
            chunks=summary.chunks,
            embedded=summary.embedded,
            seconds=summary.seconds,
            rate=summary.chunks_per_second,
            location=location,
        )
    )


@click.command("search")
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--type", "types", multiple=True, type=_TYPES, help="Only sources of this type (repeatable).")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default=Mode.HYBRID.value, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: [{source, score, path, lines}].")
@click.option("--qdrant-path", envvar="QDRANT_PATH", help="Embedded store folder.")
@click.option("--qdrant-url", envvar="QDRANT_URL", help="Qdrant server (overrides --qdrant-path).")
def search(
    query: str,
    k: int,
    types: tuple[str, ...],
    mode: str,
    as_json: bool,
    qdrant_path: str | None,
    qdrant_url: str | None,
) -> None:
    """Print the top sources for QUERY with their scores."""
    retriever = Retriever.open(path=qdrant_path, url=qdrant_url)
    try:
        hits = retriever.search(query, k=k, types=list(types) or None, mode=Mode(mode))
    except (RetrievalError, StoreBusyError) as error:
        raise click.ClickException(str(error)) from error
    finally:
        retriever.close()
    if as_json:
        rows = [{**hit.to_status(), "path": hit.path, "lines": [hit.start_line, hit.end_line]} for hit in hits]
        click.echo(json.dumps(rows, indent=2))
        return
    if not hits:
        click.echo(NO_HITS)
    for hit in hits:
        click.echo(f"{hit.score:.3f}  {hit.source}  (lines {hit.start_line}-{hit.end_line})")


def _default_root() -> Path:
    try:
        return paths.home()
    except paths.HomeNotFoundError:
        return Path.cwd()


def _progress_printer() -> indexer.Progress | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, path: str) -> None:
        # One line rewritten in place; the last one stays, so the summary starts on a new line.
        click.echo(f"\r\033[K[{done}/{total}] {path[-60:]}", err=True, nl=done == total)

    return show
