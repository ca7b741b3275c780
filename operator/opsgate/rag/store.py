"""The vector store: one interface, two real Qdrants, the same collection layout in both.

* embedded (the default): the Qdrant engine in this process, Qdrant Edge, on disk under
  ``QDRANT_PATH`` (``edge_store``). A folder is one process's at a time (its write-ahead log is
  locked); a second process gets :class:`StoreBusyError`.
* a Qdrant server when ``QDRANT_URL`` is set (with ``QDRANT_API_KEY``), through qdrant-client
  (``server_store``). Several processes may share it.

A collection per embedder holds a named dense vector (cosine) and a named sparse vector with the
IDF modifier (BM25, ``lexical``), keyword payload indexes on ``type`` and ``path``. A search asks the
engine for one ranking per vector (dense, sparse or both, each under the same type filter, in one
batch), fuses them here by reciprocal rank fusion (``fuse``), then reads back the payload and dense
vector of the best. The engine's own fusion orders passages of exactly equal score differently from
one process to the next (two identical ``variable "tags"`` blocks in two modules, say); ``fuse``
gives them one rank and orders them by point id, so a request gets the same context every time and
both stores rank alike.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opsgate.rag.chunks import Chunk
from opsgate.rag.lexical import SparseVector

ENV_URL = "QDRANT_URL"
ENV_API_KEY = "QDRANT_API_KEY"
ENV_PATH = "QDRANT_PATH"
DEFAULT_PATH = Path("~/.cache/opsgate/qdrant")
DENSE = "dense"
SPARSE = "sparse"
INDEXED_FIELDS = ("type", "path")
RRF_K = 60  # Qdrant's default: a passage's fused score is the sum of 1 / (RRF_K + its rank)
PAGE = 512
STORE_BUSY = "the embedded store {folder} is open in another process; stop it or use a Qdrant server (QDRANT_URL)"


class StoreBusyError(RuntimeError):
    """The embedded folder is held by another process (the operator, another index run)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Scored:
    id: str
    score: float  # the fused score on a 0..1 scale: 1.0 is first in every ranking asked for
    payload: dict[str, Any]
    dense: list[float] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class StoredPoint:
    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]


def default_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH).expanduser()


def fuse(rankings: Sequence[Sequence[tuple[str, float]]], *, limit: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of ``(point id, score)`` rankings: the best ``limit`` ids, each with
    its fused score on a 0..1 scale (1.0 is first in every ranking).

    Ranks count from 0; passages of exactly equal score share a rank (the one of the first of them),
    and equal fused scores are ordered by point id: the same input always gives the same order.
    """
    fused: dict[str, float] = {}
    for ranking in rankings:
        ordered = sorted(ranking, key=lambda hit: -hit[1])
        rank, previous = 0, None
        for position, (point, score) in enumerate(ordered):
            if score != previous:
                rank, previous = position, score
            fused[point] = fused.get(point, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(point, min(score * RRF_K / max(len(rankings), 1), 1.0)) for point, score in best]


class Store(abc.ABC):
    """What the indexer and the retriever need of Qdrant; ``open`` picks the engine."""

    location: str  # for messages: the folder or the URL, never the key
    embedded: bool

    @classmethod
    def open(cls, *, path: str | None = None, url: str | None = None, api_key: str | None = None) -> Store:
        """``url`` (or ``QDRANT_URL``) for a server; otherwise the embedded folder ``path`` (or ``QDRANT_PATH``)."""
        url = url or os.environ.get(ENV_URL)
        if url:
            from opsgate.rag.server_store import ServerStore

            return ServerStore.connect(url, api_key=api_key or os.environ.get(ENV_API_KEY))
        from opsgate.rag.edge_store import EdgeStore

        return EdgeStore.open_folder(Path(path).expanduser() if path else default_path())

    @classmethod
    def in_memory(cls) -> Store:
        """A throw-away embedded store in a temporary folder, removed on close (tests, benchmarks)."""
        from opsgate.rag.edge_store import EdgeStore

        return EdgeStore.temporary()

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def exists(self, collection: str) -> bool: ...

    @abc.abstractmethod
    def ensure(self, collection: str, *, dim: int) -> None:
        """Create the collection (vectors and payload indexes) unless it exists."""

    @abc.abstractmethod
    def count(self, collection: str) -> int: ...

    @abc.abstractmethod
    def upsert_points(self, collection: str, points: Sequence[StoredPoint]) -> None: ...

    @abc.abstractmethod
    def delete_paths(self, collection: str, paths: Sequence[str]) -> None: ...

    @abc.abstractmethod
    def scroll(
        self, collection: str, *, paths: Sequence[str] | None, payload: Sequence[str] | None, vectors: bool
    ) -> Iterator[StoredPoint]:
        """Stored points (of ``paths`` if given), with the ``payload`` fields named (all if None)
        and both vectors if ``vectors`` (else empty ones)."""

    @abc.abstractmethod
    def rankings(
        self,
        collection: str,
        *,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        types: Sequence[str] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """The engine's ``limit`` nearest ``(point id, score)`` per query vector given (dense first),
        in one call, without payloads."""

    @abc.abstractmethod
    def fetch(self, collection: str, ids: Sequence[str]) -> dict[str, StoredPoint]:
        """The points ``ids`` that exist, with their payload and dense vector (no sparse vector)."""

    def query(
        self,
        collection: str,
        *,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        prefetch: int,
        types: Sequence[str] | None = None,
    ) -> list[Scored]:
        """The best ``limit`` points: the ``prefetch`` nearest per vector given, RRF-fused
        (``fuse``), each with its payload and dense vector."""
        if sparse is not None and not sparse.indices:
            sparse = None
        if not dense and sparse is None:
            return []
        rankings = self.rankings(collection, dense=dense or None, sparse=sparse, limit=prefetch, types=types)
        best = fuse(rankings, limit=limit)
        found = self.fetch(collection, [point for point, _ in best])
        return [
            Scored(id=point, score=score, payload=found[point].payload, dense=found[point].dense or None)
            for point, score in best
            if point in found  # deleted by an index run between the two calls
        ]

    def settle(self, collection: str) -> None:  # noqa: B027  # most engines need nothing
        """After an index run: make the writes durable and searchable at full speed."""

    def upsert(
        self,
        collection: str,
        chunks: Sequence[Chunk],
        dense: Sequence[list[float]],
        sparse: Sequence[SparseVector],
    ) -> None:
        self.upsert_points(
            collection,
            [
                StoredPoint(id=chunk.point_id, dense=vector, sparse=lexical, payload=chunk.payload())
                for chunk, vector, lexical in zip(chunks, dense, sparse, strict=True)
            ],
        )

    def stored_files(self, collection: str) -> dict[str, str]:
        """path -> file hash of everything indexed (what incremental indexing compares with)."""
        return {
            str(point.payload["path"]): str(point.payload["file_hash"])
            for point in self.scroll(collection, paths=None, payload=["path", "file_hash"], vectors=False)
            if "path" in point.payload
        }

    def points(self, collection: str) -> Iterator[StoredPoint]:
        """Every point with both vectors and its payload."""
        return self.scroll(collection, paths=None, payload=None, vectors=True)

    def vectors_of(self, collection: str, paths: Sequence[str]) -> dict[str, list[float]]:
        """content hash -> dense vector of the chunks stored for ``paths`` (to skip re-embedding)."""
        if not paths:
            return {}
        return {
            str(point.payload["embedding_hash"]): point.dense
            for point in self.scroll(collection, paths=paths, payload=["embedding_hash"], vectors=True)
            if "embedding_hash" in point.payload and point.dense
        }
