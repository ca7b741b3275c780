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

Tamper evidence: an exchange about a request is listed, by key and the digests of what is kept
(:meth:`Stored.link`), in the request's next audit record (:mod:`.records`), whose hash chain the
OpsRequest's status anchors; ``opsgate audit verify`` recomputes the digests from the stored row
(:func:`verify`). So an edited, deleted or inserted exchange row is caught like an edited record.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import enum
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opsgate import redact
from opsgate.audit import chain

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

    def stored(self) -> Stored:
        """The exchange as the audit store keeps it (one row of ``llm_exchanges``)."""
        return Stored(
            key=self.key,
            request_uid=self.request.uid if self.request is not None else None,
            provider=self.provider,
            model=self.model,
            prompt=self.prompt,
            reply=self.reply,
            latency_ms=self.latency_ms,
            prompt_tokens=self.prompt_tokens,
            reply_tokens=self.reply_tokens,
            outcome=self.outcome,
            detail=self.detail or None,
            at=timestamp(self.at),
        )


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


# --- tamper evidence ----------------------------------------------------------------------------


def timestamp(value: str | datetime.datetime) -> str:
    """The one spelling of an exchange's time that is hashed (UTC, microseconds, ``Z``)."""
    when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True)
class Stored:
    """One row of ``llm_exchanges``, as written and as read back."""

    key: str
    request_uid: str | None
    provider: str
    model: str
    prompt: str
    reply: str | None
    latency_ms: float | None
    prompt_tokens: int | None
    reply_tokens: int | None
    outcome: str
    detail: str | None
    at: str  # :func:`timestamp`

    def digests(self) -> dict[str, str]:
        """sha256 of the prompt, of the reply, and of everything else kept (who, when, how it went)."""
        rest = {
            "request_uid": self.request_uid,
            "provider": self.provider,
            "model": self.model,
            "latency_ms": float(self.latency_ms) if self.latency_ms is not None else None,
            "prompt_tokens": self.prompt_tokens,
            "reply_tokens": self.reply_tokens,
            "outcome": self.outcome,
            "detail": self.detail or None,
            "at": self.at,
        }
        return {
            "prompt": _sha256(self.prompt),
            "reply": _sha256(chain.canonical(self.reply)),  # null and "" differ
            "rest": _sha256(chain.canonical(rest)),
        }

    def link(self) -> dict[str, Any]:
        """What the request's audit record lists of this exchange: its key, a readable label, the digests."""
        return {
            "key": self.key,
            "provider": self.provider,
            "model": self.model,
            "at": self.at,
            "sha256": self.digests(),
        }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Problem(enum.StrEnum):
    EDITED = "exchange-edited"  # the row no longer hashes to the digests its record lists
    DELETED = "exchange-deleted"  # a record lists an exchange the database does not have
    UNLISTED = "exchange-unlisted"  # a row no record lists: inserted afterwards (or moved from another request)


WHY_UNLISTED = "no audit record of this request lists it (inserted afterwards, or moved from another request)"
WHY_NO_REQUEST = (
    "it names no request, so no audit record covers it (the operator records every exchange with its request)"
)
PARTS = {"prompt": "prompt", "reply": "reply", "rest": "details (provider, model, outcome, tokens, latency or time)"}


@dataclasses.dataclass(frozen=True)
class Finding:
    request_uid: str  # "-" for a row that names no request
    key: str
    label: str  # provider, model and time, for a human to find the row
    problem: Problem
    detail: str

    def __str__(self) -> str:
        return f"request {self.request_uid} LLM exchange {self.key} ({self.label}): {self.problem}: {self.detail}"


def listed(records: Sequence[chain.StoredRow]) -> dict[str, tuple[chain.StoredRow, Mapping[str, Any]]]:
    """The exchanges a request's records list: key -> (the first record listing it, its entry)."""
    found: dict[str, tuple[chain.StoredRow, Mapping[str, Any]]] = {}
    for record in records:
        for entry in record.payload.get("llm") or ():
            if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
                found.setdefault(entry["key"], (record, entry))
    return found


def verify(records: Sequence[chain.StoredRow], rows: Sequence[Stored], *, request_uid: str | None) -> list[Finding]:
    """The problems between one request's records and its exchange rows (``request_uid`` None: the
    rows that name no request, which no record can list - the operator records none). Pure.

    Whether the records themselves are intact is :func:`opsgate.audit.chain.verify`'s question.
    """
    uid = request_uid or "-"
    expected = listed(records)
    findings: list[Finding] = []
    for row in rows:
        label = f"{row.provider} {row.model}, {row.at}"
        found = expected.get(row.key)
        if found is None:
            why = WHY_NO_REQUEST if request_uid is None else WHY_UNLISTED
            findings.append(Finding(uid, row.key, label, Problem.UNLISTED, why))
            continue
        record, entry = found
        want = entry.get("sha256") or {}
        changed = [PARTS[part] for part, digest in row.digests().items() if want.get(part) != digest]
        if changed:
            findings.append(
                Finding(
                    uid,
                    row.key,
                    label,
                    Problem.EDITED,
                    f"its {' and '.join(changed)} changed since record {record.seq} ({record.stage}) listed it",
                )
            )
    present = {row.key for row in rows}
    for key, (record, entry) in expected.items():
        if key not in present:
            label = f"{entry.get('provider')} {entry.get('model')}, {entry.get('at')}"
            findings.append(
                Finding(
                    uid,
                    key,
                    label,
                    Problem.DELETED,
                    f"record {record.seq} ({record.stage}) lists it, but the database has no such exchange",
                )
            )
    return findings
