"""``opsgate parse``: print the intent of a request as JSON (a fixed contract, see DESIGN.md).

Offline by default (the rule parser). ``--semantic`` (or ``OPSGATE_SEMANTIC_MATCHER=true``) adds
the semantic matcher over the catalog's example requests, with the offline embedder (a second or
more to load). With ``--llm`` or ``OLLAMA_HOST`` set, the Ollama model
runs too and is reconciled with the rules; if it fails, the rule reading is printed. With
``--jsonl``, one request per stdin line, one JSON line out per request, in order, flushed as
it goes so another tool can stream through it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys

import click

from opsgate.catalog import Catalog, load_catalog
from opsgate.intent import Intent
from opsgate.parsing import LlmParser, Matcher, parse_request
from opsgate.settings import Settings

DEFAULT_MODEL = "llama3.1:8b"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def _print(intent: Intent) -> None:
    sys.stdout.write(json.dumps(intent.contract()) + "\n")
    sys.stdout.flush()


async def _run(requests: list[str] | None, *, catalog: Catalog, llm: LlmParser | None, matcher: Matcher | None) -> None:
    if requests is not None:
        for request in requests:
            _print(await parse_request(request, catalog=catalog, llm=llm, matcher=matcher))
        return
    for line in sys.stdin:
        _print(await parse_request(line.rstrip("\r\n"), catalog=catalog, llm=llm, matcher=matcher))


def _learned(catalog: Catalog) -> Catalog:
    """With an audit store configured, the phrases corrections taught the operator read here too."""
    from opsgate.adapters import auditdb

    learned, note = asyncio.run(auditdb.with_learning(catalog, auditdb.database_url()))
    if note:
        click.echo(f"opsgate: {note}", err=True)
    return learned


def semantic_matcher(catalog: Catalog) -> Matcher:
    """The semantic matcher with this process's embedder (the offline MiniLM unless configured)."""
    from opsgate.rag.embedding import default_embedder  # loads a model: only when asked for

    return Matcher(catalog, default_embedder())


@click.command("parse")
@click.argument("text", nargs=-1)
@click.option("--jsonl", is_flag=True, help="Read one request per line on stdin; print one JSON line each.")
@click.option(
    "--llm",
    "use_llm",
    is_flag=True,
    help="Also ask the Ollama model (default when OLLAMA_HOST is set; OPSGATE_LLM_PROVIDER=openai: that endpoint).",
)
@click.option("--ollama-host", envvar="OLLAMA_HOST", default=None, help="Ollama URL [env OLLAMA_HOST].")
@click.option("--model", envvar="OPSGATE_CHAT_MODEL", default=DEFAULT_MODEL, show_default=True)
@click.option("--timeout", type=float, default=20.0, show_default=True, help="LLM timeout in seconds.")
@click.option(
    "--semantic/--no-semantic",
    envvar="OPSGATE_SEMANTIC_MATCHER",
    default=False,
    help="Add the semantic matcher over the catalog's example requests [env OPSGATE_SEMANTIC_MATCHER].",
)
def parse(
    text: tuple[str, ...],
    jsonl: bool,
    use_llm: bool,
    ollama_host: str | None,
    model: str,
    timeout: float,
    semantic: bool,
) -> None:
    """Print the intent of TEXT (or of each stdin line with --jsonl) as JSON."""
    if jsonl == bool(text):
        raise click.UsageError("give TEXT or --jsonl (requests on stdin), not both")
    # Parsing needs the catalog's entries, not its executors: it runs where playbooks may not.
    catalog = _learned(load_catalog(check_executors=False))
    llm = None
    settings = Settings.from_env()
    if settings.llm_provider != "ollama":  # OPSGATE_LLM_PROVIDER=openai: an OpenAI-compatible endpoint
        from opsgate.adapters import llm_provider  # the network client, only when configured

        try:
            llm = llm_provider.from_settings(dataclasses.replace(settings, llm_timeout_seconds=timeout), catalog)
        except llm_provider.ProviderConfigError as exc:
            raise click.UsageError(str(exc)) from None
    elif use_llm or ollama_host or os.environ.get("OLLAMA_HOST"):
        host = ollama_host or DEFAULT_OLLAMA_HOST
        from opsgate.adapters.ollama_parser import OllamaParser  # the network client, only when asked for

        llm = OllamaParser(host=host, model=model, catalog=catalog, timeout=timeout)
    matcher = semantic_matcher(catalog) if semantic else None
    asyncio.run(_run(None if jsonl else [" ".join(text)], catalog=catalog, llm=llm, matcher=matcher))
