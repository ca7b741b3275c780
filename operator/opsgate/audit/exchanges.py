"""One LLM exchange as the audit store keeps it: what was sent, what came back, how it went. Pure.

An LLM parser reports each call it makes as an :class:`Exchange` (provider, model, the messages
exactly as sent - masked, for an external provider - the reply as received, latency, tokens and
an outcome: ``ok`` or the :class:`opsgate.parsing.LlmFailure` reason). Both texts pass through
:func:`opsgate.redact.redact` again before they are kept, so a secret that slipped past masking
still never reaches the store.

The parser does not know which OpsRequest it is parsing: the controller names the request in
:data:`CURRENT` (a context variable) before planning, and :func:`exchange` reads it, so the
exchange is linked to its request without the parsing protocol growing a parameter. Each
exchange gets a random key when it happens, so the spool sending it twice inserts it once.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opsgate import redact

OUTCOME_OK = "ok"


@dataclasses.dataclass(frozen=True)
class RequestRef:
    """The OpsRequest an exchange is about."""

    uid: str
    name: str
    namespace: str
    created: str | None = None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> RequestRef:
        meta = body["metadata"]
        return cls(
            uid=str(meta["uid"]),
            name=str(meta["name"]),
            namespace=str(meta.get("namespace", "")),
            created=meta.get("creationTimestamp"),
        )


CURRENT: contextvars.ContextVar[RequestRef | None] = contextvars.ContextVar("opsgate_llm_request", default=None)


@dataclasses.dataclass(frozen=True)
class Exchange:
    key: str  # random, per exchange: the store's idempotency key
    provider: str
    model: str
    prompt: str  # the messages as sent (JSON), redacted
    reply: str | None  # the reply's content as received, redacted; None when none came
    latency_ms: float
    prompt_tokens: int | None
    reply_tokens: int | None
    outcome: str  # "ok" or an LlmFailure value
    detail: str  # for humans: why it failed ("" when ok)
    at: str  # RFC 3339
    request: RequestRef | None  # None: not about a request (a warm-up, the CLI)

    def to_json(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["request"] = dataclasses.asdict(self.request) if self.request is not None else None
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Exchange:
        fields = {f.name: body[f.name] for f in dataclasses.fields(cls)}
        fields["request"] = RequestRef(**body["request"]) if body.get("request") else None
        return cls(**fields)


def exchange(
    *,
    provider: str,
    model: str,
    messages: Sequence[Mapping[str, str]],
    reply: str | None,
    latency_s: float,
    outcome: str,
    detail: str = "",
    usage: Mapping[str, Any] | None = None,
    now: datetime.datetime,
) -> Exchange:
    """The record of one call, linked to the request named in :data:`CURRENT`."""
    usage = usage or {}
    return Exchange(
        key=uuid.uuid4().hex,
        provider=provider,
        model=model,
        prompt=redact.redact(json.dumps(list(messages), ensure_ascii=False)),
        reply=redact.redact(reply) if reply is not None else None,
        latency_ms=round(latency_s * 1000.0, 3),
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        reply_tokens=_int_or_none(usage.get("completion_tokens")),
        outcome=outcome,
        detail=redact.redact(detail),
        at=now.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        request=CURRENT.get(),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
