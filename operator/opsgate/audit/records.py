"""The audit record one status write of an OpsRequest leaves behind. Pure.

Every status write the controller makes is one stage of the request's life (planned, awaiting
approval, approved, running, finished…) and one record: numbered from 1 per request, chained to
the one before (:mod:`.chain`), and stamped into the same status write as ``status.audit``
({head, seq}). A replay that writes the same status again computes the same key (request uid and
sequence number), so the store inserts nothing twice. Everything in a record passes through
:func:`opsgate.redact.redact_value` first: a secret pasted into a request never reaches the store.

The LLM exchanges made since the request's last record (its planning's, usually) are listed in
the record as ``payload.llm`` - key, provider, model, time and digests (:mod:`.exchanges`) - so
the chain covers them too; the exchanges themselves travel and are stored with the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from opsgate import redact
from opsgate.audit import chain

# status fields a transition writes that the audit keeps (conditions are summarised, not copied)
KEPT_FIELDS = ("phase", "intent", "plan", "context", "policy", "approval", "job", "answer", "result")


@dataclasses.dataclass(frozen=True)
class Record:
    request_uid: str
    name: str
    namespace: str
    seq: int
    stage: str
    at: str  # RFC 3339, the controller's clock when it decided
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        # shallow: the payload is JSON already (dataclasses.asdict would deep-copy it, at a cost)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def head_of(request: Mapping[str, Any]) -> tuple[int, str]:
    """(sequence number, hash) of the last record stamped into the request's status."""
    audit = (request.get("status") or {}).get("audit") or {}
    return int(audit.get("seq", 0)), str(audit.get("head") or chain.GENESIS)


def stage_of(status: Mapping[str, Any], previous_phase: str | None) -> str:
    """A short name for the stage: the phase moved to, or what changed within a phase."""
    phase = status.get("phase")
    if phase and phase != previous_phase:
        return str(phase)
    for field in ("approval", "context", "result", "job"):
        if field in status:
            return f"{previous_phase or 'Pending'}:{field}"
    return f"{previous_phase or 'Pending'}:update"


def for_write(
    request: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    notes: Sequence[tuple[str, str, str]] = (),
    at: str,
    extra: Mapping[str, Any] | None = None,
    exchanges: Sequence[Mapping[str, Any]] = (),
) -> Record:
    """The record of writing ``status`` (the fields about to be written) onto ``request``.

    ``notes`` are the transition's (type, reason, message); ``extra`` is what the controller saw
    besides the request (the Approval's decisions); ``exchanges`` are the links
    (:meth:`opsgate.audit.exchanges.Stored.link`) of the LLM exchanges made since the last record.
    The record follows the head in the request's current status; its hash is the new head.
    """
    meta, spec = request["metadata"], request.get("spec") or {}
    previous_phase = (request.get("status") or {}).get("phase")
    seq, prev = head_of(request)
    seq += 1
    payload: dict[str, Any] = {k: status[k] for k in KEPT_FIELDS if k in status}
    payload["conditions"] = [
        {k: c.get(k) for k in ("type", "status", "reason", "message")} for c in status.get("conditions") or ()
    ]
    if notes:
        payload["notes"] = [{"type": t, "reason": r, "message": m} for t, r, m in notes]
    if extra:
        payload.update(extra)
    if seq == 1:
        payload["request"] = {
            "text": spec.get("request", ""),
            "requester": spec.get("requester"),
            "requesterGroups": spec.get("requesterGroups"),
            "environment": spec.get("environment"),
            "dryRun": bool(spec.get("dryRun", False)),
            "specIntent": spec.get("intent"),
            "created": meta.get("creationTimestamp"),
        }
    payload = redact.redact_value(payload)
    if exchanges:  # keys, names and digests: nothing to redact (the exchanges were, when made)
        payload["llm"] = [dict(link) for link in exchanges]
    stage = stage_of(status, previous_phase)
    uid = str(meta["uid"])
    digest = chain.link(prev, chain.body(request_uid=uid, seq=seq, stage=stage, at=at, payload=payload))
    return Record(
        request_uid=uid,
        name=str(meta["name"]),
        namespace=str(meta.get("namespace", "")),
        seq=seq,
        stage=stage,
        at=at,
        payload=payload,
        prev_hash=prev,
        hash=digest,
    )


def status_field(record: Record) -> dict[str, Any]:
    """``status.audit`` after ``record``: the chain head the API server keeps."""
    return {"head": record.hash, "seq": record.seq}
