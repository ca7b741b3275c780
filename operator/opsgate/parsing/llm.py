"""What the rule parser's reconciler needs from an LLM parser, and how a model's reply is read.

The model itself is reached through a network client, which has no place among the pure
modules: :class:`LlmParser` is only the protocol (an async ``parse`` returning an
:class:`~opsgate.intent.Intent`), and :mod:`opsgate.adapters.ollama_parser` implements it with
Ollama. What a reply may say is decided here, without a network: :class:`ReplyReader` checks it
on our side (valid JSON, the schema, a key of the catalog, entity values the entry's parameter
schema accepts, invalid ones dropped with a note). Every failure raises :class:`LlmError` with a
:class:`LlmFailure` reason, so the caller can fall back to the rule parser:

    LlmError
      reason: timeout | connection | http | rate_limited | refused | invalid_json | schema | unknown_action

The model only ever fills a catalog entry; it never picks a command or a path. Pure.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Protocol

import jsonschema

from opsgate.catalog import Catalog
from opsgate.intent import Intent, Parser, unrecognised
from opsgate.parsing import prompt, slots

CONFIDENCE_LLM = 0.85


class LlmFailure(enum.StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP = "http"
    RATE_LIMITED = "rate_limited"  # the provider said 429 for longer than the time budget
    REFUSED = "refused"  # the provider's model declined to answer (an OpenAI-style refusal)
    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    UNKNOWN_ACTION = "unknown_action"


class LlmError(Exception):
    """The LLM gave no usable intent; ``reason`` says why, ``detail`` is for humans."""

    def __init__(self, reason: LlmFailure, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class LlmParser(Protocol):
    """A model that reads a request as one catalog entry (or none)."""

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        """The model's intent for ``text``; raises :class:`LlmError` on any failure."""
        ...


class ReplyReader:
    """Turns a model's reply into an intent, trusting nothing in it."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.schema = prompt.output_schema(catalog)
        self._validator = jsonschema.Draft202012Validator(self.schema)

    def read(self, content: str) -> Intent:
        """The intent ``content`` names; raises :class:`LlmError` when it names none validly."""
        try:
            reply: Any = json.loads(content)
        except json.JSONDecodeError as exc:
            raise LlmError(LlmFailure.INVALID_JSON, f"reply is not JSON ({exc.msg})") from exc
        key = reply.get("key") if isinstance(reply, dict) else None
        if isinstance(key, str) and key != prompt.NO_ACTION and key not in self.catalog:
            raise LlmError(LlmFailure.UNKNOWN_ACTION, f"{key[:80]!r} is not in the catalog")
        error = jsonschema.exceptions.best_match(self._validator.iter_errors(reply))
        if error is not None:
            raise LlmError(LlmFailure.SCHEMA, f"reply violates the schema: {error.message[:120]}")
        if key == prompt.NO_ACTION:
            return unrecognised(parser=Parser.LLM)
        entry = self.catalog.entries[reply["key"]]
        kept, notes = slots.fit(entry, reply["entities"])
        return Intent(
            category=entry.category,
            action=entry.action,
            resource_type=entry.resource_type,
            entities=kept,
            confidence=CONFIDENCE_LLM,
            parser=Parser.LLM,
            notes=notes,
        )
