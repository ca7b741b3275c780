"""The context step of decided requests: in batches, and behind the decisions still waiting.

With the rule parser a request is decided without its context (retrieval is not on the path to
the decision); the context is retrieved afterwards and written as a step of its own. Done inside
each request's reconcile, a burst ran the embedding model once per request, on the same two
cores as the decisions still queued behind it. Here the step queues instead: a worker waits
until no request is being decided (``opsgate.controller.deferral``: at most ``max_defer``
seconds, so context is never starved),
retrieves for up to ``batch`` requests in one call of the model, and hands each result to that
request's next reconcile, which writes it like any other transition.

A queued request is kept as it was last seen while few wait (its delivery starts from that body:
its status write is guarded by the resourceVersion, so a stale one is read again), and as its name
and text only beyond ``KEEP_BODIES`` (a backlog of thousands queues behind the decisions; whole
bodies would hold tens of megabytes), so its reconcile reads it anew.

No Kubernetes here: ``retrieve`` and ``deliver`` are given (the kopf layer's), ``decisions`` are
the requests still being decided.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from opsgate.controller import deferral
from opsgate.controller.conditions import Condition

BATCH = 16  # requests per call of the embedding model
KEEP_BODIES = 16  # requests queued with their whole body (beyond: name and text only)

Context = tuple[list[dict[str, Any]], Condition]  # status.context and its ContextRetrieved condition


def _kept(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request as last seen, without its managedFields (nothing here reads them)."""
    meta = {key: value for key, value in request["metadata"].items() if key != "managedFields"}
    return {**request, "metadata": meta}


def _slim(request: Mapping[str, Any]) -> dict[str, Any]:
    """What retrieval and delivery need at least of a request: its name and its text."""
    meta = request["metadata"]
    return {
        "metadata": {"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta["uid"]},
        "spec": {"request": str((request.get("spec") or {}).get("request", ""))},
    }


log = logging.getLogger("opsgate")


class ContextBatch:
    def __init__(
        self,
        retrieve: Callable[[Sequence[Mapping[str, Any]]], Awaitable[list[Context]]],
        deliver: Callable[[Mapping[str, Any]], Awaitable[None]],  # given the request as queued
        *,
        decisions: deferral.Undecided,
        batch: int = BATCH,
        max_defer: float = deferral.MAX_DEFER,
        keep_bodies: int = KEEP_BODIES,
    ) -> None:
        self._retrieve, self._deliver, self._decisions = retrieve, deliver, decisions
        self._batch, self._max_defer, self._keep_bodies = batch, max_defer, keep_bodies
        self._waiting: dict[str, Mapping[str, Any]] = {}  # uid -> the request as last seen, in arrival order
        self._retrieving: set[str] = set()  # uids whose context is being retrieved or delivered now
        self._ready: dict[str, Context] = {}  # uid -> retrieved, until its reconcile has run
        self._wake = asyncio.Event()
        self._retrieved = asyncio.Condition()  # notified after each batch's retrieval (or its failure)

    def want(self, request: Mapping[str, Any]) -> None:
        """Queue ``request``'s context step (once: a request already queued keeps its place)."""
        uid = request["metadata"]["uid"]
        if uid not in self._ready and uid not in self._retrieving:
            if uid not in self._waiting:
                keep = len(self._waiting) < self._keep_bodies and "status" in request
                self._waiting[uid] = _kept(request) if keep else _slim(request)
            self._wake.set()

    def ready(self, uid: str) -> Context | None:
        """The context retrieved for ``uid``, while its delivery runs (a conflict's retry finds it too)."""
        return self._ready.get(uid)

    async def retrieved(self, uid: str) -> Context | None:
        """The context of ``uid`` once retrieved, if it is queued or being retrieved (else at once).

        For a write due anyway that would rather carry the context than leave it to a write of its
        own (an allowed request's Running, written right after its Job is created); the caller
        bounds the wait.
        """

        def settled() -> bool:
            return uid in self._ready or (uid not in self._waiting and uid not in self._retrieving)

        async with self._retrieved:
            await self._retrieved.wait_for(settled)
        return self._ready.get(uid)

    def written(self, uid: str) -> None:
        """``uid``'s context was written (by its delivery, or with a step due anyway): nothing to deliver."""
        self._ready.pop(uid, None)

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, uid: object) -> bool:
        """Is ``uid``'s context step queued or being delivered? Then its events need no reconcile."""
        return uid in self._waiting or uid in self._retrieving or uid in self._ready

    async def run(self) -> None:
        """Work the queue until cancelled."""
        while True:
            await self._wake.wait()
            await self._decisions.behind(max_defer=self._max_defer)
            uids = list(self._waiting)[: self._batch]
            bodies = [self._waiting.pop(uid) for uid in uids]
            self._retrieving.update(uids)
            if not self._waiting:
                self._wake.clear()
            try:
                found = await self._retrieve(bodies)
                self._ready.update(zip(uids, found, strict=True))
                await self._settled()  # before the deliveries: a write waiting for one carries it
                await asyncio.gather(*(self._deliver(body) for body in bodies))
            except Exception:  # the requests stay context-pending; their next event queues them again
                log.exception("the context step of %d request(s) failed", len(bodies))
            finally:
                self._retrieving.difference_update(uids)
                for uid in uids:
                    self._ready.pop(uid, None)  # written, or the request is gone
                await self._settled()

    async def _settled(self) -> None:
        """Wake whoever waits in :meth:`retrieved`."""
        async with self._retrieved:
            self._retrieved.notify_all()
