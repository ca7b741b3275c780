"""The in-process index for embedded mode: both rankings computed with numpy, no per-query store call.

qdrant-client's local mode is exact search in Python: its sparse prefetch and payload filters cost
hundreds of milliseconds at 20k chunks. Loaded once from the store, this index answers a dense
ranking with one matrix product, a BM25 ranking from an inverted index (IDF from the loaded
collection), and a type filter as a mask, all in a few milliseconds. Qdrant stays the system of
record; this is a read view of it.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from opsgate.rag import sparse
from opsgate.rag.store import StoredPoint

Floats = npt.NDArray[np.float32]


@dataclasses.dataclass(frozen=True, slots=True)
class Rankings:
    dense: list[str]  # point ids, best first
    sparse: list[str]


class MemoryIndex:
    def __init__(self, points: Iterable[StoredPoint]) -> None:
        loaded = list(points)
        self.ids = [point.id for point in loaded]
        self.payloads: dict[str, dict[str, Any]] = {point.id: point.payload for point in loaded}
        self._row = {point_id: row for row, point_id in enumerate(self.ids)}
        dim = len(loaded[0].dense) if loaded else 0
        self._dense: Floats = np.array([point.dense for point in loaded], dtype=np.float32).reshape(len(loaded), dim)
        norms = np.linalg.norm(self._dense, axis=1, keepdims=True)
        self._dense /= np.maximum(norms, 1e-12)
        self._types = np.array([str(point.payload.get("type", "")) for point in loaded])
        self._postings = _postings(loaded)
        self._masks: dict[frozenset[str], npt.NDArray[np.bool_]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def rank(
        self,
        dense: Sequence[float],
        lexical: sparse.SparseVector,
        *,
        limit: int,
        types: Sequence[str] | None = None,
    ) -> Rankings:
        if not self.ids:
            return Rankings(dense=[], sparse=[])
        allowed = self._mask(frozenset(types or ()))
        dense_ranking: list[str] = []
        if len(dense):  # an empty query vector asks for the lexical ranking only
            cosines = self._dense @ np.asarray(dense, dtype=np.float32)
            dense_ranking = self._top(np.where(allowed, cosines, -np.inf), limit)
        lexical_scores = self._bm25(lexical)
        lexical_scores = np.where(allowed & (lexical_scores > 0), lexical_scores, -np.inf)
        return Rankings(dense=dense_ranking, sparse=self._top(lexical_scores, limit))

    def _mask(self, types: frozenset[str]) -> npt.NDArray[np.bool_]:
        """Rows of the given types (all rows for none); computed once per type set."""
        if types not in self._masks:
            everything = np.ones(len(self.ids), dtype=bool)
            self._masks[types] = np.isin(self._types, sorted(types)) if types else everything
        return self._masks[types]

    def cosine(self, dense: Sequence[float], point_id: str) -> float:
        query = np.asarray(dense, dtype=np.float32)
        return float(self._dense[self._row[point_id]] @ query / max(float(np.linalg.norm(query)), 1e-12))

    def _bm25(self, lexical: sparse.SparseVector) -> Floats:
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for term, weight in zip(lexical.indices, lexical.values, strict=True):
            posting = self._postings.get(term)
            if posting is None:
                continue
            rows, values = posting
            scores[rows] += weight * sparse.idf(len(rows), len(self.ids)) * values
        return scores

    def _top(self, scores: Floats, limit: int) -> list[str]:
        finite = int(np.isfinite(scores).sum())
        count = min(limit, finite)
        if count == 0:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        ordered = best[np.argsort(-scores[best], kind="stable")]
        return [self.ids[row] for row in ordered]


def _postings(points: list[StoredPoint]) -> dict[int, tuple[npt.NDArray[np.int64], Floats]]:
    rows: dict[int, list[int]] = collections.defaultdict(list)
    weights: dict[int, list[float]] = collections.defaultdict(list)
    for row, point in enumerate(points):
        for term, value in zip(point.sparse.indices, point.sparse.values, strict=True):
            rows[term].append(row)
            weights[term].append(value)
    return {term: (np.array(rows[term], dtype=np.int64), np.array(weights[term], dtype=np.float32)) for term in rows}
