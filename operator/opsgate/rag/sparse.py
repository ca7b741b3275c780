"""The lexical side of hybrid search: BM25-style sparse vectors over a stable hashed vocabulary.

A term's index is a hash of the term, the same in every process, so no vocabulary has to be stored
or kept in step with the collection. Documents carry BM25's saturated term frequency (length
normalised against a fixed average chunk length); the inverse document frequency is applied at query
time, by Qdrant (``Modifier.IDF``) or by the in-process index, so it always reflects the current
collection.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import math
import re

K1 = 1.2
B = 0.75
AVERAGE_TERMS = 120.0  # typical chunk length in terms; fixed so stored weights never go stale

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    _WORD.findall(
        "a an and are as at be by can do does for from has have how i if in into is it its me my of on or "
        "our should so that the their them then there these this to us was we what when where which who why "
        "will with you your please want need"
    )
)
# Longest first: "policies" -> "policy", "rotating"/"rotated"/"rotate" -> "rotat".
_SUFFIXES = ("ions", "ion", "ings", "ing", "ies", "ied", "es", "ed", "s", "e")


@dataclasses.dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@functools.lru_cache(maxsize=65536)  # a corpus has a few thousand distinct words; stemming is the hot loop
def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words; identifiers like ``rotate-secret`` split into their words."""
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS and len(word) > 1]


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little") & 0x7FFFFFFF


def document_vector(text: str) -> SparseVector:
    counts = collections.Counter(term_index(term) for term in terms(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_TERMS)
    indices = sorted(counts)
    return SparseVector(indices=indices, values=[counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices])


def query_vector(text: str) -> SparseVector:
    indices = sorted({term_index(term) for term in terms(text)})
    return SparseVector(indices=indices, values=[1.0] * len(indices))


def idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency (the form Qdrant's IDF modifier uses)."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
