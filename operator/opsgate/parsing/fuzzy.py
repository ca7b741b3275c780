"""Typo tolerance for verbs and nouns: a tiny optimal-string-alignment edit distance.

"craete a namesapce" should still name ``provision.create.namespace``. Only words of five
letters or more are corrected, and only to a word of the parser's vocabulary within one edit
(two for long words): short words are too easily something else ("post" is not "host").
Entities are never corrected: a typo in a name is the requester's name. We assume a typo keeps
the first or the second letter, which keeps the search cheap. Pure functions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

MIN_LENGTH = 5
LONG_WORD = 8


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Corrector:
    """Finds the vocabulary word a misspelt word was meant to be."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._words = tuple(sorted({w for w in vocabulary if w.isalpha() and len(w) >= MIN_LENGTH - 1}))
        self.correct = functools.lru_cache(maxsize=8192)(self._correct)

    def _correct(self, word: str) -> str | None:
        if len(word) < MIN_LENGTH or not word.isalpha():
            return None
        allowed = 2 if len(word) >= LONG_WORD else 1
        best: tuple[int, str] | None = None
        for candidate in self._words:
            if abs(len(candidate) - len(word)) > allowed:
                continue
            if candidate[0] != word[0] and candidate[1] != word[1]:
                continue  # a typo keeps the first or the second letter (cheap filter)
            if candidate[0] != word[0] and candidate[1:] == word[1:]:
                continue  # another first letter is another word ("costing" is no "hosting", "posting" neither)
            d = distance(word, candidate)
            if d <= allowed and (best is None or d < best[0]):
                best = (d, candidate)
        return best[1] if best else None
