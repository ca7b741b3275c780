"""The lexical side of hybrid search: the Qdrant engine's own BM25, the same in every store.

Sparse vectors come from ``qdrant_edge.Bm25``, the tokenizer, English stop words, Snowball stemmer
and term hashing the Qdrant server runs for ``Document(model="qdrant/bm25")``. Its settings are
kept in the server's ``Bm25Config`` JSON shape (``CONFIG``), so a Qdrant server given the same
options would produce the same vectors. Documents carry BM25's saturated term frequency; the
inverse document frequency is applied by the engine at query time (``Modifier.IDF``), so it always
reflects the current collection. There is no hand-made BM25 beside it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import qdrant_edge

# The server's Bm25Config shape. avg_len is our chunks' typical length in tokens (chunks are cut
# at ~1,000 characters), not the engine's default of 256, which would under-weigh long chunks.
CONFIG: dict[str, Any] = {"k": 1.2, "b": 0.75, "avg_len": 120.0, "language": "english"}


@dataclasses.dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@functools.cache
def _model() -> qdrant_edge.Bm25:
    return qdrant_edge.Bm25(qdrant_edge.Bm25Config(**CONFIG))


def document_vector(text: str) -> SparseVector:
    found = _model().embed_document(text)
    return SparseVector(indices=list(found.indices), values=[float(value) for value in found.values])


def query_vector(text: str) -> SparseVector:
    found = _model().embed_query(text)
    return SparseVector(indices=list(found.indices), values=[float(value) for value in found.values])


def terms(text: str) -> frozenset[int]:
    """The text's terms as the engine sees them (stemmed, without stop words), as term ids."""
    return frozenset(_model().embed_query(text).indices)
