"""Which LLM parser the operator uses: none, Ollama, or an OpenAI-compatible endpoint.

Chosen by configuration (:class:`opsgate.settings.Settings`): ``OPSGATE_LLM_PROVIDER=openai``
with ``OPENAI_BASE_URL`` selects :class:`~opsgate.adapters.openai_parser.OpenAIParser`;
otherwise ``OLLAMA_HOST`` selects the Ollama parser; neither leaves the rule parser alone (the
offline default). A provider named but not configured is a start-up error that says what is
missing, not a silent fall-back to the rules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from opsgate.audit import exchanges
from opsgate.catalog import Catalog
from opsgate.parsing import LlmParser
from opsgate.parsing.llm import LlmError
from opsgate.settings import Settings

PROVIDERS = ("ollama", "openai")
ExchangeSink = Callable[[exchanges.Exchange], None]

log = logging.getLogger("opsgate.llm")


class ProviderConfigError(ValueError):
    """The LLM provider's configuration is incomplete or unknown."""


def from_settings(own: Settings, catalog: Catalog, *, environ: Mapping[str, str] | None = None) -> LlmParser | None:
    """The configured LLM parser, or None for the rule parser alone."""
    env = os.environ if environ is None else environ
    if own.llm_provider not in PROVIDERS:
        raise ProviderConfigError(
            f"OPSGATE_LLM_PROVIDER={own.llm_provider!r} is not a provider; use one of {', '.join(PROVIDERS)}"
        )
    if own.llm_provider == "openai":
        if not own.openai_base_url:
            raise ProviderConfigError(
                "OPSGATE_LLM_PROVIDER=openai needs OPENAI_BASE_URL (e.g. https://api.openai.com/v1)"
            )
        from opsgate.adapters.openai_parser import ApiKey, OpenAIParser

        try:
            key = ApiKey.load(path=own.openai_api_key_file, value=env.get("OPENAI_API_KEY"))
        except ValueError as exc:
            raise ProviderConfigError(str(exc)) from None
        return OpenAIParser(
            base_url=own.openai_base_url,
            model=own.openai_model,
            catalog=catalog,
            api_key=key,
            timeout=own.llm_timeout_seconds,
        )
    if not own.ollama_host:
        return None
    from opsgate.adapters.ollama_parser import OllamaParser

    return OllamaParser(host=own.ollama_host, model=own.chat_model, catalog=catalog, timeout=own.llm_timeout_seconds)


def describe(own: Settings) -> str:
    """The parser in the start-up log line (no key, no path to one)."""
    if own.llm_provider == "openai":
        return f"llm({own.openai_model} at {own.openai_base_url})+rules"
    return "llm+rules" if own.ollama_host else "rules"


@dataclasses.dataclass
class Reply:
    """What one chat call returned, filled in by the caller inside :func:`recording`."""

    content: str | None = None
    usage: Mapping[str, Any] | None = None


@contextlib.contextmanager
def recording(
    sink: ExchangeSink | None, *, provider: str, model: str, messages: Sequence[Mapping[str, str]]
) -> Iterator[Reply]:
    """One exchange with a model, handed to ``sink`` (the audit store's recorder) whatever its outcome.

    The caller sets the reply's content and usage inside the block; an :class:`LlmError` raised
    there (including one about the reply, e.g. not JSON) is recorded as the outcome and re-raised.
    A failing sink never fails the parse.
    """
    reply = Reply()
    started = time.monotonic()
    outcome, detail = exchanges.OUTCOME_OK, ""
    try:
        yield reply
    except LlmError as exc:
        outcome, detail = exc.reason.value, exc.detail
        raise
    finally:
        if sink is not None:
            record = exchanges.exchange(
                provider=provider,
                model=model,
                messages=messages,
                reply=reply.content,
                latency_s=time.monotonic() - started,
                outcome=outcome,
                detail=detail,
                usage=reply.usage,
                now=datetime.datetime.now(datetime.UTC),
            )
            try:
                sink(record)
            except Exception:  # recording is never a reason to lose the parse
                log.exception("recording an LLM exchange failed")
