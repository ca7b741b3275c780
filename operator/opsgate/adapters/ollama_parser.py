"""The LLM parser served by Ollama: :class:`opsgate.parsing.LlmParser` over ``ollama.AsyncClient``.

It sends the fenced prompt of :mod:`opsgate.parsing.prompt` with the catalog's JSON schema as
Ollama's structured-output ``format``, at temperature 0, and hands the reply to
:class:`opsgate.parsing.llm.ReplyReader`. Transport failures become :class:`LlmError` with the
reasons ``timeout``, ``connection`` or ``http``; the reader adds the rest. Each call, failed or
not, is reported to ``on_exchange`` (the audit store's ``llm_exchanges``) - unmasked but redacted:
Ollama runs on the cluster's own private-llm nodes, so the request never leaves for a third party.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import ollama

from opsgate.adapters import llm_provider
from opsgate.audit import exchanges
from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import prompt
from opsgate.parsing.llm import LlmError, LlmFailure, ReplyReader

MAX_OUTPUT_TOKENS = 256
PROVIDER = "ollama"


class OllamaParser:
    """Parses requests with a model served by Ollama at ``host``."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        host: str,
        model: str,
        catalog: Catalog,
        timeout: float = 20.0,
        on_exchange: Callable[[exchanges.Exchange], None] | None = None,
    ) -> None:
        self.host = host
        self.model = model
        self.catalog = catalog
        self.timeout = timeout
        self.on_exchange = on_exchange
        self._reader = ReplyReader(catalog)

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        """The model's intent for ``text``; raises :class:`LlmError` on any failure."""
        messages = prompt.messages(text, catalog=self.catalog, context=context)
        with llm_provider.recording(
            self.on_exchange, provider=self.provider, model=self.model, messages=messages
        ) as reply:
            reply.content, reply.usage = await self._chat(messages)
            return self._reader.read(reply.content)

    async def _chat(self, messages: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
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
        usage = {"prompt_tokens": response.prompt_eval_count, "completion_tokens": response.eval_count}
        return (content if isinstance(content, str) else ""), usage
