"""The audit store's part of the kopf layer: start the recorder, read feedback, refresh learning.

Registered beside :mod:`opsgate.handlers` by ``opsgate operator``. Without ``OPSGATE_DATABASE_URL``
(or ``DATABASE_URL``) every handler here returns at once and the operator runs as without it.

* start-up: migrations (under an advisory lock, in the recorder's first connection), records held
  by a process that died are settled, the recorder starts, learned phrases are loaded;
* the feedback annotations of an OpsRequest are validated and recorded (a bad value: an Event
  and the ``Feedback`` condition say what is wrong, nothing is recorded);
* every LEARN_SECONDS the learned phrases and corrected examples are read again, so a correction
  (or a rollback) changes parsing without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import os
from collections.abc import Mapping
from typing import Any

import kopf

from opsgate import kube, redact, resources
from opsgate.adapters import auditdb
from opsgate.adapters.auditdb.hook import Auditor
from opsgate.audit import feedback
from opsgate.controller import conditions, planning
from opsgate.controller.conditions import Condition, Reason, Type

LEARN_SECONDS = 30.0  # OPSGATE_LEARN_SECONDS overrides it
MESSAGE_FEEDBACK_RECORDED = "feedback {digest} recorded"

log = logging.getLogger("opsgate.audit")


@kopf.on.startup()
async def start_audit(memo: kopf.Memo, **_: Any) -> None:
    if "controller" not in memo:  # opsgate.handlers.configure builds it (and the engine) first
        raise kopf.TemporaryError("waiting for the controller to be configured", delay=0.2)
    auditor = Auditor.from_env(os.environ)
    memo["controller"].audit = auditor
    if auditor is None:
        return
    await auditor.settle()
    auditor.recorder.start()
    llm = memo["engine"].llm
    if llm is not None and hasattr(llm, "on_exchange"):
        llm.on_exchange = auditor.exchange  # each LLM exchange, redacted, listed by its request's next record
    memo["audit_learning"] = asyncio.get_running_loop().create_task(_keep_learning(memo, auditor))
    log.info("audit store: recording through %s", auditor.recorder.spool.path)


@kopf.on.cleanup()
async def stop_audit(memo: kopf.Memo, **_: Any) -> None:
    auditor: Auditor | None = getattr(memo.get("controller"), "audit", None)
    if auditor is None:
        return
    task = memo.get("audit_learning")
    if task is not None:
        task.cancel()
    await auditor.recorder.stop()


async def _keep_learning(memo: kopf.Memo, auditor: Auditor) -> None:
    while True:
        base = memo.get("base_catalog") or memo["engine"].catalog  # the policies as last (re)loaded
        learned, note = await auditdb.with_learning(base, auditor.recorder.url)
        if note:
            log.debug("%s", note)
        elif memo.get("base_catalog", base) is base:  # else reloaded meanwhile: the next round uses the new one
            _use(memo, learned)
        await asyncio.sleep(float(os.environ.get("OPSGATE_LEARN_SECONDS", LEARN_SECONDS)))


def _use(memo: kopf.Memo, catalog: Any) -> None:
    engine: planning.Engine = memo["engine"]
    if engine.catalog.learned == catalog.learned and engine.catalog.examples == catalog.examples:
        return
    if engine.llm is not None and hasattr(engine.llm, "catalog"):
        engine.llm.catalog = catalog  # the LLM parser is shown the corrected examples
    memo["engine"] = dataclasses.replace(engine, catalog=catalog)
    log.info("parsing with %d learned phrases and %d corrected examples", len(catalog.learned), len(catalog.examples))


@kopf.on.event(resources.GROUP, resources.VERSION, resources.OPSREQUEST_PLURAL, id="feedback")
async def feedback_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    auditor: Auditor | None = getattr(memo.get("controller"), "audit", None)
    annotations: Mapping[str, str] = body["metadata"].get("annotations") or {}
    if auditor is not None and type == "DELETED":
        auditor.forget(body["metadata"]["uid"])
    if auditor is None or type == "DELETED" or not feedback.present(annotations):
        return
    engine: planning.Engine = memo["engine"]
    status = body.get("status") or {}
    current = conditions.find(status.get("conditions"), Type.FEEDBACK)
    try:
        given = feedback.read(annotations, catalog=engine.catalog)
    except feedback.FeedbackError as exc:
        message = str(exc)
        if current is None or current.get("message") != message:
            kopf.event(body, type="Warning", reason=Reason.INVALID_FEEDBACK, message=message)
            await _condition(body, Condition.false(Type.FEEDBACK, Reason.INVALID_FEEDBACK, message))
        return
    message = MESSAGE_FEEDBACK_RECORDED.format(digest=given.digest[:12])
    if current is not None and current.get("message") == message:
        return  # recorded already
    meta, spec = body["metadata"], body.get("spec") or {}
    auditor.recorder.submit_feedback(
        {
            "request_uid": meta["uid"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "requester": spec.get("requester"),
            "text": redact.redact(str(spec.get("request", ""))),
            "created": meta.get("creationTimestamp"),
            "digest": given.digest,
            "score": given.score,
            "intent_correct": given.intent_correct,
            "corrected_intent": dict(given.corrected_intent) if given.corrected_intent is not None else None,
            "comment": given.text,
            "intent": status.get("intent"),
        }
    )
    await _condition(body, Condition.true(Type.FEEDBACK, Reason.FEEDBACK_RECORDED, message))


async def _condition(body: kopf.Body, condition: Condition) -> None:
    generation = int(body["metadata"].get("generation", 1))
    now = datetime.datetime.now(datetime.UTC)
    updated = conditions.apply(
        (body.get("status") or {}).get("conditions"), [condition], generation=generation, now=now
    )
    try:
        await kube.acall(kube.write_status, dict(body), {"conditions": updated})
    except kube.ApiError as exc:
        if not exc.conflict:
            raise
        # the next event about the request tries again
