"""A Qdrant server through qdrant-client: the production store (``QDRANT_URL``).

The same collection layout, vectors and query as the embedded store (``edge_store``): sparse
vectors come from the engine's BM25 in this process (``lexical``) and carry the server's IDF
modifier; a search is one ``query_batch_points`` call (a ranking per vector, fused here by
``store.fuse``) and one ``retrieve`` of the best.
``ServerStore.local`` runs the same calls against qdrant-client's local mode, the client's API
contract without a server: the tests compare it with the embedded store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from opsgate.rag.lexical import SparseVector
from opsgate.rag.store import DENSE, INDEXED_FIELDS, PAGE, SPARSE, Store, StoredPoint


class ServerStore(Store):
    embedded = False

    def __init__(self, client: QdrantClient, *, location: str, indexes: bool = True) -> None:
        self._client = client
        self._indexes = indexes
        self.location = location

    @classmethod
    def connect(cls, url: str, *, api_key: str | None = None) -> ServerStore:
        client = QdrantClient(url=url, api_key=api_key, timeout=10, check_compatibility=False)
        return cls(client, location=url)

    @classmethod
    def local(cls) -> ServerStore:
        """qdrant-client's in-memory local mode: exact search in Python, for comparisons only."""
        return cls(QdrantClient(location=":memory:"), location=":memory:", indexes=False)

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
        if self._indexes:  # local mode has no payload indexes (and warns about them)
            for field in INDEXED_FIELDS:
                self._client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)

    def count(self, collection: str) -> int:
        return int(self._client.count(collection, exact=True).count)

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
        for start in range(0, len(structs), PAGE):
            self._client.upsert(collection, structs[start : start + PAGE], wait=True)

    def delete_paths(self, collection: str, paths: Sequence[str]) -> None:
        if paths:
            self._client.delete(collection, models.FilterSelector(filter=_match("path", paths)), wait=True)

    def scroll(
        self, collection: str, *, paths: Sequence[str] | None, payload: Sequence[str] | None, vectors: bool
    ) -> Iterator[StoredPoint]:
        offset = None
        while True:
            records, offset = self._client.scroll(
                collection,
                scroll_filter=_match("path", paths) if paths is not None else None,
                limit=PAGE,
                offset=offset,
                with_payload=list(payload) if payload is not None else True,
                with_vectors=vectors,
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
        requests = []
        if dense:
            requests.append(models.QueryRequest(query=dense, using=DENSE, limit=limit, filter=condition))
        if sparse is not None and sparse.indices:
            lexical = models.SparseVector(indices=sparse.indices, values=sparse.values)
            requests.append(models.QueryRequest(query=lexical, using=SPARSE, limit=limit, filter=condition))
        if not requests:
            return []
        found = self._client.query_batch_points(collection, requests=requests)
        return [[(str(point.id), float(point.score)) for point in ranking.points] for ranking in found]

    def fetch(self, collection: str, ids: Sequence[str]) -> dict[str, StoredPoint]:
        if not ids:
            return {}
        records = self._client.retrieve(collection, list(ids), with_payload=True, with_vectors=[DENSE])
        return {str(record.id): _stored(record) for record in records}


def _match(key: str, values: Sequence[str]) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))])


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
