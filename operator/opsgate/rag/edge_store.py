"""The embedded store: the Qdrant engine in this process (Qdrant Edge), one shard per collection.

A collection is a shard folder under the store folder. The shard's write-ahead log is locked, so a
folder is one process's at a time: another process gets :class:`StoreBusyError` at ``open_folder``
(the operator owns its folder; ``opsgate index`` then hands its run to it, see ``handoff``).
Searches and writes may come from different threads; the engine orders them itself.
``qdrant-edge-py`` is pre-1.0: it is pinned, and only this module imports it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from opsgate.rag.lexical import SparseVector
from opsgate.rag.store import (
    DENSE,
    INDEXED_FIELDS,
    PAGE,
    SPARSE,
    STORE_BUSY,
    Store,
    StoreBusyError,
    StoredPoint,
)

_CONFIG_FILE = "edge_config.json"
_LOCKED = "WouldBlock"  # how the engine reports a write-ahead log locked by another process


class EdgeStore(Store):
    embedded = True

    def __init__(self, folder: Path, *, temporary: bool = False) -> None:
        self._folder = folder
        self._temporary = temporary
        self._shards: dict[str, edge.EdgeShard] = {}
        self._lock = threading.Lock()  # guards the shard table, not the shards
        self.location = str(folder)

    @classmethod
    def open_folder(cls, folder: Path) -> EdgeStore:
        """Open every collection in ``folder`` now, so a folder held elsewhere fails here."""
        folder.mkdir(parents=True, exist_ok=True)
        store = cls(folder)
        try:
            for config in sorted(folder.glob(f"*/{_CONFIG_FILE}")):
                store._shard(config.parent.name)
        except StoreBusyError:
            store.close()
            raise
        return store

    @classmethod
    def temporary(cls) -> EdgeStore:
        return cls(Path(tempfile.mkdtemp(prefix="opsgate-qdrant-")), temporary=True)

    def close(self) -> None:
        with self._lock:
            shards, self._shards = self._shards, {}
        for shard in shards.values():
            shard.close()
        if self._temporary:
            shutil.rmtree(self._folder, ignore_errors=True)

    def exists(self, collection: str) -> bool:
        return collection in self._shards or (self._folder / collection / _CONFIG_FILE).is_file()

    def ensure(self, collection: str, *, dim: int) -> None:
        with self._lock:
            if collection in self._shards or (self._folder / collection / _CONFIG_FILE).is_file():
                return
            # Dense vectors on disk (mapped, only the pages searched resident): the engine's default
            # keeps them in a 32 MB chunk it reads in whole at load, however few points there are
            # (the repository's 374 chunks: 12 MB at load on disk, 44 MB in the default).
            config = edge.EdgeConfig(
                vectors={
                    DENSE: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine, memory=edge.Memory.Cold)
                },
                sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            )
            shard = edge.EdgeShard.create(str(self._folder / collection), config)
            for field in INDEXED_FIELDS:
                shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
            self._shards[collection] = shard

    def count(self, collection: str) -> int:
        return int(self._shard(collection).count(edge.CountRequest(exact=True)))

    def upsert_points(self, collection: str, points: Sequence[StoredPoint]) -> None:
        shard = self._shard(collection)
        for start in range(0, len(points), PAGE):
            batch = [
                edge.Point(
                    id=point.id,
                    vector={
                        DENSE: point.dense,
                        SPARSE: edge.SparseVector(indices=point.sparse.indices, values=point.sparse.values),
                    },
                    payload=point.payload,
                )
                for point in points[start : start + PAGE]
            ]
            shard.update(edge.UpdateOperation.upsert_points(batch))

    def delete_paths(self, collection: str, paths: Sequence[str]) -> None:
        if paths:
            self._shard(collection).update(edge.UpdateOperation.delete_points_by_filter(_match("path", paths)))

    def settle(self, collection: str) -> None:
        """After an index run: everything written to the segments.

        Not ``optimize()``: building HNSW took 383 s of two shared cores at 100k chunks, for hybrid
        p50 6 against 14 ms and no better p95 (bench notes in docs/rag.md); the plain segment's
        exact search is within the latency targets at the sizes this index has.
        """
        self._shard(collection).flush()

    def scroll(
        self, collection: str, *, paths: Sequence[str] | None, payload: Sequence[str] | None, vectors: bool
    ) -> Iterator[StoredPoint]:
        shard = self._shard(collection)
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                edge.ScrollRequest(
                    offset=offset,
                    limit=PAGE,
                    filter=_match("path", paths) if paths is not None else None,
                    with_payload=list(payload) if payload is not None else True,
                    with_vector=vectors,
                )
            )
            for record in records:
                yield _stored(record)
            if offset is None:
                return

    def rankings(
        self,
        collection: str,
        *,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        types: Sequence[str] | None = None,
    ) -> list[list[tuple[str, float]]]:
        condition = _match("type", types) if types else None
        vectors: list[tuple[Any, str]] = []
        if dense:
            vectors.append((dense, DENSE))
        if sparse is not None and sparse.indices:
            vectors.append((edge.SparseVector(indices=sparse.indices, values=sparse.values), SPARSE))
        if not vectors:
            return []
        found = self._shard(collection).query_batch(
            edge.QueryBatchRequest(
                [
                    edge.QueryRequest(limit=limit, query=edge.Query.Nearest(vector, using=using), filter=condition)
                    for vector, using in vectors
                ]
            )
        )
        return [[(str(point.id), float(point.score)) for point in ranking] for ranking in found]

    def fetch(self, collection: str, ids: Sequence[str]) -> dict[str, StoredPoint]:
        if not ids:
            return {}
        records = self._shard(collection).retrieve(list(ids), with_payload=True, with_vector=[DENSE])
        return {str(record.id): _stored(record) for record in records}

    def _shard(self, collection: str) -> edge.EdgeShard:
        shard = self._shards.get(collection)
        if shard is not None:
            return shard
        with self._lock:
            if collection not in self._shards:
                try:
                    self._shards[collection] = edge.EdgeShard.load(str(self._folder / collection))
                except Exception as error:  # the engine raises a bare Exception with the cause in its text
                    if _LOCKED in str(error):
                        raise StoreBusyError(STORE_BUSY.format(folder=self._folder)) from error
                    raise
            return self._shards[collection]


def _match(key: str, values: Sequence[str]) -> edge.Filter:
    return edge.Filter(must=[edge.FieldCondition(key=key, match=edge.MatchAny(any=list(values)))])


def _dense(vector: Any) -> list[float] | None:
    found = vector.get(DENSE) if isinstance(vector, dict) else None
    return found if isinstance(found, list) else None  # floats already: no copy per search


def _stored(record: Any) -> StoredPoint:
    vectors = record.vector if isinstance(record.vector, dict) else {}
    lexical = vectors.get(SPARSE)
    return StoredPoint(
        id=str(record.id),
        dense=_dense(vectors) or [],
        sparse=SparseVector(indices=list(lexical.indices), values=[float(v) for v in lexical.values])
        if lexical is not None
        else SparseVector(indices=[], values=[]),
        payload=dict(record.payload or {}),
    )
