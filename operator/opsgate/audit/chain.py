"""The per-request hash chain: each record carries the hash of the one before it.

A record's hash covers the previous hash and the record's canonical JSON (its request uid,
sequence number, stage, time and payload), so editing, deleting or reordering any row breaks
the chain at that row. The chain's head is also written to the OpsRequest's status
(``status.audit``), so rewriting history takes both the database and the API server. Pure.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of a request's first record


def canonical(value: Any) -> str:
    """The one JSON spelling of ``value`` that is hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, body: Mapping[str, Any]) -> str:
    """The hash of a record whose content is ``body``, following the record hashed ``prev_hash``."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(body).encode("utf-8"))
    return digest.hexdigest()


class Problem(enum.StrEnum):
    EDITED = "edited"  # the row's content does not hash to its stored hash
    BROKEN_LINK = "broken-link"  # the row does not follow the row before it (deleted or reordered)
    MISSING = "missing"  # a sequence number is absent (deleted)
    HEAD_MISMATCH = "head-mismatch"  # the last row is not the head the OpsRequest's status holds


@dataclasses.dataclass(frozen=True)
class Finding:
    request_uid: str
    seq: int
    stage: str
    problem: Problem
    detail: str

    def __str__(self) -> str:
        return f"request {self.request_uid} record {self.seq} ({self.stage}): {self.problem}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class StoredRow:
    """One row of ``audit_records`` as read back."""

    request_uid: str
    seq: int
    stage: str
    at: str
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return body(request_uid=self.request_uid, seq=self.seq, stage=self.stage, at=self.at, payload=self.payload)


def body(*, request_uid: str, seq: int, stage: str, at: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a record's hash covers."""
    return {"uid": request_uid, "seq": seq, "stage": stage, "at": at, "payload": payload}


def verify(rows: Sequence[StoredRow], *, head: Mapping[str, Any] | None = None) -> list[Finding]:
    """The problems in one request's rows, in the order the database returned them (by ``seq``).

    ``head`` is the request's ``status.audit`` ({head, seq}) where the API server was asked.
    """
    findings: list[Finding] = []
    prev, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            missing = ", ".join(str(s) for s in range(expected_seq, row.seq)) if row.seq > expected_seq else ""
            detail = f"records {missing} are missing" if missing else f"out of order (expected {expected_seq})"
            problem = Problem.MISSING if missing else Problem.BROKEN_LINK
            findings.append(Finding(row.request_uid, row.seq, row.stage, problem, detail))
        if link(row.prev_hash, row.body()) != row.hash:
            findings.append(
                Finding(row.request_uid, row.seq, row.stage, Problem.EDITED, "content does not match its hash")
            )
        if row.prev_hash != prev and row.seq == expected_seq:
            findings.append(
                Finding(
                    row.request_uid, row.seq, row.stage, Problem.BROKEN_LINK, "does not follow the record before it"
                )
            )
        prev, expected_seq = row.hash, row.seq + 1
    if head is not None and head.get("head"):
        last = rows[-1] if rows else None
        if last is None or last.hash != head["head"] or last.seq != int(head.get("seq", last.seq)):
            seq = int(head.get("seq", 0))
            stage = last.stage if last is not None else "-"
            have = f"the database ends at record {last.seq}" if last else "the database has no record"
            findings.append(
                Finding(
                    rows[0].request_uid if rows else str(head.get("uid", "?")),
                    seq,
                    stage,
                    Problem.HEAD_MISMATCH,
                    f"the OpsRequest's status holds record {seq} with head {str(head['head'])[:12]}…; {have}",
                )
            )
    return findings
