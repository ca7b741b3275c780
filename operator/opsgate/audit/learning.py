"""Close the loop without retraining: corrections change how requests are read. Pure.

A corrected intent (feedback on a misread request) teaches two things:

* the rule parser a **learned phrase**: the words of the request that named the action, up to
  the first value ("mint a mailbox for jane@acme.org" -> "mint a mailbox"), read from then on
  as the corrected entry's verb and noun. Learned phrases are catalog-level (``Catalog.learned``),
  versioned in the audit store, listed for review and rolled back one at a time;
* the LLM parser **few-shot examples**: the corrected requests most similar to the one it reads
  (``Catalog.examples``; :func:`opsgate.parsing.prompt.similar_examples` chooses them).

A learned phrase never overrides what the catalog says: a phrase the catalog already reads is
not learned (see :func:`opsgate.parsing.lexicon.build`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from opsgate.catalog import Catalog
from opsgate.parsing import prompt

MAX_WORDS = 4  # the rule parser matches phrases of up to four words
_EDGE_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "for",
        "to",
        "in",
        "on",
        "of",
        "at",
        "with",
        "from",
        "by",
        "please",
        "me",
        "my",
        "our",
        "us",
        "i",
        "we",
        "can",
        "could",
        "would",
        "you",
        "and",
        "or",
        "this",
        "that",
        "it",
    ]
)


@dataclasses.dataclass(frozen=True)
class Learned:
    version: int
    phrase: str
    key: str


def phrase_from(text: str, entities: Mapping[str, Any]) -> str | None:
    """The words of ``text`` that name its action: up to four, before the first value.

    None when the text opens with a value or nothing is left once values and edge words are gone.
    """
    values = {str(v).lower() for v in entities.values() if isinstance(v, str | int | float)}
    words: list[str] = []
    for raw in text.split():
        word = raw.strip(".,;:!?\"'()[]{}").lower()
        if not word or word in values or any(v and v in word for v in values) or any(c.isdigit() for c in word):
            break
        words.append(word)
        if len(words) == MAX_WORDS:
            break
    while words and words[0] in _EDGE_WORDS:
        words.pop(0)
    while words and words[-1] in _EDGE_WORDS:
        words.pop()
    return " ".join(words) or None


def with_learned(catalog: Catalog, phrases: Iterable[Learned], examples: Iterable[tuple[str, str]] = ()) -> Catalog:
    """``catalog`` reading the active learned phrases too, and showing the LLM the examples."""
    learned = {p.phrase: p.key for p in sorted(phrases, key=lambda p: p.version) if p.key in catalog}
    return catalog.model_copy(update={"learned": learned, "examples": tuple(examples)})


def example_reply(intent: Mapping[str, Any]) -> str:
    """The assistant's reply for a corrected intent, in the LLM parser's reply shape."""
    key = f"{intent['category']}.{intent['action']}.{intent['resource_type']}"
    return prompt.example_reply(key, dict(intent.get("entities") or {}))


def intent_json(intent: Mapping[str, Any]) -> str:
    """The intent as the fine-tuning export writes it (the ``opsgate parse`` shape)."""
    keys = ("category", "action", "resource_type", "entities")
    return json.dumps({k: intent.get(k) for k in keys}, sort_keys=True)
