"""Indexing: find source files, chunk and embed the changed ones, drop the chunks of deleted ones.

Incremental by file content hash: a file whose hash matches what the store holds is skipped, a
changed file's old chunks are replaced, and a file that disappeared from an indexed folder loses its
chunks. A broken file is reported and skipped; it never stops the run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from opsgate.rag import chunking, sparse
from opsgate.rag.chunks import Chunk, ChunkingError, file_hash
from opsgate.rag.embedding import Embedder, collection_name
from opsgate.rag.store import Store

DEFAULT_SOURCES = ("docs", "playbooks", "terraform", "policies", "README.md")
_SKIPPED_DIRS = frozenset({".git", ".terraform", "node_modules", "__pycache__", ".venv"})
_EMBED_BATCH = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    path: str
    reason: str


@dataclasses.dataclass(slots=True)
class Summary:
    indexed: int = 0  # files (re)chunked and stored
    unchanged: int = 0  # files skipped: same content hash as stored
    removed: int = 0  # files gone from disk whose chunks were deleted
    chunks: int = 0  # chunks written
    embedded: int = 0  # of which embedded anew (the others kept their stored vectors)
    seconds: float = 0.0
    failures: list[Failure] = dataclasses.field(default_factory=list)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int, str], None]  # (files done, files total, current path)


def discover(sources: Iterable[Path], *, root: Path) -> list[Path]:
    """Indexable files under ``sources`` (files or folders), sorted, without duplicates."""
    found: set[Path] = set()
    for source in sources:
        source = source if source.is_absolute() else root / source
        if source.is_file() and source.suffix.lower() in chunking.SUFFIXES:
            found.add(source.resolve())
        elif source.is_dir():
            found.update(
                path.resolve()
                for path in source.rglob("*")
                if path.is_file()
                and path.suffix.lower() in chunking.SUFFIXES
                and not _SKIPPED_DIRS.intersection(path.relative_to(source).parts)
            )
    return sorted(found)


def relative(path: Path, *, root: Path) -> str:
    """The stored path: relative to the root with forward slashes (absolute outside the root)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def index(
    sources: Sequence[Path],
    *,
    root: Path,
    store: Store,
    embedder: Embedder,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Summary:
    started = clock()
    summary = Summary()
    collection = collection_name(embedder)
    store.ensure(collection, dim=embedder.dim)
    stored = store.stored_files(collection)
    files = discover(sources, root=root)
    seen: set[str] = set()
    pending: list[Chunk] = []
    pending_paths: list[str] = []
    for done, file in enumerate(files, start=1):
        path = relative(file, root=root)
        seen.add(path)
        if progress is not None:
            progress(done, len(files), path)
        data = file.read_bytes()
        if stored.get(path) == file_hash(data):
            summary.unchanged += 1
            continue
        try:
            chunks = chunking.chunk_file(path, data)
        except ChunkingError as error:
            summary.failures.append(Failure(path=path, reason=str(error)))
            continue
        summary.indexed += 1
        pending.extend(chunks)
        pending_paths.append(path)
        if len(pending) >= _EMBED_BATCH:
            summary.embedded += _write(store, collection, embedder, pending_paths, pending)
            summary.chunks += len(pending)
            pending, pending_paths = [], []
    summary.embedded += _write(store, collection, embedder, pending_paths, pending)
    summary.chunks += len(pending)
    gone = [path for path in stored if path not in seen and _under(path, sources, root=root)]
    store.delete_paths(collection, gone)
    summary.removed = len(gone)
    summary.seconds = clock() - started
    return summary


def _write(store: Store, collection: str, embedder: Embedder, paths: list[str], chunks: list[Chunk]) -> int:
    """Replace the chunks of ``paths`` (a file may now have fewer chunks than before).

    Returns how many chunks were embedded: those whose text (with path and title) is new.
    """
    known = store.vectors_of(collection, paths)
    missing = [chunk for chunk in chunks if chunk.embedding_hash not in known]
    embedded = embedder.embed([chunk.embedding_text() for chunk in missing]) if missing else []
    vectors = known | {chunk.embedding_hash: vector for chunk, vector in zip(missing, embedded, strict=True)}
    store.delete_paths(collection, paths)
    if chunks:
        dense = [vectors[chunk.embedding_hash] for chunk in chunks]
        lexical = [sparse.document_vector(chunk.embedding_text()) for chunk in chunks]
        store.upsert(collection, chunks, dense, lexical)
    return len(missing)


def _under(path: str, sources: Sequence[Path], *, root: Path) -> bool:
    """Whether a stored path lies under one of the sources being indexed now."""
    for source in sources:
        prefix = relative(source if source.is_absolute() else root / source, root=root)
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return True
    return False
