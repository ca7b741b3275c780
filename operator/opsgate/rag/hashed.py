"""A deterministic hashed-feature embedder: no model at all, for tests and constrained builds.

Word and word-bigram features are hashed into ``dim`` signed buckets and L2-normalised. It has no
notion of synonyms, so it is only as good as lexical overlap; it exists so the indexer and store
can be exercised quickly, and as a last resort where the model wheel cannot be installed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence

NAME = "hashed-features"
_WORD = re.compile(r"[a-z0-9]+")


class HashedEmbedder:
    def __init__(self, *, dim: int = 256) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return NAME

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dim
        terms = [word for word in _WORD.findall(text.lower()) if len(word) > 1]
        for feature in [*terms, *(f"{a} {b}" for a, b in itertools.pairwise(terms))]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(value * value for value in vector)) or 1.0
        return [value / norm for value in vector]
