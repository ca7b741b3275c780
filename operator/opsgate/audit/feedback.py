"""Feedback on a request, as its annotations carry it, validated. Pure.

A requester (or a reviewer) annotates an OpsRequest:

* ``opsgate.dev/feedback-score``: 1-5;
* ``opsgate.dev/intent-correct``: true/false;
* ``opsgate.dev/corrected-intent``: the right intent as JSON ({category, action, resource_type,
  entities}, or {action: "<catalog key>", entities});
* ``opsgate.dev/feedback``: free text.

Bad values are refused as a whole (nothing is recorded) with a message saying what is wrong.
A corrected intent must name a catalog entry; it becomes a fine-tuning example.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from opsgate import redact
from opsgate.catalog import Catalog

SCORE = "opsgate.dev/feedback-score"
INTENT_CORRECT = "opsgate.dev/intent-correct"
CORRECTED_INTENT = "opsgate.dev/corrected-intent"
TEXT = "opsgate.dev/feedback"
ANNOTATIONS = (SCORE, INTENT_CORRECT, CORRECTED_INTENT, TEXT)
MAX_TEXT = 4000

MESSAGE_SCORE = f"{SCORE} must be an integer from 1 to 5, not {{value!r}}"
MESSAGE_BOOL = f"{INTENT_CORRECT} must be true or false, not {{value!r}}"
MESSAGE_JSON = f"{CORRECTED_INTENT} is not a JSON object: {{error}}"
MESSAGE_UNKNOWN_ACTION = f"{CORRECTED_INTENT} names {{key!r}}, which is not in the catalog"
MESSAGE_ENTITIES = f"{CORRECTED_INTENT}: entities must be an object"
MESSAGE_CONTRADICTS = f"{INTENT_CORRECT} is true but {CORRECTED_INTENT} gives another intent"
MESSAGE_TEXT = f"{TEXT} is longer than {MAX_TEXT} characters"


class FeedbackError(ValueError):
    """The annotations are not valid feedback (the message says which and why)."""


@dataclasses.dataclass(frozen=True)
class Feedback:
    score: int | None
    intent_correct: bool | None
    corrected_intent: Mapping[str, Any] | None  # {category, action, resource_type, entities}
    text: str | None

    @property
    def digest(self) -> str:
        """Identifies this feedback: the same annotations seen again are not recorded twice."""
        document = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(document.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str | None:
        if self.corrected_intent is None:
            return None
        c = self.corrected_intent
        return f"{c['category']}.{c['action']}.{c['resource_type']}"


def present(annotations: Mapping[str, str] | None) -> bool:
    return any(name in (annotations or {}) for name in ANNOTATIONS)


def read(annotations: Mapping[str, str], *, catalog: Catalog) -> Feedback:
    """The feedback the annotations give; raises :class:`FeedbackError` on any bad value."""
    errors: list[str] = []
    score = _score(annotations.get(SCORE), errors)
    correct = _bool(annotations.get(INTENT_CORRECT), errors)
    corrected = _intent(annotations.get(CORRECTED_INTENT), catalog, errors)
    text = annotations.get(TEXT)
    if text is not None and len(text) > MAX_TEXT:
        errors.append(MESSAGE_TEXT)
    if correct is True and corrected is not None:
        errors.append(MESSAGE_CONTRADICTS)
    if errors:
        raise FeedbackError("; ".join(errors))
    if corrected is not None and correct is None:
        correct = False  # a correction says the reading was wrong
    return Feedback(
        score=score,
        intent_correct=correct,
        corrected_intent=corrected,
        text=redact.redact(text) if text is not None else None,
    )


def _score(raw: str | None, errors: list[str]) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        errors.append(MESSAGE_SCORE.format(value=raw))
        return None
    if not 1 <= value <= 5:
        errors.append(MESSAGE_SCORE.format(value=raw))
        return None
    return value


def _bool(raw: str | None, errors: list[str]) -> bool | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    errors.append(MESSAGE_BOOL.format(value=raw))
    return None


def _intent(raw: str | None, catalog: Catalog, errors: list[str]) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        errors.append(MESSAGE_JSON.format(error=exc.msg))
        return None
    if not isinstance(value, dict):
        errors.append(MESSAGE_JSON.format(error="not an object"))
        return None
    action = str(value.get("action") or "")
    key = action if action.count(".") == 2 else f"{value.get('category')}.{action}.{value.get('resource_type')}"
    entry = catalog.get(key)
    if entry is None:
        errors.append(MESSAGE_UNKNOWN_ACTION.format(key=key))
        return None
    entities = value.get("entities", {})
    if not isinstance(entities, dict):
        errors.append(MESSAGE_ENTITIES)
        return None
    return {
        "category": entry.category,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "entities": redact.redact_value(entities),
    }
