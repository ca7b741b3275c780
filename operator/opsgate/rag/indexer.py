"""Indexing: find source files, chunk and embed the changed ones, drop the chunks of deleted ones.

Incremental by file content hash: a file whose hash matches what the store holds is skipped, a
changed file's old chunks are replaced, and a file that disappeared from an indexed folder loses its
chunks. A broken file is reported and skipped; it never stops the run.

Each batch is stored on a background thread while the next one is chunked and embedded: both mostly
wait outside the GIL (the engine's writes or network round trips, the model's native code).
"""

from __future__ import annotations

import collections
import dataclasses
import time
import types
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from opsgate.rag import chunking, lexical
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
    files = {relative(file, root=root): file for file in discover(sources, root=root)}
    changed: dict[str, bytes] = {}
    for path, file in files.items():
        data = file.read_bytes()
        if stored.get(path) != file_hash(data):
            changed[path] = data
    # Read once, before the first write: the store must not be read while a batch is being written.
    known = store.vectors_of(collection, list(changed))
    pending: list[Chunk] = []
    pending_paths: list[str] = []
    with _Writer(store, collection) as writer:
        for done, path in enumerate(files, start=1):
            if progress is not None:
                progress(done, len(files), path)
            if path not in changed:
                summary.unchanged += 1
                continue
            try:
                chunks = chunking.chunk_file(path, changed.pop(path))
            except ChunkingError as error:
                summary.failures.append(Failure(path=path, reason=str(error)))
                continue
            summary.indexed += 1
            pending.extend(chunks)
            pending_paths.append(path)
            if len(pending) >= _EMBED_BATCH:
                summary.embedded += _embed_and_write(writer, embedder, known, pending_paths, pending)
                summary.chunks += len(pending)
                pending, pending_paths = [], []
        if pending_paths:
            summary.embedded += _embed_and_write(writer, embedder, known, pending_paths, pending)
            summary.chunks += len(pending)
    gone = [path for path in stored if path not in files and _under(path, sources, root=root)]
    store.delete_paths(collection, gone)
    summary.removed = len(gone)
    if summary.chunks or gone:
        store.settle(collection)
    summary.seconds = clock() - started
    return summary


def _embed_and_write(
    writer: _Writer, embedder: Embedder, known: dict[str, list[float]], paths: list[str], chunks: list[Chunk]
) -> int:
    """Embed what is new in ``chunks`` and hand the batch to the writer.

    Returns how many chunks were embedded: those whose text (with path and title) is new.
    """
    missing = [chunk for chunk in chunks if chunk.embedding_hash not in known]
    embedded = embedder.embed([chunk.embedding_text() for chunk in missing]) if missing else []
    vectors = collections.ChainMap(
        {chunk.embedding_hash: vector for chunk, vector in zip(missing, embedded, strict=True)}, known
    )
    writer.submit(paths, chunks, [vectors[chunk.embedding_hash] for chunk in chunks])
    return len(missing)


class _Writer:
    """Stores batches on one background thread, so the store's writes (the engine's write-ahead log
    in embedded mode, a round trip with a server) overlap the embedding of the next batch, which
    releases the GIL as well.

    At most one batch is in flight: memory stays bounded, and the caller, which only touches the
    store before the first batch and after the writer is closed, never races a write.
    """

    def __init__(self, store: Store, collection: str) -> None:
        self._store = store
        self._collection = collection
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsgate-index-writer")
        self._in_flight: Future[None] | None = None

    def submit(self, paths: list[str], chunks: list[Chunk], dense: list[list[float]]) -> None:
        self.wait()
        self._in_flight = self._executor.submit(_store_batch, self._store, self._collection, paths, chunks, dense)

    def wait(self) -> None:
        """Until the batch in flight is stored; its error, if any, is raised here in the caller's thread."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: types.TracebackType | None
    ) -> None:
        self._executor.shutdown(wait=True)  # no thread outlives index(), whatever happened
        if error is None:
            self.wait()
        elif self._in_flight is not None and (failed := self._in_flight.exception()) is not None:
            error.add_note(f"storing the previous batch failed as well: {failed!r}")


def _store_batch(
    store: Store, collection: str, paths: list[str], chunks: list[Chunk], dense: list[list[float]]
) -> None:
    """Replace the chunks of ``paths`` (a file may now have fewer chunks than before)."""
    store.delete_paths(collection, paths)
    if chunks:
        sparse = [lexical.document_vector(chunk.embedding_text()) for chunk in chunks]
        store.upsert(collection, chunks, dense, sparse)


def _under(path: str, sources: Sequence[Path], *, root: Path) -> bool:
    """Whether a stored path lies under one of the sources being indexed now."""
    for source in sources:
        prefix = relative(source if source.is_absolute() else root / source, root=root)
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return True
    return False
