"""Reconciling the rule parser and the LLM parser into one intent.

The LLM reads paraphrases the rules miss; the rules read only what the text says. So the LLM
may fill in, but never overrule the text: a request the rules decline (several changes in one
request, personal IT) stays declined, an LLM action whose verb or resource the request does
not name is refused (the model may read values and settle between readings, never invent the
action), an LLM action that disagrees with the rules is refused outright when the text carries
injection markers, LLM entity values the text does not contain as a whole token are dropped
("dev" is not in "the devops channel"), an LLM value fills only a parameter the rules left
empty (the rules' value stands where both read one), and any disagreement lowers the
confidence. When the LLM fails, the rule intent stands and the notes say why. Pure functions.
"""

from __future__ import annotations

import re
from typing import Any

from opsgate import entities as entity_words
from opsgate.catalog import Catalog
from opsgate.intent import Intent, Parser
from opsgate.parsing import llm, rules, text
from opsgate.parsing.tokens import tokenize

NOTE_FALLBACK = "LLM unavailable ({detail}); used the rule parser"
NOTE_LLM_NONE = "the LLM found no catalog action; kept the rule reading"
NOTE_LLM_ONLY = "the rule parser found no action; used the LLM reading"
NOTE_DISAGREE = "the rule parser read {rules}, the LLM read {llm}; used {chosen}"
NOTE_REFUSED = "refused the LLM reading {llm}: {why}"
WHY_INJECTION = "the request carries injection markers and the rule parser disagrees"
WHY_UNSUPPORTED = "the request uses no verb for that action"
WHY_NO_RESOURCE = "the request names no resource of that action"
WHY_DECLINED = "the rule parser declined the request"
NOTE_UNSUPPORTED_ENTITY = "dropped the LLM's {name}: not in the request text"
NOTE_ENTITY_DIFFERS = "{name}: the rule parser read {rules!r}, the LLM read {llm!r}; kept the rule parser's"

AGREEMENT_BONUS = 0.05
DISAGREEMENT_FACTOR = 0.6
LLM_ONLY_CONFIDENCE = 0.6
ENTITY_DISAGREEMENT_PENALTY = 0.05

_NORMALISED_WORDS: dict[str, dict[str, str]] = {
    "environment": {w: e.value for w, e in entity_words.ENVIRONMENT_WORDS.items()},
    "role": entity_words.ROLE_WORDS,
    "level": entity_words.LEVEL_WORDS,
    "metric": entity_words.METRIC_WORDS,
}


def fallback(rule_intent: Intent, error: llm.LlmError) -> Intent:
    """The rule intent, saying that the LLM could not be used and why."""
    note = NOTE_FALLBACK.format(detail=error.detail)
    return rule_intent.model_copy(update={"parser": Parser.RULES, "notes": (*rule_intent.notes, note)})


def reconcile(request: str, *, rule_intent: Intent, llm_intent: Intent, catalog: Catalog) -> Intent:
    """One intent from both readings of ``request`` against ``catalog``."""
    cleaned = text.clean(request)
    notes = [*rule_intent.notes, *llm_intent.notes]
    if rule_intent.declined is not None:
        # the model answers with one action; it cannot tell us the request asked for only one
        if llm_intent.recognised:
            notes.append(NOTE_REFUSED.format(llm=llm_intent.key, why=WHY_DECLINED))
        return rule_intent.model_copy(update={"parser": Parser.LLM_RULES, "notes": tuple(notes)})
    if rule_intent.key == llm_intent.key:
        if not rule_intent.recognised:
            return rule_intent.model_copy(update={"parser": Parser.LLM_RULES, "notes": tuple(notes)})
        merged, penalty = _merge_entities(cleaned.text, rule_intent.entities, llm_intent.entities, notes)
        confidence = max(rule_intent.confidence, llm_intent.confidence) + AGREEMENT_BONUS - penalty
        return _with(rule_intent, entities=merged, confidence=confidence, notes=notes)
    if not llm_intent.recognised:
        notes.append(NOTE_LLM_NONE)
        return _with(rule_intent, confidence=rule_intent.confidence * DISAGREEMENT_FACTOR, notes=notes)
    refusal = _refusal(cleaned, llm_intent=llm_intent, rule_intent=rule_intent, catalog=catalog)
    if refusal is not None:
        notes.append(NOTE_REFUSED.format(llm=llm_intent.key, why=refusal))
        confidence = rule_intent.confidence * DISAGREEMENT_FACTOR
        return _with(rule_intent, confidence=confidence, notes=notes)
    supported = _supported_entities(cleaned.text, llm_intent.entities, notes)
    if not rule_intent.recognised:
        notes.append(NOTE_LLM_ONLY)
        return _with(llm_intent, entities=supported, confidence=LLM_ONLY_CONFIDENCE, notes=notes)
    notes.append(NOTE_DISAGREE.format(rules=rule_intent.key, llm=llm_intent.key, chosen=llm_intent.key))
    confidence = min(rule_intent.confidence, llm_intent.confidence) * DISAGREEMENT_FACTOR
    return _with(llm_intent, entities=supported, confidence=confidence, notes=notes)


def _with(base: Intent, *, confidence: float, notes: list[str], entities: dict[str, Any] | None = None) -> Intent:
    return base.model_copy(
        update={
            "parser": Parser.LLM_RULES,
            "confidence": round(max(0.0, min(confidence, 0.99)), 3),
            "notes": tuple(notes),
            "entities": base.entities if entities is None else entities,
        }
    )


def _refusal(cleaned: text.CleanText, *, llm_intent: Intent, rule_intent: Intent, catalog: Catalog) -> str | None:
    if cleaned.injection and rule_intent.key != llm_intent.key:
        return WHY_INJECTION
    entry = catalog.get(llm_intent.key)
    if entry is None or entry.phrases is None:
        return None
    verbs, nouns = rules.words_in(cleaned.text, catalog)
    if not set(entry.phrases.verbs) & verbs:
        return WHY_UNSUPPORTED
    # A verb alone is no evidence: "add milk to the shopping list" is not an email request, and a
    # name in the text that the model calls an image does not make a request an SBOM.
    if not entry.phrases.nouns.keys() & nouns:
        return WHY_NO_RESOURCE
    return None


def _words(request: str) -> str:
    """The request's tokens, lower-case, space-separated and space-framed: `` create ns dev ``.

    A value is in the text when `` value `` is in this string: a whole token (or a run of whole
    tokens), never a piece of one. Quoted phrases count as written.
    """
    words = (t.phrase.lower() if t.phrase is not None else t.low for t in tokenize(request))
    return f" {' '.join(words)} "


def _has(words: str, candidate: str) -> bool:
    return f" {candidate.lower()} " in words


def _in_text(words: str, name: str, value: Any) -> bool:
    """Does the request say ``value`` as a whole token (as written or in a form that normalises to it)?"""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        spelled = [w for w, n in entity_words.NUMBER_WORDS.items() if n == value]
        seconds = [str(value // d) for d in (1, 60, 3600, 86400) if value % d == 0]
        return any(_has(words, w) for w in [*spelled, *seconds])
    if isinstance(value, list):
        return all(_in_text(words, name, item) for item in value)
    if not isinstance(value, str):
        return False
    if _has(words, value):
        return True
    if name in ("since", "quota"):
        # "5m" is written "5 minutes" or "5min"; "2Gi" is "2 GB" or "2gb"
        number = value.rstrip("smhdwGiMT")
        return number.isdigit() and re.search(rf" {number}[a-z]* ", words) is not None
    aliases = [w for w, v in _NORMALISED_WORDS.get(name, {}).items() if v == value]
    return any(_has(words, alias) for alias in aliases)


def _supported_entities(request: str, values: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    words = _words(request)
    kept: dict[str, Any] = {}
    for name, value in values.items():
        if _in_text(words, name, value):
            kept[name] = value
        else:
            notes.append(NOTE_UNSUPPORTED_ENTITY.format(name=name))
    return kept


def _merge_entities(
    request: str, from_rules: dict[str, Any], from_llm: dict[str, Any], notes: list[str]
) -> tuple[dict[str, Any], float]:
    """The rules' values, with the LLM's filling only what the rules left empty."""
    merged = dict(from_rules)
    penalty = 0.0
    for name, value in _supported_entities(request, from_llm, notes).items():
        if name not in merged:
            merged[name] = value
        elif merged[name] != value:
            notes.append(NOTE_ENTITY_DIFFERS.format(name=name, rules=merged[name], llm=value))
            penalty += ENTITY_DISAGREEMENT_PENALTY
    return merged, penalty
