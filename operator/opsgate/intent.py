"""The structured intent a request is parsed into, shared by every parser and the controller.

An intent names a catalog entry (``category.action.resource_type``) and carries the entities
found in the text. It never names a playbook or a command: what runs is decided by the catalog.
A structured ``spec.intent`` is not parsed from the text, so :func:`unstated_entities` says
which of its values the text never mentions (an approver reads the text, the plan runs the
intent). Pure data and functions; no I/O.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import pydantic


class Parser(enum.StrEnum):
    """Which parser produced an intent (``status.intent.parser``)."""

    RULES = "rules"
    LLM = "llm"
    LLM_RULES = "llm+rules"  # both ran and the result is their reconciliation
    SPEC = "spec"  # the requester supplied ``spec.intent``; nothing was parsed


class Category(enum.StrEnum):
    """The first part of a catalog key: what kind of action a request asks for (``spec.intent.category``).

    Not :class:`opsgate.policy.PolicyCategory`, which says what a policy guards.
    """

    PROVISION = "provision"
    SECURITY = "security"
    IDENTITY = "identity"
    OBSERVABILITY = "observability"
    COMPLIANCE = "compliance"


Entities = dict[str, Any]


class Intent(pydantic.BaseModel):
    """What a request asks for. ``category``/``action``/``resource_type`` are all set or all None."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    category: str | None = None
    action: str | None = None
    resource_type: str | None = None
    entities: Entities = pydantic.Field(default_factory=dict)
    confidence: float = pydantic.Field(default=0.0, ge=0.0, le=1.0)
    parser: Parser = Parser.RULES
    # Human-readable notes from parsing (fallback reasons, disagreements). Never secrets.
    notes: tuple[str, ...] = ()
    # Why the parser declined a request it understood well enough to refuse (several changes in
    # one request, a personal IT request), in words for the requester. Only on unrecognised intents.
    declined: str | None = None

    @pydantic.model_validator(mode="after")
    def _all_or_nothing(self) -> Intent:
        parts = (self.category, self.action, self.resource_type)
        if any(p is None for p in parts) and any(p is not None for p in parts):
            raise ValueError("category, action and resource_type are set together or not at all")
        if self.declined is not None and self.category is not None:
            raise ValueError("a declined request names no action")
        return self

    @property
    def recognised(self) -> bool:
        return self.category is not None

    @property
    def key(self) -> str | None:
        """The catalog key ``category.action.resource_type``, or None when unrecognised."""
        if self.category is None:
            return None
        return f"{self.category}.{self.action}.{self.resource_type}"

    def contract(self) -> dict[str, Any]:
        """The JSON printed by ``opsgate parse`` (a fixed contract: exactly these five keys)."""
        return {
            "category": self.category,
            "action": self.action,
            "resource_type": self.resource_type,
            "entities": dict(self.entities),
            "confidence": round(self.confidence, 3),
        }


def unrecognised(*, parser: Parser = Parser.RULES, notes: tuple[str, ...] = ()) -> Intent:
    """The intent of a request that names no catalog action."""
    return Intent(parser=parser, notes=notes)


def declined(reason: str, *, parser: Parser = Parser.RULES, notes: tuple[str, ...] = ()) -> Intent:
    """The intent of a request the parser refuses to turn into an action, saying why."""
    return Intent(parser=parser, notes=notes, declined=reason)


# Punctuation around a word that is not part of it ("mailbox t1@acme.org." ends a sentence).
_WORD_EDGES = ".,;:!?()[]{}<>\"'`"


def unstated_entities(intent: Intent, text: str) -> tuple[str, ...]:
    """``key=value`` for each entity value of a ``spec.intent`` that ``text`` does not mention.

    Only structured intents are checked: a parser's entities come from the text. Strings and
    numbers (as written by ``str``) are looked up case-insensitively as whole tokens, a
    several-word value as consecutive tokens; each item of a list counts on its own. Booleans
    and nested values are not words a request would contain, so they are not checked. A value
    written differently in the text (``5GB`` for ``5Gi``, ``five`` for ``5``) counts as unstated:
    the warning is for the approver to read, not a refusal.
    """
    if intent.parser is not Parser.SPEC:
        return ()
    words = _tokens(text)
    unstated: list[str] = []
    for key, value in intent.entities.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                continue
            wanted = _tokens(str(item))
            if wanted and not _contains(words, wanted):
                unstated.append(f"{key}={item}")
    return tuple(unstated)


def _tokens(text: str) -> list[str]:
    stripped = (word.strip(_WORD_EDGES).casefold() for word in re.split(r"\s+", text))
    return [word for word in stripped if word]


def _contains(words: list[str], wanted: list[str]) -> bool:
    size = len(wanted)
    return any(words[i : i + size] == wanted for i in range(len(words) - size + 1))
