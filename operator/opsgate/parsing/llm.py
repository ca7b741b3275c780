"""The LLM parser: Ollama structured outputs, validated against the catalog.

``LlmParser.parse`` asks the model (through ``ollama.AsyncClient``) for JSON constrained by
:func:`opsgate.parsing.prompt.output_schema`, at temperature 0, and checks the reply again on
our side: valid JSON, the schema, a key of the catalog, entity values the entry's parameter
schema accepts (invalid ones are dropped with a note). Every failure raises :class:`LlmError`
with a :class:`LlmFailure` reason, so the caller can fall back to the rule parser:

    LlmError
      reason: timeout | connection | http | invalid_json | schema | unknown_action

The model only ever fills a catalog entry; it never picks a command or a path.
"""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Any

import httpx
import jsonschema
import ollama

from opsgate.catalog import Catalog
from opsgate.intent import Intent, Parser, unrecognised
from opsgate.parsing import prompt, slots

CONFIDENCE_LLM = 0.85
MAX_OUTPUT_TOKENS = 256


class LlmFailure(enum.StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP = "http"
    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    UNKNOWN_ACTION = "unknown_action"


class LlmError(Exception):
    """The LLM gave no usable intent; ``reason`` says why, ``detail`` is for humans."""

    def __init__(self, reason: LlmFailure, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class LlmParser:
    """Parses requests with a model served by Ollama at ``host``."""

    def __init__(self, *, host: str, model: str, catalog: Catalog, timeout: float = 20.0) -> None:
        self.host = host
        self.model = model
        self.catalog = catalog
        self.timeout = timeout
        self._schema = prompt.output_schema(catalog)
        self._validator = jsonschema.Draft202012Validator(self._schema)

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        """The model's intent for ``text``; raises :class:`LlmError` on any failure."""
        content = await self._chat(prompt.messages(text, catalog=self.catalog, context=context))
        return self._read(content)

    async def _chat(self, messages: list[dict[str, str]]) -> str:
        try:
            async with ollama.AsyncClient(host=self.host, timeout=self.timeout) as client:
                response = await asyncio.wait_for(
                    client.chat(
                        model=self.model,
                        messages=messages,
                        format=self._schema,
                        # an intent is well under 100 tokens; a model that loops stops here, not at the timeout
                        options={"temperature": 0, "num_predict": MAX_OUTPUT_TOKENS},
                        stream=False,
                    ),
                    timeout=self.timeout,
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise LlmError(LlmFailure.TIMEOUT, f"timeout after {self.timeout:g}s") from exc
        except ollama.ResponseError as exc:
            raise LlmError(LlmFailure.HTTP, f"HTTP {exc.status_code}: {exc.error}") from exc
        except (ConnectionError, httpx.TransportError) as exc:
            raise LlmError(LlmFailure.CONNECTION, f"cannot reach Ollama at {self.host}") from exc
        content = response.message.content
        return content if isinstance(content, str) else ""

    def _read(self, content: str) -> Intent:
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
