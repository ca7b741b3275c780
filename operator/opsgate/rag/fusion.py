"""Reciprocal rank fusion: one ranking from several, by rank alone (scores of different kinds
cannot be added). The same formula Qdrant's ``RrfQuery`` uses, so in-process and server-side
fusion rank alike.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def rrf(rankings: Sequence[Sequence[str]], *, k: int = RRF_K) -> list[tuple[str, float]]:
    """Ids by fused score, best first; a score of 1.0 means first in every ranking."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for position, point in enumerate(ranking):
            scores[point] = scores.get(point, 0.0) + 1.0 / (k + position)
    best = len(rankings) / k
    fused = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(point, score / best) for point, score in fused]


def normalise(score: float, *, rankings: int, k: int = RRF_K) -> float:
    """A raw RRF score (Qdrant's) on the same 0..1 scale as ``rrf``."""
    return score * k / rankings
