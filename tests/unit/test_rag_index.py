"""Indexing into a real embedded Qdrant: incremental by content hash, idempotent, tolerant of broken files."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from opsgate.rag import indexer
from opsgate.rag.chunks import Chunk
from opsgate.rag.edge_store import EdgeStore
from opsgate.rag.embedding import collection_name
from opsgate.rag.hashed import HashedEmbedder
from opsgate.rag.lexical import SparseVector
from opsgate.rag.store import Store

SOURCES = [Path("docs"), Path("playbooks")]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "playbooks" / "security").mkdir(parents=True)
    (root / "docs" / "rotation.md").write_text("# Rotation\nRotate secrets monthly.\n\n## Rollback\nRestore.\n")
    (root / "docs" / "scaling.md").write_text("# Scaling\nScale deployments with the scale playbook.\n")
    (root / "playbooks" / "security" / "rotate-secret.yml").write_text(
        "- name: Rotate a secret\n  hosts: localhost\n  tasks: []\n"
    )
    (root / "docs" / "notes.txt").write_text("not indexed: unknown suffix\n")
    return root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(path=str(tmp_path / "qdrant"))
    yield opened
    opened.close()


EMBEDDER = HashedEmbedder(dim=64)
COLLECTION = collection_name(EMBEDDER)


def run(repo: Path, store: Store) -> indexer.Summary:
    return indexer.index(SOURCES, root=repo, store=store, embedder=EMBEDDER)


def test_a_first_run_indexes_every_source_file_and_reports_its_chunks(repo: Path, store: Store) -> None:
    summary = run(repo, store)
    assert (summary.indexed, summary.unchanged, summary.removed, summary.failures) == (3, 0, 0, [])
    assert summary.chunks == 4
    assert store.count(COLLECTION) == 4
    assert sorted(store.stored_files(COLLECTION)) == [
        "docs/rotation.md",
        "docs/scaling.md",
        "playbooks/security/rotate-secret.yml",
    ]


def test_a_second_run_skips_unchanged_files_and_stores_nothing_twice(repo: Path, store: Store) -> None:
    run(repo, store)
    summary = run(repo, store)
    assert (summary.indexed, summary.unchanged, summary.chunks) == (0, 3, 0)
    assert store.count(COLLECTION) == 4


def test_a_changed_file_replaces_its_chunks_even_when_it_has_fewer(repo: Path, store: Store) -> None:
    run(repo, store)
    (repo / "docs" / "rotation.md").write_text("# Rotation\nRotate secrets weekly now.\n")
    summary = run(repo, store)
    assert (summary.indexed, summary.unchanged) == (1, 2)
    assert store.count(COLLECTION) == 3
    texts = [p.payload["text"] for p in store.points(COLLECTION) if p.payload["path"] == "docs/rotation.md"]
    assert texts == ["# Rotation\nRotate secrets weekly now."]


def test_only_the_changed_sections_of_a_changed_file_are_embedded_again(repo: Path, store: Store) -> None:
    (repo / "docs" / "rotation.md").write_text(
        "# Rotation\nRotate monthly.\n\n## Rollback\nRestore.\n\n## Audit\nLog.\n"
    )
    run(repo, store)
    (repo / "docs" / "rotation.md").write_text(
        "# Rotation\nRotate weekly.\n\n## Rollback\nRestore.\n\n## Audit\nLog.\n"
    )
    summary = run(repo, store)
    assert (summary.indexed, summary.chunks, summary.embedded) == (1, 3, 1)
    vectors = {p.payload["title"]: p.dense for p in store.points(COLLECTION)}
    assert vectors["Rotation"] == pytest.approx(
        EMBEDDER.embed(["doc docs/rotation.md: Rotation\n# Rotation\nRotate weekly."])[0]
    )


def test_a_deleted_file_loses_its_chunks(repo: Path, store: Store) -> None:
    run(repo, store)
    (repo / "docs" / "scaling.md").unlink()
    summary = run(repo, store)
    assert summary.removed == 1
    assert "docs/scaling.md" not in store.stored_files(COLLECTION)


def test_indexing_one_folder_leaves_the_other_folders_chunks_alone(repo: Path, store: Store) -> None:
    run(repo, store)
    indexer.index([Path("docs")], root=repo, store=store, embedder=EMBEDDER)
    assert "playbooks/security/rotate-secret.yml" in store.stored_files(COLLECTION)


def test_a_broken_file_is_reported_and_skipped_without_stopping_the_run(repo: Path, store: Store) -> None:
    (repo / "playbooks" / "security" / "broken.yml").write_text("- name: x\n  tasks: [unclosed\n")
    summary = run(repo, store)
    assert summary.indexed == 3
    assert [failure.path for failure in summary.failures] == ["playbooks/security/broken.yml"]
    assert "invalid YAML" in summary.failures[0].reason
    assert "playbooks/security/broken.yml" not in store.stored_files(COLLECTION)


def test_progress_is_reported_once_per_file_in_order(repo: Path, store: Store) -> None:
    seen: list[tuple[int, int, str]] = []
    indexer.index(SOURCES, root=repo, store=store, embedder=EMBEDDER, progress=lambda *a: seen.append(a))
    assert seen == [
        (1, 3, "docs/rotation.md"),
        (2, 3, "docs/scaling.md"),
        (3, 3, "playbooks/security/rotate-secret.yml"),
    ]


def test_the_stored_payload_carries_what_filters_and_readers_need(repo: Path, store: Store) -> None:
    run(repo, store)
    payload = next(p.payload for p in store.points(COLLECTION) if p.payload["title"] == "Rotation > Rollback")
    assert payload["type"] == "doc"
    assert payload["path"] == "docs/rotation.md"
    assert (payload["start_line"], payload["end_line"]) == (4, 5)
    assert len(payload["content_hash"]) == len(payload["file_hash"]) == 64


def write_docs(repo: Path, count: int, *, cadence: str) -> None:
    """``count`` two-section docs: enough of them fill several embedding batches."""
    for n in range(count):
        (repo / "docs" / f"runbook-{n:02}.md").write_text(
            f"# Runbook {n}\nRotate {cadence}.\n\n## Rollback {n}\nRestore backup {n}.\n"
        )


def test_changed_files_over_several_batches_reuse_the_stored_vectors_of_their_unchanged_sections(
    repo: Path, store: Store
) -> None:
    write_docs(repo, 40, cadence="monthly")
    first = run(repo, store)
    assert (first.chunks, first.embedded) == (84, 84)
    write_docs(repo, 40, cadence="weekly")
    summary = run(repo, store)
    assert (summary.indexed, summary.unchanged, summary.chunks, summary.embedded) == (40, 3, 80, 40)
    assert store.count(COLLECTION) == 84
    stored = {(p.payload["path"], p.payload["title"]): p for p in store.points(COLLECTION)}
    last = stored[("docs/runbook-39.md", "Runbook 39 > Rollback 39")]
    assert last.dense == pytest.approx(
        EMBEDDER.embed(["doc docs/runbook-39.md: Runbook 39 > Rollback 39\n## Rollback 39\nRestore backup 39."])[0]
    )
    assert stored[("docs/runbook-39.md", "Runbook 39")].payload["text"] == "# Runbook 39\nRotate weekly."


class FullDisk(EdgeStore):
    """A real embedded store that runs out of space after ``upserts_left`` writes."""

    upserts_left = 0

    def upsert(
        self, collection: str, chunks: Sequence[Chunk], dense: Sequence[list[float]], sparse: Sequence[SparseVector]
    ) -> None:
        if self.upserts_left == 0:
            raise OSError(28, "No space left on device")
        self.upserts_left -= 1
        super().upsert(collection, chunks, dense, sparse)


def full_disk(folder: Path, *, upserts_left: int) -> FullDisk:
    store = FullDisk.open_folder(folder)
    store.upserts_left = upserts_left
    return store


@pytest.mark.parametrize("upserts_left", [0, 1], ids=["first-batch", "last-batch"])
def test_a_failed_write_fails_the_run_and_leaves_no_thread_behind(
    repo: Path, tmp_path: Path, upserts_left: int
) -> None:
    write_docs(repo, 40, cadence="monthly")  # two batches
    store = full_disk(tmp_path / "full", upserts_left=upserts_left)
    threads = set(threading.enumerate())
    try:
        with pytest.raises(OSError, match="No space left"):
            run(repo, store)
        assert set(threading.enumerate()) == threads
    finally:
        store.close()


class FailingEmbedder(HashedEmbedder):
    """Embeds the first batch, then fails (the model ran out of memory, say)."""

    def __init__(self) -> None:
        super().__init__(dim=EMBEDDER.dim)
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls > 1:
            raise MemoryError("the model ran out of memory")
        return super().embed(texts)


def test_an_embedding_failure_waits_for_the_batch_being_written_and_leaves_no_thread_behind(
    repo: Path, store: Store
) -> None:
    write_docs(repo, 40, cadence="monthly")
    threads = set(threading.enumerate())
    with pytest.raises(MemoryError):
        indexer.index(SOURCES, root=repo, store=store, embedder=FailingEmbedder())
    assert set(threading.enumerate()) == threads
    assert store.count(COLLECTION) == 64  # the first batch, whole


def test_when_both_embedding_and_writing_fail_the_write_error_is_noted_on_the_embedding_one(
    repo: Path, tmp_path: Path
) -> None:
    write_docs(repo, 40, cadence="monthly")
    store = full_disk(tmp_path / "full", upserts_left=0)
    try:
        with pytest.raises(MemoryError) as raised:
            indexer.index(SOURCES, root=repo, store=store, embedder=FailingEmbedder())
    finally:
        store.close()
    assert any("No space left" in note for note in raised.value.__notes__)


def test_a_reopened_embedded_store_holds_what_was_indexed_and_skips_it(repo: Path, tmp_path: Path) -> None:
    first = Store.open(path=str(tmp_path / "qdrant"))
    try:
        assert run(repo, first).chunks == 4
    finally:
        first.close()
    again = Store.open(path=str(tmp_path / "qdrant"))
    try:
        assert again.count(COLLECTION) == 4
        assert (run(repo, again).unchanged, again.count(COLLECTION)) == (3, 4)
    finally:
        again.close()
