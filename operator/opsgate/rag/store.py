"""The vector store: one Qdrant collection per embedder, with a named dense and a sparse vector.

Embedded (qdrant-client local mode, on disk under ``QDRANT_PATH``) by default; a Qdrant server when
``QDRANT_URL`` is set (with ``QDRANT_API_KEY``). Every Qdrant call of the package lives here.
Local mode is exact search in Python and holds a lock on its folder: one process at a time. It has
no locking of its own within the process: a write must not run alongside any other call.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from opsgate.rag import fusion
from opsgate.rag.chunks import Chunk
from opsgate.rag.sparse import SparseVector

ENV_URL = "QDRANT_URL"
ENV_API_KEY = "QDRANT_API_KEY"
ENV_PATH = "QDRANT_PATH"
DEFAULT_PATH = Path("~/.cache/opsgate/qdrant")
DENSE = "dense"
SPARSE = "sparse"
_PAGE = 512
_FILE_FIELDS = ["path", "file_hash"]
STORE_BUSY = "the embedded store {folder} is open in another process; stop it or use a Qdrant server (QDRANT_URL)"


class StoreBusyError(RuntimeError):
    """Local mode locks its folder: another process (the operator, another index run) holds it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Scored:
    id: str
    score: float
    payload: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredPoint:
    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]


def default_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH).expanduser()


class Store:
    def __init__(self, client: QdrantClient, *, local: bool, location: str) -> None:
        self._client = client
        self.local = local
        self.location = location  # for messages: the folder or the URL, never the key

    @classmethod
    def open(cls, *, path: str | None = None, url: str | None = None, api_key: str | None = None) -> Store:
        """``url`` (or ``QDRANT_URL``) for a server; otherwise the on-disk folder ``path``."""
        url = url or os.environ.get(ENV_URL)
        if url:
            key = api_key or os.environ.get(ENV_API_KEY)
            client = QdrantClient(url=url, api_key=key, timeout=10, check_compatibility=False)
            return cls(client, local=False, location=url)
        folder = Path(path).expanduser() if path else default_path()
        folder.mkdir(parents=True, exist_ok=True)
        _refuse_if_locked(folder)
        try:
            # The indexer writes from a background thread. sqlite builds in multi-thread mode (macOS)
            # would refuse a connection used outside the thread that opened it; serialised use is
            # safe, and the indexer never writes concurrently with anything else.
            client = QdrantClient(path=str(folder), force_disable_check_same_thread=True)
        except RuntimeError as error:  # qdrant-client's way of saying the folder lock is taken
            raise StoreBusyError(STORE_BUSY.format(folder=folder)) from error
        return cls(client, local=True, location=str(folder))

    @classmethod
    def in_memory(cls) -> Store:
        """A throw-away embedded store that never touches the disk (tests and benchmarks)."""
        return cls(QdrantClient(location=":memory:"), local=True, location=":memory:")

    def close(self) -> None:
        self._client.close()

    def exists(self, collection: str) -> bool:
        return bool(self._client.collection_exists(collection))

    def ensure(self, collection: str, *, dim: int) -> None:
        if self.exists(collection):
            return
        self._client.create_collection(
            collection,
            vectors_config={DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if not self.local:  # payload indexes make server-side filters cheap; local mode has none
            for field in ("type", "path"):
                self._client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)

    def count(self, collection: str) -> int:
        return int(self._client.count(collection, exact=True).count)

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

    def upsert_points(self, collection: str, points: Sequence[StoredPoint]) -> None:
        structs = [
            models.PointStruct(
                id=point.id,
                vector={
                    DENSE: point.dense,
                    SPARSE: models.SparseVector(indices=point.sparse.indices, values=point.sparse.values),
                },
                payload=point.payload,
            )
            for point in points
        ]
        for start in range(0, len(structs), _PAGE):
            self._client.upsert(collection, structs[start : start + _PAGE], wait=True)

    def delete_paths(self, collection: str, paths: Sequence[str]) -> None:
        if paths:
            selector = models.Filter(must=[models.FieldCondition(key="path", match=models.MatchAny(any=list(paths)))])
            self._client.delete(collection, models.FilterSelector(filter=selector), wait=True)

    def stored_files(self, collection: str) -> dict[str, str]:
        """path -> file hash of everything indexed (what incremental indexing compares with)."""
        return {
            str(record.payload["path"]): str(record.payload["file_hash"])
            for record in self._scroll(collection, with_payload=_FILE_FIELDS, with_vectors=False)
            if record.payload
        }

    def points(self, collection: str) -> Iterator[StoredPoint]:
        """Every point with both vectors and its payload (the in-process index loads these)."""
        for record in self._scroll(collection, with_payload=True, with_vectors=True):
            vectors = record.vector if isinstance(record.vector, dict) else {}
            lexical = vectors.get(SPARSE)
            yield StoredPoint(
                id=str(record.id),
                dense=list(vectors.get(DENSE, [])),
                sparse=SparseVector(indices=list(lexical.indices), values=list(lexical.values))
                if lexical is not None
                else SparseVector(indices=[], values=[]),
                payload=dict(record.payload or {}),
            )

    def vectors_of(self, collection: str, paths: Sequence[str]) -> dict[str, list[float]]:
        """content hash -> dense vector of the chunks stored for ``paths`` (to skip re-embedding)."""
        if not paths:
            return {}
        condition = models.Filter(must=[models.FieldCondition(key="path", match=models.MatchAny(any=list(paths)))])
        vectors: dict[str, list[float]] = {}
        offset = None
        while True:
            records, offset = self._client.scroll(
                collection,
                scroll_filter=condition,
                limit=_PAGE,
                offset=offset,
                with_payload=["embedding_hash"],
                with_vectors=[DENSE],
            )
            for record in records:
                dense = record.vector.get(DENSE) if isinstance(record.vector, dict) else None
                key = (record.payload or {}).get("embedding_hash")
                if isinstance(dense, list) and isinstance(key, str):
                    vectors[key] = [float(value) for value in dense if isinstance(value, float | int)]
            if offset is None:
                return vectors

    def dense_vectors(self, collection: str, ids: Sequence[str]) -> dict[str, list[float]]:
        records = self._client.retrieve(collection, list(ids), with_payload=False, with_vectors=[DENSE])
        vectors: dict[str, list[float]] = {}
        for record in records:
            vector = record.vector.get(DENSE) if isinstance(record.vector, dict) else None
            if isinstance(vector, list):
                vectors[str(record.id)] = [float(value) for value in vector if isinstance(value, float | int)]
        return vectors

    def search_dense(
        self, collection: str, vector: list[float], *, limit: int, types: Sequence[str] | None = None
    ) -> list[Scored]:
        response = self._client.query_points(
            collection, query=vector, using=DENSE, limit=limit, query_filter=_types(types), with_payload=True
        )
        return [_scored(point) for point in response.points]

    def search_sparse(
        self, collection: str, vector: SparseVector, *, limit: int, types: Sequence[str] | None = None
    ) -> list[Scored]:
        response = self._client.query_points(
            collection,
            query=models.SparseVector(indices=vector.indices, values=vector.values),
            using=SPARSE,
            limit=limit,
            query_filter=_types(types),
            with_payload=True,
        )
        return [_scored(point) for point in response.points]

    def search_hybrid(
        self,
        collection: str,
        dense: list[float],
        sparse: SparseVector,
        *,
        limit: int,
        prefetch: int,
        types: Sequence[str] | None = None,
    ) -> list[Scored]:
        """Qdrant-side hybrid: prefetch dense and sparse candidates, fuse them with RRF."""
        condition = _types(types)
        response = self._client.query_points(
            collection,
            prefetch=[
                models.Prefetch(query=dense, using=DENSE, limit=prefetch, filter=condition),
                models.Prefetch(
                    query=models.SparseVector(indices=sparse.indices, values=sparse.values),
                    using=SPARSE,
                    limit=prefetch,
                    filter=condition,
                ),
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=fusion.RRF_K)),
            limit=limit,
            with_payload=True,
        )
        return [
            Scored(id=str(p.id), score=fusion.normalise(p.score, rankings=2), payload=dict(p.payload or {}))
            for p in response.points
        ]

    def _scroll(self, collection: str, *, with_payload: bool | list[str], with_vectors: bool) -> Iterator[Any]:
        offset = None
        while True:
            records, offset = self._client.scroll(
                collection, limit=_PAGE, offset=offset, with_payload=with_payload, with_vectors=with_vectors
            )
            yield from records
            if offset is None:
                return


def _refuse_if_locked(folder: Path) -> None:
    """Fail before qdrant-client does: its own refusal loads the whole collection and leaks a handle."""
    lock = folder / ".lock"
    if not lock.is_file():
        return
    with lock.open("rb+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise StoreBusyError(STORE_BUSY.format(folder=folder)) from error
        fcntl.flock(handle, fcntl.LOCK_UN)


def _types(types: Sequence[str] | None) -> models.Filter | None:
    if not types:
        return None
    return models.Filter(must=[models.FieldCondition(key="type", match=models.MatchAny(any=list(types)))])


def _scored(point: Any) -> Scored:
    return Scored(id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
