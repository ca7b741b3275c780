"""Search for the controller and the CLI: top-k hybrid hits with a relevance floor.

``Retriever.open`` is cheap and never touches the store; the store and the embedder are set up at
the first search, so a request arriving before the index exists only gets "no context" and the
index is picked up once it does. Every search is one ``Store.query``: the engine ranks and filters,
the store fuses (RRF, ties in a fixed order); here only the relevance floor and the per-file cap are
applied.
``retrieve`` is the degrading wrapper the controller calls: it never raises.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import threading
from collections.abc import Sequence

import numpy as np

from opsgate.rag import lexical
from opsgate.rag.embedding import Embedder, collection_name, default_embedder
from opsgate.rag.hits import Hit, context_block
from opsgate.rag.store import Scored, Store

__all__ = ["Hit", "Mode", "RetrievalResult", "Retriever", "context_block", "retrieve", "retrieve_many"]

logger = logging.getLogger(__name__)

PREFETCH = 50  # candidates per ranking before fusion
FUSED = 20  # fused candidates read back (with their vectors, for the relevance floor): 5 files need far fewer than 50
DENSE_FLOOR = 0.25  # cosine below which a passage is unrelated (MiniLM: unrelated text scores < 0.2)
LEXICAL_FLOOR = 0.5  # ... unless it holds at least this share of the query's terms
PER_FILE = 2  # at most this many passages of one file: k sources, not k slices of one runbook

NO_RETRIEVER = "context retrieval is not configured"
INDEX_MISSING = "no context index yet (being built, or run `opsgate index`); the request goes on without context"
RETRIEVAL_FAILED = "context retrieval failed ({error}); the request goes on without context"
NO_RELEVANT_CONTEXT = "no indexed passage is relevant to the request"


class Mode(enum.StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    SPARSE = "sparse"


class RetrievalError(RuntimeError):
    """Base of the errors ``Retriever.search`` raises."""


class IndexMissingError(RetrievalError):
    """Nothing has been indexed with this embedder yet."""


@dataclasses.dataclass(frozen=True, slots=True)
class RetrievalResult:
    hits: list[Hit]
    error_message: str | None = None


class Retriever:
    def __init__(self, *, path: str | None, url: str | None, embedder: Embedder | None, store: Store | None) -> None:
        self._path = path
        self._url = url
        self._embedder = embedder
        self._store = store
        # Searches may run in worker threads (asyncio.to_thread); set-up happens once, under this lock.
        self._setup = threading.Lock()

    @classmethod
    def open(
        cls,
        *,
        path: str | None = None,
        url: str | None = None,
        embedder: Embedder | None = None,
        store: Store | None = None,
    ) -> Retriever:
        """A retriever over ``url`` (or ``QDRANT_URL``), else the folder ``path`` (or ``QDRANT_PATH``).

        Without ``embedder``, the process default (``embedding.default_embedder``) is loaded at the
        first search. ``store`` hands over an already open store.
        """
        return cls(path=path, url=url, embedder=embedder, store=store)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None

    def connect(self) -> tuple[Store, Embedder]:
        """The store and the embedder, opened on first use (the operator's indexer shares them)."""
        with self._setup:
            if self._store is None:
                self._store = Store.open(path=self._path, url=self._url)
            if self._embedder is None:
                self._embedder = default_embedder()
            return self._store, self._embedder

    def search(
        self, query: str, *, k: int = 5, types: Sequence[str] | None = None, mode: Mode = Mode.HYBRID
    ) -> list[Hit]:
        """The best ``k`` passages for ``query`` above the relevance floor, best first.

        Blocking (embedding and ranking take milliseconds): from a coroutine, call it through
        ``asyncio.to_thread``. Safe to call from several threads.
        """
        return self.search_many([query], k=k, types=types, mode=mode)[0]

    def search_many(
        self, queries: Sequence[str], *, k: int = 5, types: Sequence[str] | None = None, mode: Mode = Mode.HYBRID
    ) -> list[list[Hit]]:
        """``search`` for several queries, their embeddings computed in one batch (a burst of
        requests costs the model one call instead of one each)."""
        store, embedder = self.connect()
        collection = collection_name(embedder)
        if not store.exists(collection):
            raise IndexMissingError(INDEX_MISSING)
        dense_vectors = embedder.embed(list(queries)) if mode is not Mode.SPARSE and queries else [None] * len(queries)
        found: list[list[Hit]] = []
        for query, dense in zip(queries, dense_vectors, strict=True):
            sparse = lexical.query_vector(query) if mode is not Mode.DENSE else None
            candidates = store.query(
                collection, dense=dense, sparse=sparse, limit=FUSED, prefetch=PREFETCH, types=types
            )
            query_terms = lexical.terms(query)
            cosines = _cosines(dense, candidates)
            relevant = [
                hit for hit, cosine in zip(candidates, cosines, strict=True) if _relevant(cosine, query_terms, hit)
            ]
            found.append([Hit.from_payload(hit.payload, score=hit.score) for hit in _per_file(relevant)][:k])
        return found


def retrieve(
    retriever: Retriever | None, query: str, k: int = 5, *, types: Sequence[str] | None = None
) -> RetrievalResult:
    """Hits, or no hits and a message saying why; never raises (context must not block a request)."""
    return retrieve_many(retriever, [query], k, types=types)[0]


def retrieve_many(
    retriever: Retriever | None, queries: Sequence[str], k: int = 5, *, types: Sequence[str] | None = None
) -> list[RetrievalResult]:
    """``retrieve`` for several queries at once (one embedding batch); never raises."""
    if retriever is None:
        return [RetrievalResult(hits=[], error_message=NO_RETRIEVER) for _ in queries]
    try:
        found = retriever.search_many(queries, k=k, types=types)
    except IndexMissingError:
        return [RetrievalResult(hits=[], error_message=INDEX_MISSING) for _ in queries]
    except Exception as error:  # any store/embedder failure degrades to "no context"
        logger.warning("context retrieval failed: %s", type(error).__name__, exc_info=True)
        message = RETRIEVAL_FAILED.format(error=type(error).__name__)
        return [RetrievalResult(hits=[], error_message=message) for _ in queries]
    return [RetrievalResult(hits=hits, error_message=None if hits else NO_RELEVANT_CONTEXT) for hits in found]


def _cosines(query: list[float] | None, candidates: list[Scored]) -> list[float | None]:
    """Each candidate's cosine with the query (None without a dense query or vector)."""
    if not query or not candidates or any(found.dense is None for found in candidates):
        return [None] * len(candidates)
    matrix = np.asarray([found.dense for found in candidates], dtype=np.float32)
    vector = np.asarray(query, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(vector)), 1e-12), 1e-12)
    return [float(value) for value in (matrix @ vector) / norms]


def _relevant(cosine: float | None, query_terms: frozenset[int], found: Scored) -> bool:
    """The relevance floor: close in meaning, or holding most of the query's words."""
    if cosine is not None and cosine >= DENSE_FLOOR:
        return True
    if not query_terms:
        return False
    payload = found.payload
    held = _held_terms(f"{payload.get('path', '')} {payload.get('title', '')} {payload.get('text', '')}")
    return len(query_terms & held) / len(query_terms) >= LEXICAL_FLOOR


@functools.lru_cache(maxsize=8192)
def _held_terms(text: str) -> frozenset[int]:
    """The terms of a passage, computed once per passage rather than once per search."""
    return lexical.terms(text)


def _per_file(candidates: list[Scored]) -> list[Scored]:
    taken: dict[str, int] = {}
    kept = []
    for found in candidates:
        path = str(found.payload.get("path", ""))
        if taken.get(path, 0) < PER_FILE:
            taken[path] = taken.get(path, 0) + 1
            kept.append(found)
    return kept
