"""Where the controller meets the audit store: one call around each status write.

:meth:`Auditor.writing` builds the record of the status about to be written, stamps the chain
head (``status.audit``) and the ``Audited`` condition into that same write, holds the record on
disk while the write is under way, and releases it to the recorder once the API server took
the write (or drops it if the write failed: the controller decides again and records that).
A record held when the process died is settled at the next start against the request's status.
Nothing here waits for PostgreSQL.

The LLM exchanges of a request (:meth:`Auditor.exchange`, the parser's sink) wait in memory for
the request's next status write: its record lists them (so the hash chain covers them) and
carries them to the store, in the same spool item and the same transaction. A write that fails
leaves them for the next one; a record dropped at start-up (its write never happened) takes its
exchanges with it - they decided nothing, and the request is planned, and asks the LLM, again. A
request deleted before any record listed them lets its exchanges go too (:meth:`Auditor.forget`).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from opsgate import kube, resources
from opsgate.adapters.auditdb import database_url
from opsgate.adapters.auditdb.recorder import Recorder
from opsgate.adapters.auditdb.spool import Spool, SpoolFullError
from opsgate.audit import records
from opsgate.audit.exchanges import Exchange
from opsgate.controller import conditions
from opsgate.controller.conditions import Condition, Reason, Type
from opsgate.resources import ApprovalState

log = logging.getLogger("opsgate.audit")

MESSAGE_RECORDED = "record {seq} ({stage}) of this request's audit trail is written to the audit store as it happens"
MESSAGE_QUEUED = (
    "the audit store is unreachable ({error}): record {seq} ({stage}) and {waiting} more wait on disk and are retried"
)
MESSAGE_FULL = "the audit spool is full: record {seq} ({stage}) was not kept; `opsgate audit verify` will show the gap"
MESSAGE_BEHIND = "the audit store is unreachable ({error}): this request's records wait in {path} and are retried"
MESSAGE_CAUGHT_UP = "all {seq} records of this request's audit trail are in the audit store"
DEFAULT_SPOOL = Path("~/.local/state/opsgate/audit-spool.sqlite")


def spool_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("OPSGATE_AUDIT_SPOOL") or DEFAULT_SPOOL).expanduser()


class Auditor:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.names: dict[str, tuple[str, str]] = {}  # uid -> (namespace, name), for catching up
        self.exchanges: dict[str, dict[str, Exchange]] = {}  # uid -> key -> not yet listed by a record

    def exchange(self, exchange: Exchange) -> None:
        """One LLM exchange (the parser's sink): kept for its request's next record.

        By key, so the same exchange reported twice is listed once. One that names no request
        (the operator makes none) is stored on its own, and ``opsgate audit verify`` says no
        record covers it.
        """
        if exchange.request is None:
            self.recorder.submit_exchange(exchange)
            return
        self.exchanges.setdefault(exchange.request.uid, {})[exchange.key] = exchange

    def forget(self, uid: str) -> None:
        """A request deleted before any record listed its exchanges: let them go.

        No record can list them any more, and stored unlisted ``opsgate audit verify`` would call
        them inserted; like the exchanges of a record dropped at start-up they decided nothing.
        Said in the log (how many, for which request), so memory is not held for good silently.
        """
        dropped = self.exchanges.pop(uid, {})
        if dropped:
            log.warning("request %s was deleted before its %d LLM exchange(s) were recorded", uid, len(dropped))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Auditor | None:
        url = database_url(environ)
        if not url:
            return None
        capacity = int(environ.get("OPSGATE_AUDIT_SPOOL_CAPACITY", "200000"))
        auditor = cls(Recorder(url, Spool(spool_path(environ), capacity=capacity)))
        auditor.recorder.on_caught_up = auditor.caught_up
        auditor.recorder.on_behind = auditor.fell_behind
        return auditor

    @contextlib.asynccontextmanager
    async def writing(
        self,
        request: Mapping[str, Any],
        status: Mapping[str, Any],
        *,
        notes: Sequence[Any],
        now: datetime.datetime,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield ``status`` with the audit head and condition; the body is the status write."""
        extra = await _decisions(request, status)
        at = conditions.timestamp(now)
        meta = request["metadata"]
        llm = list(self.exchanges.get(str(meta["uid"]), {}).values())
        record = records.for_write(
            request,
            status,
            notes=[(n.type, n.reason, n.message) for n in notes],
            at=at,
            extra=extra,
            exchanges=[e.stored().link() for e in llm],
        )
        ids: list[int] = []
        try:
            ids = self.recorder.hold([record], exchanges=llm)
            if self.recorder.healthy:
                condition = Condition.true(
                    Type.AUDITED, Reason.RECORDED, MESSAGE_RECORDED.format(seq=record.seq, stage=record.stage)
                )
            else:
                self.names[record.request_uid] = (meta["namespace"], meta["name"])
                self.recorder.behind.add(record.request_uid)
                waiting = max(len(self.recorder.spool) - 1, 0)
                message = MESSAGE_QUEUED.format(
                    error=self.recorder.last_error, seq=record.seq, stage=record.stage, waiting=waiting
                )
                condition = Condition.false(Type.AUDITED, Reason.QUEUED, message)
        except SpoolFullError:
            log.error("the audit spool is full; record %s of %s is lost", record.seq, meta["name"])
            message = MESSAGE_FULL.format(seq=record.seq, stage=record.stage)
            condition = Condition.false(Type.AUDITED, Reason.QUEUE_FULL, message)
        generation = int(meta.get("generation", 1))
        stamped = {
            **status,
            "audit": records.status_field(record),
            "conditions": conditions.apply(status.get("conditions"), [condition], generation=generation, now=now),
        }
        try:
            yield stamped
        except BaseException:
            self.recorder.drop(ids)  # not written: the controller decides again, and records that
            raise
        self.recorder.release(ids)
        if ids:  # listed and kept: the next record lists only newer exchanges
            pending = self.exchanges.get(record.request_uid, {})
            for exchange in llm:
                pending.pop(exchange.key, None)
            if not pending:
                self.exchanges.pop(record.request_uid, None)

    async def settle(self) -> None:
        """Records held when the process stopped: kept if the request's status has their hash."""
        for item in self.recorder.spool.held():
            body = item.body
            current = await kube.acall(
                kube.get_or_none, resources.API_VERSION, "OpsRequest", body["namespace"], body["name"]
            )
            if current is not None and current["metadata"]["uid"] == body["request_uid"]:
                _seq, head = records.head_of(current)
                if head != body["hash"]:
                    self.recorder.drop([item.id])  # that status write never happened
                    continue
            self.recorder.release([item.id])  # written, or the request is gone: keep what was decided

    async def fell_behind(self, requests: dict[str, tuple[str, str]]) -> None:
        """Requests whose records the recorder could not write: ``Audited`` becomes False (Queued)."""
        for uid, where in requests.items():
            self.names[uid] = where
            message = MESSAGE_BEHIND.format(error=self.recorder.last_error, path=self.recorder.spool.path)
            try:
                await _mark(uid, *where, Condition.false(Type.AUDITED, Reason.QUEUED, message))
            except kube.ApiError as exc:
                log.warning("could not mark %s/%s as waiting for the audit store: %s", where[0], where[1], exc)

    async def caught_up(self, uids: set[str]) -> None:
        """Requests whose records waited through an outage: ``Audited`` becomes True again."""
        for uid in uids:
            where = self.names.pop(uid, None)
            if where is None:
                continue
            try:
                await _mark(uid, *where, None)
            except kube.ApiError as exc:  # the next outage's catch-up (or the next write) says it
                log.warning("could not mark %s/%s audited: %s", where[0], where[1], exc)


async def _mark(uid: str, namespace: str, name: str, condition: Condition | None) -> None:
    """Set the request's ``Audited`` condition (None: caught up, with its record count)."""
    for _attempt in range(3):
        current = await kube.acall(kube.get_or_none, resources.API_VERSION, "OpsRequest", namespace, name)
        if current is None or current["metadata"]["uid"] != uid:
            return
        status = current.get("status") or {}
        seq, _head = records.head_of(current)
        done = condition or Condition.true(Type.AUDITED, Reason.RECORDED, MESSAGE_CAUGHT_UP.format(seq=seq))
        found = conditions.find(status.get("conditions"), Type.AUDITED)
        if found is not None and found.get("status") == done.status:
            return
        generation = int(current["metadata"].get("generation", 1))
        now = datetime.datetime.now(datetime.UTC)
        updated = conditions.apply(status.get("conditions"), [done], generation=generation, now=now)
        try:
            await kube.acall(kube.write_status, current, {"conditions": updated})
            return
        except kube.ApiError as exc:
            if not exc.conflict:
                raise


async def _decisions(request: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Approval's decisions, when this write records that it was decided (who, digest, message)."""
    approval = status.get("approval") or {}
    if approval.get("state") not in (ApprovalState.APPROVED.value, ApprovalState.REJECTED.value):
        return None
    name = approval.get("name") or ((request.get("status") or {}).get("approval") or {}).get("name")
    if not name:
        return None
    found = await kube.acall(
        kube.get_or_none, resources.API_VERSION, "Approval", request["metadata"]["namespace"], name
    )
    if found is None:
        return None
    decisions = (found.get("spec") or {}).get("decisions") or []
    keep = ("approver", "decision", "digest", "message")
    return {"approvalName": name, "decisions": [{k: d.get(k) for k in keep} for d in decisions]}
