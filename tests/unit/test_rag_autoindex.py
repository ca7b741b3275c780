"""The operator's own index: built in the background at start-up while requests are answered, built
again when a source changes, and `opsgate index` run by the operator while it holds the folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsgate.adapters.rag_context import RagContext
from opsgate.cli import main
from opsgate.rag import autoindex, handoff, retriever
from opsgate.rag.embedding import collection_name
from opsgate.rag.hashed import HashedEmbedder
from opsgate.rag.retriever import Retriever
from opsgate.rag.store import Store

RUNBOOK = "# Rotating Vault secrets\nRotate a service's secret in Vault, then restart its pods.\n"


class SlowEmbedder(HashedEmbedder):
    """Real (hashed) vectors, at a model's pace: each batch of the index run takes a while."""

    def __init__(self, seconds: float) -> None:
        super().__init__(dim=64)
        self.seconds = seconds

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) > 1:  # an index batch; a query (one text) stays fast
            time.sleep(self.seconds)
        return super().embed(texts)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "rotate.md").write_text(RUNBOOK)
    # Two index batches of notes sharing no word with the runbook's query. Were they to share one
    # ("secrets"), they would tie on the lexical side, and which of them ranks second there is the
    # engine's choice: a note the 64-bucket hashed vectors put first could then outrank the runbook.
    for n in range(70):
        (root / "docs" / f"note-{n}.md").write_text(f"# Note {n}\nNothing to see here, number {n}.\n")
    return root


@pytest.fixture
def context(tmp_path: Path, home: Path) -> Iterator[RagContext]:
    source = RagContext(Retriever.open(path=str(tmp_path / "qdrant"), embedder=SlowEmbedder(seconds=3.0)))
    yield source
    source.close()


def test_requests_are_answered_while_the_index_is_built_and_find_context_after(context: RagContext, home: Path) -> None:
    indexing = context.start_indexing(home)  # two batches of 3 s each at least
    during = asyncio.run(context.retrieve("rotate the vault secret", question=False))
    assert not indexing.idle.is_set()  # still indexing: the request did not wait for it
    assert during.error in (None, retriever.INDEX_MISSING)  # no context yet, or what is indexed so far
    assert indexing.idle.wait(30)
    after = asyncio.run(context.retrieve("rotate the vault secret", question=False))
    assert after.sources[0]["source"] == "docs/rotate.md#Rotating Vault secrets"


def test_a_source_added_while_the_operator_runs_is_indexed_without_a_restart(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(autoindex.ENV_POLL_SECONDS, "0.2")  # 30 s by default
    source = RagContext(Retriever.open(path=str(tmp_path / "qdrant"), embedder=HashedEmbedder(dim=64)))
    try:
        indexing = source.start_indexing(home)
        assert indexing.idle.wait(30)
        # Written aside and renamed into place, as a ConfigMap volume swaps its files: a check must
        # not catch a half-written file (which would count as one more change, and one more run).
        (home / "scale.partial").write_text("# Scaling the checkout deployment\nRaise its replica count.\n")
        (home / "scale.partial").replace(home / "docs" / "scale.md")
        deadline = time.monotonic() + 20
        found: list[object] = []
        while time.monotonic() < deadline and not found:
            time.sleep(0.2)
            hits = asyncio.run(source.retrieve("scaling the checkout deployment", question=False)).sources
            found = [hit["source"] for hit in hits if str(hit["source"]).startswith("docs/scale.md")]
        assert found == ["docs/scale.md#Scaling the checkout deployment"]
        assert indexing.runs == 2
    finally:
        source.close()


def test_opsgate_index_while_the_operator_runs_is_run_by_the_operator(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "qdrant"
    source = RagContext(Retriever.open(path=str(folder), embedder=HashedEmbedder(dim=64)))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mail.md").write_text("# Creating a mailbox\nCall the mail provider's API.\n")
    monkeypatch.setenv("QDRANT_PATH", str(folder))
    monkeypatch.delenv("QDRANT_URL", raising=False)
    try:
        assert source.start_indexing(home).idle.wait(30)
        result = CliRunner().invoke(main, ["index", "--root", str(tmp_path), "extra"])
        found = asyncio.run(source.retrieve("create a mailbox", question=False)).sources
    finally:
        source.close()
    assert result.exit_code == 0, result.output
    assert "indexed 1 files, skipped 0 unchanged, removed 0, failed 0; 1 chunks" in result.output
    assert f"into {folder} (by the operator)" in result.output
    assert found[0]["source"] == "extra/mail.md#Creating a mailbox"
    assert handoff.owner_pid(folder) is None  # the claim goes with the operator


def test_an_index_run_holding_the_folder_at_start_up_delays_the_operators_index_until_it_ends(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(autoindex.ENV_POLL_SECONDS, "0.2")
    folder = tmp_path / "qdrant"
    holder = Store.open(path=str(folder))
    holder.ensure(collection_name(HashedEmbedder(dim=64)), dim=64)  # its files are locked now
    source = RagContext(Retriever.open(path=str(folder), embedder=HashedEmbedder(dim=64)))
    try:
        indexing = source.start_indexing(home)
        assert not indexing.idle.wait(1.0)
        holder.close()
        assert indexing.idle.wait(30)
        found = asyncio.run(source.retrieve("rotate the vault secret", question=False)).sources
        assert found[0]["source"] == "docs/rotate.md#Rotating Vault secrets"
    finally:
        holder.close()
        source.close()


def test_with_autoindex_off_the_operator_leaves_its_index_alone(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(autoindex.ENV_ENABLED, "0")
    source = RagContext(Retriever.open(path=str(tmp_path / "qdrant"), embedder=HashedEmbedder(dim=64)))
    try:
        assert source.start_indexing(home).idle.wait(1)
        assert asyncio.run(source.retrieve("rotate the vault secret", question=False)).error == retriever.INDEX_MISSING
    finally:
        source.close()
