"""Search for the controller and the CLI: top-k hybrid hits with a relevance floor.

``Retriever.open`` is cheap and never touches the store; the store, the embedder and (in embedded
mode) the in-process index are set up at the first search, so a request arriving before the first
``opsgate index`` only gets "no context" and the index is picked up once it exists. ``retrieve``
is the degrading wrapper the controller calls: it never raises.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import threading
from collections.abc import Sequence

from opsgate.rag import fusion, sparse
from opsgate.rag.embedding import Embedder, collection_name, default_embedder
from opsgate.rag.hits import Hit, context_block
from opsgate.rag.memory_index import MemoryIndex, Rankings
from opsgate.rag.store import Scored, Store

__all__ = ["Hit", "Mode", "RetrievalResult", "Retriever", "context_block", "retrieve"]

logger = logging.getLogger(__name__)

PREFETCH = 50  # candidates per ranking before fusion
DENSE_FLOOR = 0.25  # cosine below which a passage is unrelated (MiniLM: unrelated text scores < 0.2)
LEXICAL_FLOOR = 0.5  # ... unless it holds at least this share of the query's terms
PER_FILE = 2  # at most this many passages of one file: k sources, not k slices of one runbook

NO_RETRIEVER = "context retrieval is not configured"
INDEX_MISSING = "no context index yet (run `opsgate index`); the request goes on without context"
RETRIEVAL_FAILED = "context retrieval failed ({error}); the request goes on without context"
NO_RELEVANT_CONTEXT = "no indexed passage is relevant to the request"


class Mode(enum.StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    SPARSE = "sparse"


class Strategy(enum.StrEnum):
    MEMORY = "memory"  # rankings in-process (embedded mode default)
    QDRANT = "qdrant"  # rankings and fusion by Qdrant (server mode default)


class RetrievalError(RuntimeError):
    """Base of the errors ``Retriever.search`` raises."""


class IndexMissingError(RetrievalError):
    """Nothing has been indexed with this embedder yet."""


@dataclasses.dataclass(frozen=True, slots=True)
class RetrievalResult:
    hits: list[Hit]
    error_message: str | None = None


class Retriever:
    def __init__(
        self,
        *,
        path: str | None,
        url: str | None,
        embedder: Embedder | None,
        strategy: Strategy | None,
        store: Store | None,
    ) -> None:
        self._path = path
        self._url = url
        self._embedder = embedder
        self._strategy = strategy
        self._store = store
        self._memory: MemoryIndex | None = None
        # Searches may run in worker threads (asyncio.to_thread); set-up happens once, under this lock.
        self._setup = threading.Lock()

    @classmethod
    def open(
        cls,
        *,
        path: str | None = None,
        url: str | None = None,
        embedder: Embedder | None = None,
        strategy: Strategy | None = None,
        store: Store | None = None,
    ) -> Retriever:
        """A retriever over ``url`` (or ``QDRANT_URL``), else the folder ``path`` (or ``QDRANT_PATH``).

        Without ``embedder``, the process default (``embedding.default_embedder``) is loaded at the
        first search. ``strategy`` defaults to in-process rankings in embedded mode and to
        Qdrant-side hybrid queries with a server. ``store`` hands over an already open store.
        """
        return cls(path=path, url=url, embedder=embedder, strategy=strategy, store=store)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._memory = None

    def refresh(self) -> None:
        """Forget the in-process view so the next search reloads it (after re-indexing)."""
        self._memory = None

    def search(
        self, query: str, *, k: int = 5, types: Sequence[str] | None = None, mode: Mode = Mode.HYBRID
    ) -> list[Hit]:
        """The best ``k`` passages for ``query`` above the relevance floor, best first.

        Blocking (embedding and ranking take milliseconds; the first search also loads the index):
        from a coroutine, call it through ``asyncio.to_thread``. Safe to call from several threads.
        """
        store, embedder = self._connect()
        collection = collection_name(embedder)
        if not store.exists(collection):
            raise IndexMissingError(INDEX_MISSING)
        dense = embedder.embed([query])[0] if mode is not Mode.SPARSE else []
        lexical = sparse.query_vector(query)
        if self._strategy_for(store) is Strategy.MEMORY:
            candidates, cosines = self._rank_in_memory(store, collection, dense, lexical, mode=mode, types=types)
        else:
            candidates, cosines = _rank_in_qdrant(store, collection, dense, lexical, mode=mode, types=types)
        query_terms = set(sparse.terms(query))
        relevant = [found for found in candidates if _relevant(cosines.get(found.id), query_terms, found)]
        return [Hit.from_payload(found.payload, score=found.score) for found in _per_file(relevant)][:k]

    def _connect(self) -> tuple[Store, Embedder]:
        with self._setup:
            if self._store is None:
                self._store = Store.open(path=self._path, url=self._url)
            if self._embedder is None:
                self._embedder = default_embedder()
            return self._store, self._embedder

    def _memory_view(self, store: Store, collection: str) -> MemoryIndex:
        with self._setup:
            if self._memory is None:
                self._memory = MemoryIndex(store.points(collection))
            return self._memory

    def _strategy_for(self, store: Store) -> Strategy:
        if self._strategy is not None:
            return self._strategy
        return Strategy.MEMORY if store.local else Strategy.QDRANT

    def _rank_in_memory(
        self,
        store: Store,
        collection: str,
        dense: list[float],
        lexical: sparse.SparseVector,
        *,
        mode: Mode,
        types: Sequence[str] | None,
    ) -> tuple[list[Scored], dict[str, float]]:
        memory = self._memory_view(store, collection)
        rankings = memory.rank(dense, lexical, limit=PREFETCH, types=types)
        fused = fusion.rrf(_chosen(rankings, mode))
        cosines = {point: memory.cosine(dense, point) for point, _ in fused} if dense else {}
        return [Scored(id=point, score=score, payload=memory.payloads[point]) for point, score in fused], cosines


def retrieve(
    retriever: Retriever | None, query: str, k: int = 5, *, types: Sequence[str] | None = None
) -> RetrievalResult:
    """Hits, or no hits and a message saying why; never raises (context must not block a request)."""
    if retriever is None:
        return RetrievalResult(hits=[], error_message=NO_RETRIEVER)
    try:
        hits = retriever.search(query, k=k, types=types)
    except IndexMissingError:
        return RetrievalResult(hits=[], error_message=INDEX_MISSING)
    except Exception as error:  # any store/embedder failure degrades to "no context"
        logger.warning("context retrieval failed: %s", type(error).__name__, exc_info=True)
        return RetrievalResult(hits=[], error_message=RETRIEVAL_FAILED.format(error=type(error).__name__))
    return RetrievalResult(hits=hits, error_message=None if hits else NO_RELEVANT_CONTEXT)


def _rank_in_qdrant(
    store: Store,
    collection: str,
    dense: list[float],
    lexical: sparse.SparseVector,
    *,
    mode: Mode,
    types: Sequence[str] | None,
) -> tuple[list[Scored], dict[str, float]]:
    if mode is Mode.HYBRID:
        found = store.search_hybrid(collection, dense, lexical, limit=PREFETCH, prefetch=PREFETCH, types=types)
    elif mode is Mode.DENSE:
        ranked = store.search_dense(collection, dense, limit=PREFETCH, types=types)
        found = [dataclasses.replace(s, score=fused) for s, (_, fused) in zip(ranked, _ranks(ranked), strict=True)]
    else:
        ranked = store.search_sparse(collection, lexical, limit=PREFETCH, types=types)
        found = [dataclasses.replace(s, score=fused) for s, (_, fused) in zip(ranked, _ranks(ranked), strict=True)]
    cosines = _cosines(dense, store.dense_vectors(collection, [s.id for s in found])) if dense else {}
    return found, cosines


def _ranks(ranked: list[Scored]) -> list[tuple[str, float]]:
    return fusion.rrf([[s.id for s in ranked]])


def _cosines(query: list[float], vectors: dict[str, list[float]]) -> dict[str, float]:
    norm = sum(value * value for value in query) ** 0.5 or 1.0
    result = {}
    for point, vector in vectors.items():
        length = sum(value * value for value in vector) ** 0.5 or 1.0
        result[point] = sum(a * b for a, b in zip(query, vector, strict=True)) / (norm * length)
    return result


def _relevant(cosine: float | None, query_terms: set[str], found: Scored) -> bool:
    """The relevance floor: close in meaning, or holding most of the query's words."""
    if cosine is not None and cosine >= DENSE_FLOOR:
        return True
    if not query_terms:
        return False
    payload = found.payload
    held = _held_terms(f"{payload.get('path', '')} {payload.get('title', '')} {payload.get('text', '')}")
    return len(query_terms & held) / len(query_terms) >= LEXICAL_FLOOR


@functools.lru_cache(maxsize=8192)
def _held_terms(text: str) -> frozenset[str]:
    """The terms of a passage, computed once per passage rather than once per search."""
    return frozenset(sparse.terms(text))


def _per_file(candidates: list[Scored]) -> list[Scored]:
    taken: dict[str, int] = {}
    kept = []
    for found in candidates:
        path = str(found.payload.get("path", ""))
        if taken.get(path, 0) < PER_FILE:
            taken[path] = taken.get(path, 0) + 1
            kept.append(found)
    return kept


def _chosen(rankings: Rankings, mode: Mode) -> list[list[str]]:
    if mode is Mode.DENSE:
        return [rankings.dense]
    if mode is Mode.SPARSE:
        return [rankings.sparse]
    return [rankings.dense, rankings.sparse]
