"""The LLM parser served by Ollama: :class:`opsgate.parsing.LlmParser` over ``ollama.AsyncClient``.

It sends the fenced prompt of :mod:`opsgate.parsing.prompt` with the catalog's JSON schema as
Ollama's structured-output ``format``, at temperature 0, and hands the reply to
:class:`opsgate.parsing.llm.ReplyReader`. Transport failures become :class:`LlmError` with the
reasons ``timeout``, ``connection`` or ``http``; the reader adds the rest.
"""

from __future__ import annotations

import asyncio

import httpx
import ollama

from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import prompt
from opsgate.parsing.llm import LlmError, LlmFailure, ReplyReader

MAX_OUTPUT_TOKENS = 256


class OllamaParser:
    """Parses requests with a model served by Ollama at ``host``."""

    def __init__(self, *, host: str, model: str, catalog: Catalog, timeout: float = 20.0) -> None:
        self.host = host
        self.model = model
        self.catalog = catalog
        self.timeout = timeout
        self._reader = ReplyReader(catalog)

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        """The model's intent for ``text``; raises :class:`LlmError` on any failure."""
        content = await self._chat(prompt.messages(text, catalog=self.catalog, context=context))
        return self._reader.read(content)

    async def _chat(self, messages: list[dict[str, str]]) -> str:
        try:
            async with ollama.AsyncClient(host=self.host, timeout=self.timeout) as client:
                response = await asyncio.wait_for(
                    client.chat(
                        model=self.model,
                        messages=messages,
                        format=self._reader.schema,
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
