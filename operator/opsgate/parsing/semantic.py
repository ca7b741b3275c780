"""The semantic matcher: the catalog's example requests, compared with a request by meaning.

The rules read what the words say; people say it in many more ways than a vocabulary holds
("the site can be taken down", "I am needing new cluster"). Each catalog entry carries a handful
of ``examples``; an embedder (the offline MiniLM, or Ollama's, through the small :class:`Embedder`
protocol: this package reaches no model itself) turns them into vectors once per catalog and
embedder, and a request the rules are unsure of, or find nothing in, is compared with them.

The matcher only *proposes* an entry, and abstains rather than guesses: the nearest example must
be close enough (``accept``) and nearer than the nearest example of any other entry by a
``margin``. A proposal then goes through :func:`opsgate.parsing.rules.parse_as`: the values come
from the text through the rules' extractors and are validated by the entry's schema, and a
proposal whose required values the text does not give is dropped. Nothing the rules decline
(several changes, several targets, personal IT, an operation the catalog lacks, injection markers,
questions) reaches the matcher, and it never overrules a reading the rules are sure of.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import questions, rules, text

NOTE_PROPOSED = "the semantic matcher proposed {key} (nearest example {similarity:.2f}: {example!r})"
NOTE_AGREES = "the semantic matcher agrees ({similarity:.2f})"
NOTE_OVERRULED = "the semantic matcher read {key} ({similarity:.2f}) where the rules were unsure of {rules}"

# The rules' reading stands untouched from this confidence on (a verb and a noun, nothing odd).
SURE = 0.8
# A proposal's confidence: the similarity scaled into the range of the rules' uncertain readings.
CONFIDENCE_SCALE = 0.8
AGREEMENT_BONUS = 0.05


class Embedder(Protocol):
    """What the matcher needs of an embedder (``opsgate.rag.embedding.Embedder`` is one)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When a nearest example counts as a proposal (calibrated with ``bench/realworld.py --dev``)."""

    accept: float = 0.62  # cosine similarity of the request and the nearest example
    margin: float = 0.04  # over the nearest example of any other entry
    overrule: float = 0.72  # to read another entry than an unsure rule reading, both must hold more
    overrule_margin: float = 0.08


@dataclasses.dataclass(frozen=True)
class Proposal:
    key: str
    similarity: float
    margin: float
    example: str


class _Exemplars:
    """The catalog's examples as a unit-vector matrix, one row per example."""

    def __init__(self, keys: tuple[str, ...], examples: tuple[str, ...], vectors: npt.NDArray[np.float32]) -> None:
        self.keys = keys
        self.examples = examples
        self.vectors = vectors


_CACHE: dict[str, _Exemplars] = {}
_CACHE_LOCK = threading.Lock()
_MAX_CACHED = 8  # catalogs and embedders a process holds example vectors for


def _exemplars(catalog: Catalog, embedder: Embedder) -> _Exemplars:
    """The examples' vectors, embedded once per embedder and set of examples in a process."""
    pairs = tuple((key, example) for key, entry in catalog.entries.items() for example in entry.examples)
    fingerprint = hashlib.sha256(repr((embedder.name, pairs)).encode("utf-8")).hexdigest()
    with _CACHE_LOCK:
        cached = _CACHE.get(fingerprint)
        if cached is None:
            texts = [example for _, example in pairs]
            vectors = np.array(embedder.embed(texts), dtype=np.float32) if texts else np.zeros((0, 1), np.float32)
            cached = _Exemplars(tuple(k for k, _ in pairs), tuple(texts), _unit(vectors))
            if len(_CACHE) >= _MAX_CACHED:
                _CACHE.clear()
            _CACHE[fingerprint] = cached
    return cached


def _unit(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class Matcher:
    """Proposes the catalog entry whose examples a request is nearest to, or nothing."""

    def __init__(self, catalog: Catalog, embedder: Embedder, thresholds: Thresholds | None = None) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self._exemplars = _exemplars(catalog, embedder)

    def nearest(self, request: str) -> Proposal | None:
        """The nearest entry by its nearest example, with its margin over the runner-up entry."""
        exemplars = self._exemplars
        if not exemplars.keys:
            return None
        query = _unit(np.array(self.embedder.embed([request]), dtype=np.float32))[0]
        similarities = exemplars.vectors @ query
        best: dict[str, tuple[float, int]] = {}
        for row, key in enumerate(exemplars.keys):
            similarity = float(similarities[row])
            if key not in best or similarity > best[key][0]:
                best[key] = (similarity, row)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        key, (similarity, row) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else -1.0
        return Proposal(key=key, similarity=similarity, margin=similarity - runner_up, example=exemplars.examples[row])

    def propose(self, request: str, *, overruling: bool = False) -> Proposal | None:
        """The nearest entry when it clears the thresholds (the higher ones to overrule the rules)."""
        proposal = self.nearest(request)
        if proposal is None:
            return None
        accept, margin = self.thresholds.accept, self.thresholds.margin
        if overruling:
            accept, margin = self.thresholds.overrule, self.thresholds.overrule_margin
        if proposal.similarity < accept or proposal.margin < margin:
            return None
        return proposal


def _open_to_matching(request: str, rule_intent: Intent) -> bool:
    """May the matcher read ``request``, given the rules' reading of it?"""
    standing = {rules.NOTE_FOREIGN, rules.NOTE_QUESTION, rules.NOTE_NEGATED, rules.NOTE_REPORTED}
    if rule_intent.declined is not None or standing & set(rule_intent.notes):
        return False  # a decline, a question, "do not …", or a verb or object the catalog lacks, stands
    if rule_intent.recognised and rule_intent.confidence >= SURE:
        return False
    cleaned = text.clean(request)
    # hostile or not a request: the matcher has no say
    return not (cleaned.refused or cleaned.injection or not cleaned.text or questions.is_question(cleaned.text))


def compared(request: str, catalog: Catalog) -> bool:
    """Would :func:`parse` embed ``request`` (the rules unsure or blank, nothing declined)? For the bench."""
    return _open_to_matching(request, rules.parse(request, catalog))


def parse(request: str, catalog: Catalog, matcher: Matcher | None) -> Intent:
    """The rules' intent of ``request``, with the matcher's proposal where the rules are unsure or blank."""
    rule_intent = rules.parse(request, catalog)
    if matcher is None or not _open_to_matching(request, rule_intent):
        return rule_intent
    cleaned = text.clean(request)
    proposal = matcher.propose(cleaned.text, overruling=rule_intent.recognised)
    if proposal is None:
        return rule_intent  # the matcher abstains: the rules' reading (or blank) stands
    if proposal.key == rule_intent.key:
        note = NOTE_AGREES.format(similarity=proposal.similarity)
        confidence = min(0.99, rule_intent.confidence + AGREEMENT_BONUS)
        return rule_intent.model_copy(update={"confidence": round(confidence, 3), "notes": (*rule_intent.notes, note)})
    if rule_intent.recognised:
        note = NOTE_OVERRULED.format(key=proposal.key, similarity=proposal.similarity, rules=rule_intent.key)
    else:
        note = NOTE_PROPOSED.format(key=proposal.key, similarity=proposal.similarity, example=proposal.example)
    proposed = rules.parse_as(
        request, catalog, proposal.key, confidence=proposal.similarity * CONFIDENCE_SCALE, note=note
    )
    if not proposed.recognised:
        return proposed if proposed.declined is not None else rule_intent
    entry = catalog.entries[proposal.key]
    complete = {**entry.defaults, **proposed.entities}
    if next(iter(entry.validator.iter_errors(complete)), None) is not None:
        return rule_intent  # the text does not give what the entry needs: no guess at the action
    return proposed
