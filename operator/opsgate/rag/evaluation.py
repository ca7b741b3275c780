"""Retrieval quality on a labelled query set: recall@k and mean reciprocal rank per search mode.

The set (``tests/data/retrieval.jsonl``) holds one ``{"query": ..., "gold": "<path>"}`` per line;
a query is answered when a hit of the gold file is among the first k hits.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from opsgate.rag.hits import Hit


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    query: str
    gold: str  # a source path


@dataclasses.dataclass(frozen=True, slots=True)
class Scores:
    recall_at_k: float
    mrr: float
    misses: list[str]  # queries whose gold source was not in the top k


def load_cases(path: Path) -> list[Case]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Case(**json.loads(line)) for line in lines if line.strip()]


def evaluate(cases: Sequence[Case], search: Callable[[str], list[Hit]], *, k: int = 5) -> Scores:
    found = 0
    reciprocal = 0.0
    misses: list[str] = []
    for case in cases:
        paths = _distinct_paths(search(case.query))
        rank = paths.index(case.gold) + 1 if case.gold in paths else 0
        if 0 < rank <= k:
            found += 1
        else:
            misses.append(case.query)
        reciprocal += 1.0 / rank if rank else 0.0
    total = max(len(cases), 1)
    return Scores(recall_at_k=found / total, mrr=reciprocal / total, misses=misses)


def _distinct_paths(hits: list[Hit]) -> list[str]:
    """Ranks count files, not chunks: two chunks of one playbook are one answer."""
    seen: list[str] = []
    for hit in hits:
        if hit.path not in seen:
            seen.append(hit.path)
    return seen
