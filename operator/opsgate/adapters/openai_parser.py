"""The LLM parser served by an OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, LiteLLM).

:class:`opsgate.parsing.LlmParser` over ``POST {base_url}/chat/completions`` with httpx. It sends
the same fenced prompt as the Ollama parser, with the catalog's schema as a JSON-schema
structured output (``response_format: {type: json_schema, json_schema: {strict: true, …}}``),
at temperature 0, and hands the reply to :class:`opsgate.parsing.llm.ReplyReader`: the model
fills a catalog entry's schema, the reader and the rule parser's cross-check decide.

The provider is a third party, so before anything leaves, every message goes through a
:class:`opsgate.parsing.masking.Mask` (e-mail addresses, names of people, IPs, phone numbers
become placeholders; secrets become ``[REDACTED]``) and the reply's values are restored from
it. The API key is read from a file (a mounted Secret) or the environment, sent only in the
``Authorization`` header, and never logged, recorded or shown in a message.

Strict structured outputs require every property of an object to be listed as required, so
the schema sent makes each entity ``<type> | null`` and required; nulls are dropped from the
reply before it is read against the catalog's own schema.

Failures (each ends as :class:`LlmError`, and the rule reading stands with a note saying why):
``timeout``, ``connection``, ``http`` (4xx/5xx, with the provider's own message), ``rate_limited``
(429 for longer than the time budget; a shorter ``Retry-After`` is waited for and retried),
``refused`` (the model's refusal), ``invalid_json`` (a body or a content that is not JSON).
Every call, failed or not, is reported to ``on_exchange`` for the audit store.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from opsgate.adapters import llm_provider
from opsgate.audit import exchanges
from opsgate.catalog import Catalog
from opsgate.intent import Intent
from opsgate.parsing import masking, prompt
from opsgate.parsing.llm import LlmError, LlmFailure, ReplyReader

log = logging.getLogger("opsgate.llm")

MAX_OUTPUT_TOKENS = 256
MAX_ANSWER_TOKENS = 600  # an informational answer: a few sentences citing passages
MAX_ATTEMPTS = 3  # one call and two retries, all within the time budget
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
SCHEMA_NAME = "opsgate_intent"
PROVIDER = "openai"


class ApiKey:
    """An API key that never shows itself in a repr, a log line or a traceback's locals.

    From a file (a mounted Secret, or a file the Vault agent renders), it is read again when the
    file changes, so a rotated key is used without a restart; else from the environment.
    """

    def __init__(self, value: str = "", *, path: Path | None = None) -> None:
        self._value = value.strip()
        self._path = path
        self._stamp: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__

    def header(self) -> dict[str, str]:
        self._refresh()
        return {"Authorization": f"Bearer {self._value}"} if self._value else {}

    def _refresh(self) -> None:
        if self._path is None:
            return
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime_ns, stat.st_ino)  # a Secret volume swaps a symlink: a new inode
            if stamp != self._stamp:
                self._value, self._stamp = self._path.read_text(encoding="utf-8").strip(), stamp
        except OSError as exc:
            if self._stamp is None:
                raise ValueError(f"cannot read the LLM API key file {self._path}: {exc.strerror}") from None
            log.warning(
                "cannot read the LLM API key file %s again (%s); using the key read before", self._path, exc.strerror
            )

    @classmethod
    def load(cls, *, path: str | None, value: str | None) -> ApiKey:
        """From the file at ``path`` if given (checked now), else ``value`` (the environment)."""
        if path:
            key = cls(path=Path(path))
            key._refresh()
            return key
        return cls(value or "")


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as strict structured outputs accept it: every entity required, each nullable."""
    strict = copy.deepcopy(dict(schema))
    entities = strict["properties"]["entities"]
    for name, prop in entities["properties"].items():
        kind = prop.get("type", "string")
        entities["properties"][name] = {**prop, "type": [kind, "null"]}
    entities["required"] = list(entities["properties"])
    return strict


def retry_delay(headers: Mapping[str, str], *, now: datetime.datetime) -> float | None:
    """Seconds a 429/503 asks us to wait (``retry-after-ms``, ``Retry-After`` seconds or date); None if unsaid."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def provider_message(response: httpx.Response) -> str:
    """The provider's own error message (OpenAI's ``{"error": {"message"}}``), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].strip() or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")[:200]
    if isinstance(error, str):
        return error[:200]
    return response.reason_phrase


def drop_nulls(reply: Any) -> Any:
    """The reply without the null entities strict mode made the model write."""
    if isinstance(reply, dict) and isinstance(reply.get("entities"), dict):
        return {**reply, "entities": {k: v for k, v in reply["entities"].items() if v is not None}}
    return reply


class OpenAIParser:
    """Parses requests with a model behind an OpenAI-compatible chat completions endpoint."""

    provider = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        catalog: Catalog,
        api_key: ApiKey,
        timeout: float = 20.0,
        on_exchange: Callable[[exchanges.Exchange], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.catalog = catalog
        self.timeout = timeout
        self.on_exchange = on_exchange
        self._api_key = api_key
        self._reader: ReplyReader | None = None
        self._strict: dict[str, Any] = {}

    def _reader_for(self, catalog: Catalog) -> ReplyReader:
        """The reply reader (and schema) of ``catalog``, built again only when the catalog changed."""
        if self._reader is None or self._reader.catalog is not catalog:
            self._reader = ReplyReader(catalog)
            self._strict = strict_schema(self._reader.schema)
        return self._reader

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    async def parse(self, text: str, *, context: str | None = None) -> Intent:
        """The model's intent for ``text``; raises :class:`LlmError` on any failure."""
        reader = self._reader_for(self.catalog)
        plain = prompt.messages(text, catalog=self.catalog, context=context)
        mask = masking.Mask(known_words=masking.words_of(plain[0]["content"]))
        sent = [{"role": m["role"], "content": mask.text(m["content"])} for m in plain]
        sent[0] = {"role": "system", "content": sent[0]["content"] + "\n" + masking.NOTE_FOR_MODEL}
        with llm_provider.recording(self.on_exchange, provider=self.provider, model=self.model, messages=sent) as done:
            done.content, done.usage = await self._complete(sent, response_format=self._response_format())
            try:
                reply = json.loads(done.content)
            except json.JSONDecodeError as exc:
                raise LlmError(LlmFailure.INVALID_JSON, f"the model's reply is not JSON ({exc.msg})") from exc
            return reader.read(json.dumps(drop_nulls(mask.restore(reply))))

    def _response_format(self) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": self._strict}}

    async def write(self, text: str) -> str:
        """An informational answer to the prompt ``text`` (:data:`opsgate.rag.answer.Llm`), masked alike.

        The prompt holds the question and the retrieved passages; both are masked before they leave
        and the answer's placeholders are restored. Raises :class:`LlmError` (the answerer then
        quotes the passages instead).
        """
        catalog_words = masking.words_of(prompt.messages("", catalog=self.catalog)[0]["content"])
        mask = masking.Mask(known_words=catalog_words)  # "Rotate Secret" in a runbook is not a person
        sent = [{"role": "user", "content": mask.text(text) + "\n\n" + masking.NOTE_FOR_MODEL}]
        with llm_provider.recording(self.on_exchange, provider=self.provider, model=self.model, messages=sent) as done:
            done.content, done.usage = await self._complete(sent, max_tokens=MAX_ANSWER_TOKENS)
            return str(mask.restore(done.content))

    async def _complete(
        self,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> tuple[str, Mapping[str, Any] | None]:
        """The reply's content and usage, retrying 429/5xx within the time budget."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        if response_format is not None:
            body["response_format"] = response_format
        deadline = time.monotonic() + self.timeout
        async with httpx.AsyncClient(timeout=self.timeout, headers=self._api_key.header()) as client:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                response = await self._post(client, body, deadline)
                if response.status_code == httpx.codes.OK:
                    return self._content(response)
                if response.status_code not in RETRIED_STATUSES or attempt == MAX_ATTEMPTS:
                    raise self._http_error(response, attempt)
                wait = retry_delay(response.headers, now=datetime.datetime.now(datetime.UTC))
                wait = 0.5 * attempt if wait is None else wait
                if time.monotonic() + wait >= deadline:
                    raise self._http_error(response, attempt, wait=wait)
                log.info("the LLM provider answered HTTP %d; retrying in %.1fs", response.status_code, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any], deadline: float) -> httpx.Response:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return await asyncio.wait_for(client.post(self.endpoint, json=body), timeout=remaining)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise LlmError(
                LlmFailure.TIMEOUT, f"the LLM provider at {self.base_url} did not answer within {self.timeout:g}s"
            ) from exc
        except httpx.TransportError as exc:
            raise LlmError(LlmFailure.CONNECTION, f"cannot reach the LLM provider at {self.base_url}") from exc

    def _http_error(self, response: httpx.Response, attempts: int, *, wait: float | None = None) -> LlmError:
        said = provider_message(response)
        if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            asked = f", and asked to wait {wait:g}s more" if wait is not None else ""
            return LlmError(
                LlmFailure.RATE_LIMITED,
                f"the LLM provider at {self.base_url} is rate-limiting us (HTTP 429 after {attempts} attempt(s)"
                f"{asked}, beyond the {self.timeout:g}s budget): {said}",
            )
        if response.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            return LlmError(
                LlmFailure.HTTP,
                f"the LLM provider at {self.base_url} refused our API key (HTTP {response.status_code}): {said}",
            )
        return LlmError(
            LlmFailure.HTTP, f"the LLM provider at {self.base_url} answered HTTP {response.status_code}: {said}"
        )

    def _content(self, response: httpx.Response) -> tuple[str, Mapping[str, Any] | None]:
        try:
            body = response.json()
        except ValueError as exc:
            raise LlmError(
                LlmFailure.INVALID_JSON, f"the LLM provider at {self.base_url} sent a body that is not JSON"
            ) from exc
        try:
            choice = body["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LlmError(
                LlmFailure.INVALID_JSON, f"the LLM provider at {self.base_url} sent no choices[0].message"
            ) from exc
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
        if message.get("refusal"):
            raise LlmError(LlmFailure.REFUSED, f"the model refused: {str(message['refusal'])[:160]}")
        content = message.get("content")
        if choice.get("finish_reason") == "length":
            cut = "the model's reply was cut at its token limit before it ended"
            raise LlmError(LlmFailure.INVALID_JSON, cut)
        if not isinstance(content, str):
            raise LlmError(LlmFailure.INVALID_JSON, "the model's reply has no text content")
        return content, usage
